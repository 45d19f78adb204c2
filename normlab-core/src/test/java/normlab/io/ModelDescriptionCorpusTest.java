package normlab.io;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import normlab.nn.Module;
import normlab.tensor.Rng;
import normlab.models.MnistMlp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A corpus of crafted bad model descriptions ({@code model.json}) and mismatched model files. The contract:
 * {@link ModelFiles} builds the model or throws {@link ModelFileException} naming the file and the defect; any other
 * exception (including an OutOfMemoryError from an absurd layer size, or a StackOverflowError from nesting) is a bug.
 */
class ModelDescriptionCorpusTest {
    @TempDir
    Path dir;

    static String model(String node) {
        return "{\"format\":\"normlab-model\",\"version\":1,\"model\":" + node + "}";
    }

    static String linear(String in, String out) {
        return "{\"type\":\"Linear\",\"args\":{\"in_features\":" + in + ",\"out_features\":" + out + ",\"bias\":true}}";
    }

    static Arguments c(String name, String json, String fragment) {
        return Arguments.of(name, json, fragment);
    }

    /** The corpus: one row per bad description (a table, hence longer than 80 lines). */
    static Stream<Arguments> corpus() {
        return Stream.of(
                c("empty", "", "expected a JSON object"),
                c("not JSON", "{\"format\":", "not valid JSON"),
                c("array", "[]", "expected a JSON object"),
                c("wrong format", "{\"format\":\"onnx\",\"version\":1,\"model\":{}}", "\"format\" must be"),
                c("format not a string", "{\"format\":{},\"version\":1}", "\"format\" must be"),
                c("future version", "{\"format\":\"normlab-model\",\"version\":7,\"model\":{}}", "unsupported \"version\" 7"),
                c("version a string", "{\"format\":\"normlab-model\",\"version\":\"1\",\"model\":{}}", "version"),
                c("version fractional", "{\"format\":\"normlab-model\",\"version\":1.5,\"model\":{}}", "version"),
                c("version huge", "{\"format\":\"normlab-model\",\"version\":1e99,\"model\":{}}", "version"),
                c("no model", "{\"format\":\"normlab-model\",\"version\":1}", "expected a layer object"),
                c("unknown type", model("{\"type\":\"Transformer\",\"args\":{}}"), "unknown layer type 'Transformer'"),
                c("type not a string", model("{\"type\":[1],\"args\":{}}"), "type"),
                c("missing argument", model("{\"type\":\"Linear\",\"args\":{\"in_features\":3}}"), "missing argument 'out_features'"),
                c("argument of the wrong type", model(linear("\"three\"", "2")), "'in_features' must be an integer"),
                c("argument too large for an int", model(linear("3000000000", "2")), "'in_features' must be an integer"),
                c("negative features", model(linear("-3", "2")), "sizes must be positive"),
                c("absurd layer", model(linear("2000000000", "2000000000")), "Linear"),
                c("large but addressable layer", model(linear("46000", "46000")), "Linear"),
                c("BatchNorm eps 0", model("{\"type\":\"BatchNorm1d\",\"args\":{\"num_features\":4,\"eps\":0,\"momentum\":0.1,"
                        + "\"affine\":true,\"track_running_stats\":true}}"), "eps must be > 0"),
                c("BatchNorm momentum 2", model("{\"type\":\"BatchNorm1d\",\"args\":{\"num_features\":4,\"eps\":1e-5,\"momentum\":2,"
                        + "\"affine\":true,\"track_running_stats\":true}}"), "momentum must be in [0, 1]"),
                c("children not an array", model("{\"type\":\"Sequential\",\"args\":{},\"children\":{}}"), "\"children\" must be an array"),
                c("leaf with children", model("{\"type\":\"ReLU\",\"args\":{},\"children\":[{\"type\":\"ReLU\",\"args\":{}}]}"),
                        "takes no children"),
                c("deep nesting", model("{\"type\":\"Sequential\",\"args\":{},\"children\":[".repeat(5000)), "JSON"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corpus")
    void refusesWithAModelFileException(String name, String json, String fragment) throws IOException {
        Path j = dir.resolve("model.json");
        Files.writeString(j, json, StandardCharsets.UTF_8);
        ModelFileException e;
        try {
            e = assertThrows(ModelFileException.class, () -> ModelFiles.buildFromDescription(j), name);
        } catch (Throwable t) {
            throw new AssertionError(name + ": " + t, t);
        }
        assertTrue(e.getMessage().contains(j.toString()), "message should name the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(fragment), name + ": message lacks \"" + fragment + "\": " + e.getMessage());
    }

    /** Weights that do not fit their description: all problems at once, as a ModelFileException. */
    @Test
    void weightsThatDoNotMatchTheDescription() throws IOException {
        Module mlp = MnistMlp.build(true, 1.0, new Rng(1));
        Path f = dir.resolve("m.safetensors");
        ModelFiles.save(mlp, f);
        Path j = ModelFiles.descriptionPath(f);
        String desc = Files.readString(j);
        Files.writeString(j, desc.replaceFirst("\"out_features\": 100", "\"out_features\": 99")
                .replaceFirst("\"num_features\": 100", "\"num_features\": 98"));
        ModelFileException e = assertThrows(ModelFileException.class, () -> ModelFiles.load(f));
        assertTrue(e.getMessage().contains("'0.weight' has shape [100, 784], the model expects [99, 784]"), e.getMessage());
        assertTrue(e.getMessage().contains("'1.running_mean' has shape [100], the model expects [98]"), e.getMessage());
    }

    /** Random corruption of a real description: only ModelFileException, or a model equal in structure. */
    @Test
    void randomCorruptionGivesOnlyDocumentedErrors() throws IOException {
        Module mlp = MnistMlp.build(true, 1.0, new Rng(1));
        Path f = dir.resolve("m.safetensors");
        ModelFiles.save(mlp, f);
        byte[] good = Files.readAllBytes(ModelFiles.descriptionPath(f));
        Path j = dir.resolve("c.json");
        Rng rng = new Rng(3);
        int refused = 0;
        for (int iter = 0; iter < 400; iter++) {
            byte[] b = good.clone();
            for (int k = 1 + rng.nextInt(3); k > 0; k--) b[rng.nextInt(b.length)] = (byte) (32 + rng.nextInt(95));
            Files.write(j, b);
            try {
                ModelFiles.buildFromDescription(j);
            } catch (ModelFileException expected) {
                refused++;
            } catch (RuntimeException | IOException | Error other) {
                fail("iteration " + iter + ": undocumented " + other + " for " + new String(b, StandardCharsets.UTF_8), other);
            }
        }
        assertTrue(refused > 100, "only " + refused + " of 400 corruptions refused");
    }
}
