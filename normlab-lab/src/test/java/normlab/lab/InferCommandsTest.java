package normlab.lab;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import normlab.io.ModelFiles;
import normlab.io.Safetensors;
import normlab.nn.Activation;
import normlab.nn.Identity;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm1d;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code normlab fold} and {@code normlab recalibrate} on saved models. */
class InferCommandsTest {
    @TempDir
    Path tmp;

    private static Tensor randn(Rng r, int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.data.length; i++) t.data[i] = (float) r.nextGaussian();
        return t;
    }

    private Path savedModel(Module m) throws Exception {
        Path f = tmp.resolve("model.safetensors");
        ModelFiles.save(m, f);
        return f;
    }

    private static Sequential mlp(Rng r) {
        Sequential m = new Sequential(new Linear(6, 5, r), new BatchNorm1d(5), new Activation.ReLU(), new Linear(5, 3, r));
        BatchNorm1d bn = (BatchNorm1d) m.get(1);
        for (int c = 0; c < 5; c++) {
            bn.runningMean.data[c] = (float) r.nextGaussian();
            bn.runningVar.data[c] = (float) (0.5 + r.nextDouble());
            bn.weight.value.data[c] = (float) (0.5 + r.nextDouble());
            bn.bias.value.data[c] = (float) r.nextGaussian();
        }
        m.eval();
        return m;
    }

    @Test
    void foldWritesAnEquivalentModel() throws Exception {
        Rng r = new Rng(1);
        Sequential m = mlp(r);
        Path in = savedModel(m), out = tmp.resolve("folded.safetensors");
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        int code = MnistEndToEndTest.run(console, "fold", in.toString(), "--out", out.toString());
        String text = console.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, text);
        assertTrue(text.contains("folded BatchNorm1d '1' into Linear '0'"), text);
        Module f = ModelFiles.load(out);
        assertInstanceOf(Identity.class, ((Sequential) f).get(1));
        Tensor x = randn(r, 7, 6);
        Tensor a = f.forward(x), b = m.forward(x);
        double maxRef = 0, maxDiff = 0;
        for (int i = 0; i < a.data.length; i++) {
            maxRef = Math.max(maxRef, Math.abs(b.data[i]));
            maxDiff = Math.max(maxDiff, Math.abs(a.data[i] - b.data[i]));
        }
        assertTrue(maxDiff <= 1e-5 * maxRef, "rel err " + maxDiff / maxRef);
    }

    @Test
    void foldRefusalIsReportedAndNothingIsWritten() throws Exception {
        Rng r = new Rng(2);
        Path in = savedModel(new Sequential(new Linear(4, 4, r), new Activation.Tanh(), new BatchNorm1d(4)));
        Path out = tmp.resolve("folded.safetensors");
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        int code = MnistEndToEndTest.run(console, "fold", in.toString(), "--out", out.toString());
        String text = console.toString(StandardCharsets.UTF_8);
        assertEquals(2, code, text);
        assertTrue(text.contains("cannot fold BatchNorm1d '2' into Linear '0': Tanh '1' lies between them"), text);
        assertFalse(Files.exists(out));
        code = MnistEndToEndTest.run(new ByteArrayOutputStream(), "fold", in.toString(), "--out", out.toString(), "--skip-unfoldable");
        assertEquals(0, code);
        assertInstanceOf(BatchNorm1d.class, ((Sequential) ModelFiles.load(out)).get(2));
    }

    @Test
    void recalibrateFromATensorFileGivesTheExactStatistics() throws Exception {
        Rng r = new Rng(3);
        Sequential m = mlp(r);
        Path in = savedModel(m), out = tmp.resolve("recal.safetensors"), data = tmp.resolve("inputs.safetensors");
        Tensor inputs = randn(r, 300, 6);
        for (int i = 0; i < inputs.data.length; i++) inputs.data[i] = inputs.data[i] * 2 + 3;
        Safetensors.write(data, Map.of("inputs", inputs), Map.of());
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        int code = MnistEndToEndTest.run(console, "recalibrate", in.toString(), "--data", data.toString(), "--batches", "3",
                "--batch-size", "100", "--out", out.toString());
        String text = console.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, text);
        BatchNorm1d bn = (BatchNorm1d) ((Sequential) ModelFiles.load(out)).get(1);
        Tensor h = m.get(0).forward(inputs);
        for (int c = 0; c < 5; c++) {
            double s = 0, q = 0;
            for (int i = 0; i < 300; i++) s += h.data[i * 5 + c];
            double mean = s / 300;
            for (int i = 0; i < 300; i++) q += (h.data[i * 5 + c] - mean) * (h.data[i * 5 + c] - mean);
            assertEquals(mean, bn.runningMean.data[c], 1e-6 * Math.max(1, Math.abs(mean)), "mean " + c);
            assertEquals(q / 299, bn.runningVar.data[c], 1e-6 * Math.max(1, q / 299), "var " + c);
        }
    }

    @Test
    void recalibrateOnMnistReportsAccuracy() throws Exception {
        Rng r = new Rng(4);
        Sequential m = new Sequential(new Linear(784, 16, r), new BatchNorm1d(16), new Activation.ReLU(), new Linear(16, 10, r));
        m.eval();
        Path in = savedModel(m), out = tmp.resolve("recal.safetensors");
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        int code = MnistEndToEndTest.run(console, "recalibrate", in.toString(), "--data", "mnist", "--split", "test",
                "--batches", "5", "--out", out.toString());
        String text = console.toString(StandardCharsets.UTF_8);
        assertEquals(0, code, text);
        assertTrue(text.contains("BatchNorm1d '1'") && text.contains("500") && text.contains("accuracy on the train split"), text);
        assertTrue(Files.exists(out));
    }

    @Test
    void missingModelIsAClearError() {
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        int code = MnistEndToEndTest.run(console, "fold", tmp.resolve("nope.safetensors").toString(), "--out", tmp.resolve("o.safetensors").toString());
        assertEquals(3, code);
        assertTrue(console.toString(StandardCharsets.UTF_8).contains("model weights not found"));
    }
}
