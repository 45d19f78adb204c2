package normlab.io.onnx;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import normlab.nn.Activation;
import normlab.nn.Module;
import normlab.nn.MultiheadAttention;
import normlab.nn.Parameter;
import normlab.nn.Sequential;
import normlab.tensor.Rng;
import normlab.transformer.TransformerEncoderLayer;
import normlab.transformer.VisionTransformer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * GELU, MultiheadAttention, TransformerEncoderLayer and VisionTransformer through ONNX Runtime (opset 17: MatMul,
 * Softmax, Erf, LayerNormalization, …). Metric as {@link OnnxExportTest}: max |ort − normlab| / max(1, max |normlab|)
 * ≤ 1e-5 at batch 1 and a larger batch, every parameter (and BatchNorm's running statistics) moved off its default.
 */
class OnnxTransformerTest {
    static final double TOL = 1e-5;

    @TempDir
    Path dir;

    static void randomize(Module m, Rng rng) {
        Ort.randomizeNorms(m, rng);
        for (Parameter p : m.parameters()) {
            if (p.kind != Parameter.Kind.NORM) for (int i = 0; i < p.value.numel(); i++) p.value.data[i] += (float) (0.1 * rng.nextGaussian());
        }
    }

    double check(Module m, int[] inShape, String file, long seed) throws Exception {
        Rng rng = new Rng(seed);
        randomize(m, rng);
        double err = OnnxExportTest.compare(m, inShape, dir.resolve(file), rng, 4);
        assertTrue(err <= TOL, file + ": ORT vs normlab rel err " + err);
        return err;
    }

    @ParameterizedTest
    @ValueSource(strings = {"none", "tanh"})
    void gelu(String approximate) throws Exception {
        check(new Activation.GELU(approximate), new int[] {3, 7}, "gelu_" + approximate + ".onnx", 1);
        List<String> ops = OnnxFamilyTest.ops(dir.resolve("gelu_" + approximate + ".onnx"));
        assertTrue(ops.contains(approximate.equals("none") ? "Erf" : "Tanh"), ops.toString());
    }

    @Test
    void selfAttention() throws Exception {
        check(new MultiheadAttention(12, 3, new Rng(2)), new int[] {5, 12}, "mha.onnx", 2);
        List<String> ops = OnnxFamilyTest.ops(dir.resolve("mha.onnx"));
        assertTrue(ops.contains("Softmax") && ops.contains("MatMul"), ops.toString());
    }

    @ParameterizedTest(name = "norm_first={0} {1} {2}")
    @CsvSource({"false, LayerNorm, relu", "true, LayerNorm, gelu", "true, RMSNorm, gelu", "false, RMSNorm, relu",
            "true, BatchNorm1d, relu"})
    void encoderLayers(boolean normFirst, String norm, String act) throws Exception {
        Rng rng = new Rng(3);
        TransformerEncoderLayer.Norm n = TransformerEncoderLayer.Norm.named(norm);
        Sequential m = new Sequential(new TransformerEncoderLayer(8, 2, 16, 0.0, act, 1e-5, normFirst, n, rng),
                new TransformerEncoderLayer(8, 4, 12, 0.0, act, 1e-5, normFirst, n, rng));
        check(m, new int[] {6, 8}, "enc.onnx", 3);
    }

    @ParameterizedTest(name = "class_token={0}")
    @ValueSource(booleans = {true, false})
    void visionTransformer(boolean classToken) throws Exception {
        VisionTransformer vit = new VisionTransformer(8, 1, 4, 8, 2, 2, 16, 5, true, TransformerEncoderLayer.Norm.LAYER_NORM,
                classToken, new Rng(4));
        check(vit, new int[] {1, 8, 8}, "vit.onnx", 4);
        check(vit, new int[] {64}, "vit_flat.onnx", 5);
    }
}
