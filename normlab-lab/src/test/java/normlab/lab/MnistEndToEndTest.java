package normlab.lab;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import normlab.io.Safetensors;
import normlab.lab.report.MnistReport;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code normlab mnist} end to end on a slice of real MNIST (fetched by the same fetcher as the main job, cached
 * afterwards): a few hundred steps must lift the BN network well above chance, and every output file must be written
 * and well formed.
 */
class MnistEndToEndTest {
    @BeforeAll
    static void headless() {
        System.setProperty("java.awt.headless", "true");
    }

    /** Runs the CLI, returning its exit code; stdout and stderr go to {@code out}. */
    static int run(ByteArrayOutputStream out, String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        PrintStream ps = new PrintStream(out, true, StandardCharsets.UTF_8);
        System.setOut(ps);
        System.setErr(ps);
        try {
            return Main.commandLine().execute(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void shortRunLearnsAndWritesEveryFile(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("run");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code = run(out, "mnist", "--steps", "400", "--eval-every", "100", "--train-size", "6000", "--test-size", "1000",
                "--threads", "2", "--out", dir.toString());
        String console = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, console);

        for (String f : MnistReport.files()) {
            Path p = dir.resolve(f);
            assertTrue(Files.isRegularFile(p) && Files.size(p) > 0, "missing or empty: " + f + "\n" + console);
        }
        try (var s = Files.list(dir)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")), "temporary files left in " + dir);
        }

        JsonObject j = JsonParser.parseString(Files.readString(dir.resolve("summary.json"))).getAsJsonObject();
        double bn = j.get("bn_final_accuracy").getAsDouble(), base = j.get("baseline_final_accuracy").getAsDouble();
        assertTrue(bn > 0.7, "BN accuracy after 400 steps should be far above chance (0.1): " + bn);
        assertTrue(base >= 0 && base <= 1, "baseline accuracy " + base);
        assertEquals(400, j.getAsJsonObject("parameters").get("steps").getAsInt());
        // Wall-clock figures live apart (timing.json), so summary.json depends on the options alone.
        assertTrue(!j.has("wall_seconds") && !j.has("bn_steps_per_second"), j.toString());
        JsonObject t = JsonParser.parseString(Files.readString(dir.resolve("timing.json"))).getAsJsonObject();
        assertTrue(t.get("wall_seconds").getAsDouble() > 0);
        assertTrue(t.get("bn_steps_per_second").getAsDouble() > 0 && t.get("baseline_steps_per_second").getAsDouble() > 0);
        assertEquals("complete", JsonParser.parseString(Files.readString(dir.resolve("run.json"))).getAsJsonObject().get("state").getAsString());
        if (j.get("baseline_at_chance").getAsBoolean()) {
            assertTrue(j.get("speedup").isJsonNull(), "no speedup while the baseline is at chance");
        } else if (!j.get("bn_steps_to_baseline_final").isJsonNull()) {
            int s = j.get("bn_steps_to_baseline_final").getAsInt();
            assertEquals(400.0 / s, j.get("speedup").getAsDouble(), 1e-9);
        }

        // metrics.csv: header + (step 0 and 4 evaluations) per variant, accuracies in [0, 1], percentiles ordered.
        List<String> csv = Files.readAllLines(dir.resolve("metrics.csv"));
        assertEquals("variant,step,train_loss,test_loss,test_accuracy,p15,p50,p85", csv.get(0));
        assertEquals(1 + 2 * 5, csv.size(), String.join("\n", csv));
        for (String line : csv.subList(1, csv.size())) {
            String[] c = line.split(",", -1);
            double acc = Double.parseDouble(c[4]), p15 = Double.parseDouble(c[5]), p50 = Double.parseDouble(c[6]),
                    p85 = Double.parseDouble(c[7]);
            assertTrue(acc >= 0 && acc <= 1 && p15 <= p50 && p50 <= p85, line);
        }
        assertTrue(csv.get(csv.size() - 1).startsWith("bn,400,"), csv.get(csv.size() - 1));

        // Charts: real PNGs and SVGs; the report links all of them by relative path.
        byte[] png = Files.readAllBytes(dir.resolve("fig1a_accuracy.png"));
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(png, 4));
        assertTrue(Files.readString(dir.resolve("fig1b_baseline_percentiles.svg")).contains("<svg"));
        String html = Files.readString(dir.resolve("report.html"));
        for (String f : List.of("fig1a_accuracy.png", "fig1b_baseline_percentiles.png", "fig1c_bn_percentiles.png",
                "metrics.csv", "summary.json")) {
            assertTrue(html.contains("\"" + f + "\""), "report.html does not link " + f);
        }
        assertTrue(!html.contains(dir.toString()), "report.html must use relative paths");

        // Checkpoints load, with PyTorch's keys.
        var ck = Safetensors.read(dir.resolve("bn.safetensors")).tensors();
        assertTrue(ck.containsKey("1.running_mean") && ck.containsKey("9.bias") && !ck.containsKey("0.bias"), ck.keySet().toString());
        assertEquals(400f, ck.get("1.num_batches_tracked").data[0]);
        assertTrue(Safetensors.read(dir.resolve("baseline.safetensors")).tensors().containsKey("0.bias"));
        // The weights file is a plain state dict (PyTorch's strict load_state_dict takes it); the training state is in
        // the separate checkpoint.
        assertTrue(ck.keySet().stream().noneMatch(k -> k.contains("/")), ck.keySet().toString());
        var train = Safetensors.read(dir.resolve(MnistReport.trainingCheckpoint(true))).tensors();
        assertTrue(train.containsKey("extra/sampler/order") && train.containsKey("1.running_mean"), train.keySet().toString());

        // The console ends with the summary table.
        assertTrue(console.contains("final test accuracy") && console.contains("report.html"), console);
    }

    @Test
    void badDataDirectoryNamesWhatIsMissing(@TempDir Path tmp) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code = run(out, "mnist", "--data", tmp.toString(), "--out", tmp.resolve("run").toString());
        String msg = out.toString(StandardCharsets.UTF_8);
        assertEquals(3, code, msg);
        assertTrue(msg.contains("train-images-idx3-ubyte") && msg.contains(tmp.toString()), msg);
    }

    @Test
    void existingRunDirectoryIsRefusedUnlessForced(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("run");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("summary.json"), "{}");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(4, run(out, "mnist", "--steps", "2", "--eval-every", "1", "--train-size", "600", "--test-size", "100",
                "--out", dir.toString()));
        String msg = out.toString(StandardCharsets.UTF_8).trim();
        assertTrue(msg.contains("--force") && msg.contains(dir.toString()) && !msg.contains("\n"), msg);
        assertEquals("{}", Files.readString(dir.resolve("summary.json")), "the existing run must be untouched");
        ByteArrayOutputStream forced = new ByteArrayOutputStream();
        assertEquals(0, run(forced, "mnist", "--steps", "2", "--eval-every", "1", "--train-size", "600", "--test-size", "100",
                "--out", dir.toString(), "--force"), forced.toString(StandardCharsets.UTF_8));
        assertTrue(Files.readString(dir.resolve("summary.json")).contains("bn_final_accuracy"));
    }

    @Test
    void invalidOptionsAreRejected(@TempDir Path tmp) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(2, run(out, "mnist", "--batch", "1", "--out", tmp.toString()));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("--batch"));
    }
}
