package normlab.lab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import normlab.io.ModelFiles;
import normlab.lab.Main;
import normlab.models.MnistMlp;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm1d;
import normlab.tensor.Rng;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code normlab bench-infer} on a saved BN MLP with tiny chunks: exit 0, a row per (batch, threads, engine) including
 * the unfolded and no-BN rows, normlab's outputs within 1e-5 of ONNX Runtime's, and the CSV.
 */
class BenchInferCommandTest {
    @TempDir
    Path dir;

    @Test
    void timesNormlabAgainstOnnxRuntimeAndWritesTheCsv() throws Exception {
        Rng rng = new Rng(8);
        Sequential m = MnistMlp.build(true, 0.1, rng);
        for (var l : m.layers()) {
            if (l instanceof BatchNorm1d bn) {
                for (int c = 0; c < bn.runningVar.numel(); c++) {
                    bn.runningMean.data[c] = (float) (0.2 * rng.nextGaussian());
                    bn.runningVar.data[c] = (float) (0.5 + rng.nextDouble());
                }
            }
        }
        Path weights = dir.resolve("bn.safetensors"), csv = dir.resolve("out.csv");
        ModelFiles.save(m, weights);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream old = System.out;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        int code;
        try {
            code = Main.commandLine().execute("bench-infer", weights.toString(), "--batch", "1,3", "--threads", "1", "--reps", "2",
                    "--chunk-ms", "2", "--unfolded", "--out", csv.toString());
        } finally {
            System.setOut(old);
        }
        String s = out.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, s);
        assertTrue(s.contains("Linear 784→100 + SIGMOID"), s);
        List<String> rows = Files.readAllLines(csv);
        assertEquals(1 + 2 * 4, rows.size(), String.join("\n", rows));
        for (String r : rows.subList(1, rows.size())) {
            String[] f = r.split(",", -1);
            assertTrue(Double.parseDouble(f[4]) > 0 && Double.parseDouble(f[6]) > 0, r);
            if (f[3].equals("normlab")) assertTrue(Double.parseDouble(f[10]) < 1e-5, "output difference: " + r);
        }
        assertTrue(rows.stream().anyMatch(r -> r.contains(",normlab no-bn,")) && rows.stream().anyMatch(r -> r.contains(",normlab bn-eval,")));
    }
}
