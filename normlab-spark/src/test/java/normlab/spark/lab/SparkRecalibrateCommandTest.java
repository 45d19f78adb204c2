package normlab.spark.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import normlab.io.ModelFiles;
import normlab.lab.Main;
import normlab.models.MnistMlp;
import normlab.nn.Module;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code normlab recalibrate --spark}: the same options and outputs as the local command, the statistics computed by
 * Spark executors; it writes the model file the local command writes (every tensor within 1e-6), and bad input is one
 * line with no stack trace.
 */
@Tag("spark")
class SparkRecalibrateCommandTest {
    /** Runs {@code normlab args…} in this JVM; stdout and stderr together. */
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
    void sparkWritesTheLocalModelFile(@TempDir Path tmp) throws Exception {
        // The paper's BN MLP with running statistics far from the data's (never trained): recalibration changes them.
        Module m = MnistMlp.build(true, 0.05, new Rng(3));
        Path model = tmp.resolve("m.safetensors"), local = tmp.resolve("local.safetensors"), spark = tmp.resolve("spark.safetensors");
        ModelFiles.save(m, model);
        String[] common = {"recalibrate", model.toString(), "--data", "fashion", "--batches", "12", "--batch-size", "50", "--seed", "7"};
        ByteArrayOutputStream a = new ByteArrayOutputStream(), b = new ByteArrayOutputStream();
        assertEquals(0, run(a, concat(common, "--out", local.toString())), a.toString(StandardCharsets.UTF_8));
        // --spark last and without a master: local[N], N the cores.
        assertEquals(0, run(b, concat(common, "--out", spark.toString(), "--spark")), b.toString(StandardCharsets.UTF_8));
        Map<String, Tensor> x = ModelFiles.load(local).stateDict(), y = ModelFiles.load(spark).stateDict();
        assertEquals(x.keySet(), y.keySet());
        double worst = 0;
        int changed = 0;
        Map<String, Tensor> before = m.stateDict();
        for (String k : x.keySet()) {
            float[] p = x.get(k).data, q = y.get(k).data;
            assertEquals(p.length, q.length, k);
            for (int i = 0; i < p.length; i++) worst = Math.max(worst, Math.abs(p[i] - q[i]) / Math.max(1, Math.abs(p[i])));
            if (k.endsWith("running_var") && !java.util.Arrays.equals(p, before.get(k).data)) changed++;
        }
        assertEquals(3, changed, "the three BatchNorm1d layers must have been recalibrated");
        assertTrue(worst <= 1e-6, "largest difference " + worst);
        System.out.println("recalibrate --spark vs local: largest difference " + worst);
        // The same report: the table of changes and the accuracy before and after.
        List<String> la = lines(a), lb = lines(b);
        assertEquals(la.stream().filter(l -> l.startsWith("accuracy on the test split")).toList(),
                lb.stream().filter(l -> l.startsWith("accuracy on the test split")).toList());
        assertEquals(la.stream().filter(l -> l.matches("\\d+ BatchNorm layer.*")).map(l -> l.replace("local.safetensors", "")).toList(),
                lb.stream().filter(l -> l.matches("\\d+ BatchNorm layer.*")).map(l -> l.replace("spark.safetensors", "")).toList());
    }

    @Test
    void badMasterAndMissingFileAreOneLine(@TempDir Path tmp) throws Exception {
        Path model = tmp.resolve("m.safetensors");
        ModelFiles.save(MnistMlp.build(true, 0.05, new Rng(3)), model);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        // A positional argument taken for the master names the fix.
        assertEquals(2, run(out, "recalibrate", "--spark", model.toString(), "--data", "fashion", "--out", tmp.resolve("o.safetensors").toString()));
        assertOneLine(out, "normlab recalibrate: Invalid value for option '--spark': '" + model + "' is not a Spark master (local[N], local[*], "
                + "spark://HOST:PORT, yarn, k8s://URL); write --spark=MASTER or put --spark after the other arguments");
        out.reset();
        assertEquals(2, run(out, "recalibrate", model.toString(), "--data", "fashion", "--out", tmp.resolve("o.safetensors").toString(), "--spark=local[0]"));
        assertOneLine(out, "normlab recalibrate: Invalid value for option '--spark': 'local[0]' is not a Spark master");
        out.reset();
        Path missing = tmp.resolve("none.safetensors");
        assertEquals(3, run(out, "recalibrate", missing.toString(), "--data", "fashion", "--out", tmp.resolve("o.safetensors").toString(), "--spark=local[2]"));
        assertOneLine(out, "normlab recalibrate: " + missing + ": model weights not found");
        out.reset();
        // A data file of the wrong shape: the executors' error, as one line.
        Path bad = tmp.resolve("bad.safetensors");
        normlab.io.Safetensors.write(bad, Map.of("inputs", Tensor.zeros(200, 28)), Map.of());
        assertEquals(2, run(out, "recalibrate", model.toString(), "--data", bad.toString(), "--batches", "2", "--out",
                tmp.resolve("o.safetensors").toString(), "--spark=local[2]"));
        String text = out.toString(StandardCharsets.UTF_8);
        assertTrue(lines(out).size() == 1 && text.startsWith("normlab recalibrate: ") && text.contains("784"), text);
        assertFalse(text.contains("\tat "), text);
    }

    static void assertOneLine(ByteArrayOutputStream out, String prefix) {
        String text = out.toString(StandardCharsets.UTF_8);
        List<String> ls = lines(out);
        assertEquals(1, ls.size(), text);
        assertTrue(ls.get(0).startsWith(prefix), text);
        assertFalse(text.contains("\tat "), text);
    }

    /** The output's lines, without the JVM's and Spark's warnings. */
    static List<String> lines(ByteArrayOutputStream out) {
        return out.toString(StandardCharsets.UTF_8).lines().filter(l -> !l.startsWith("WARNING") && !l.matches("\\d\\d:\\d\\d:\\d\\d WARN .*")).toList();
    }

    static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
