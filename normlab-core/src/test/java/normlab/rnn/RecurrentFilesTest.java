package normlab.rnn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import normlab.io.ModelFiles;
import normlab.io.Safetensors;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Recurrent models in files: model.json + safetensors round trips give bit-identical outputs, and the plain LSTM/GRU
 * models load with PyTorch's strict {@code load_state_dict} into {@code nn.LSTM} / {@code nn.GRU}
 * (tools/interop/torch_interop.py {@code check DIR}: PyTorch's outputs on normlab's inputs within
 * max|Δ|/max|normlab| ≤ 1e-5). Needs Debian's PyTorch at /usr/bin/python3 (fails, never skips, without it).
 */
class RecurrentFilesTest {
    @TempDir
    Path tmp;

    static Sequential lstmClassifier(Rng r) {
        return new Sequential(new Unflatten(6, 4), new LSTM(4, 5, 2, true, r), new LastStep(), new Linear(5, 3, r));
    }

    static Sequential gruTimeMajor(Rng r) {
        return new Sequential(new GRU(3, 4, 2, false, r), new LSTM(4, 3, 1, false, r));
    }

    @Test
    void modelFilesRoundTrip() throws Exception {
        Rng r = new Rng(8);
        NormLSTM bn = new NormLSTM(NormLSTM.Kind.BATCH, 4, 5, 6, true, r);
        Module[] models = {lstmClassifier(r), gruTimeMajor(r), new Sequential(new Unflatten(6, 4), bn, new LastStep())};
        Tensor[] inputs = {RecurrentGradCheckTest.randn(r, 1, 3, 24), RecurrentGradCheckTest.randn(r, 1, 5, 2, 3),
                RecurrentGradCheckTest.randn(r, 1, 4, 24)};
        models[2].forward(inputs[2]); // running statistics away from their start
        for (int i = 0; i < models.length; i++) {
            Module m = models[i];
            m.eval();
            Path f = tmp.resolve("m" + i + ".safetensors");
            ModelFiles.save(m, f);
            Module back = ModelFiles.load(f);
            back.eval();
            assertEquals(m.toString(), back.toString());
            assertArrayEquals(m.forward(inputs[i]).data, back.forward(inputs[i]).data, "model " + i + ": " + m);
        }
        assertTrue(Files.readString(ModelFiles.descriptionPath(tmp.resolve("m2.safetensors"))).contains("\"norm\": \"batch\""));
    }

    /** One Python process (its start and torch's import are most of the time): {@code check DIR} checks every model in DIR. */
    @Test
    void plainModelsLoadStrictlyIntoPyTorch() throws Exception {
        requireTorch();
        Rng r = new Rng(9);
        Path dir = Files.createDirectories(tmp.resolve("torch"));
        write(dir, "lstm_classifier", lstmClassifier(r), RecurrentGradCheckTest.randn(r, 1, 4, 24));
        write(dir, "gru_lstm_time_major", gruTimeMajor(r), RecurrentGradCheckTest.randn(r, 1, 5, 3, 3));
        String[] out = python(script().toString(), "check", dir.toString());
        assertEquals("0", out[0], "PyTorch's strict load or outputs differ:\n" + out[1]);
        assertTrue(out[1].contains("lstm_classifier: ok") && out[1].contains("gru_lstm_time_major: ok"), out[1]);
    }

    private static void write(Path dir, String name, Module m, Tensor x) throws Exception {
        m.eval();
        ModelFiles.save(m, dir.resolve(name + ".safetensors"));
        Safetensors.write(dir.resolve(name + "_io.safetensors"), Map.of("inputs", x, "outputs", m.forward(x)), Map.of());
    }

    static void requireTorch() throws Exception {
        if (!Files.isExecutable(Path.of("/usr/bin/python3"))) fail("/usr/bin/python3 not found: apt-get install python3-torch");
        String[] r = python("-c", "import torch");
        if (!r[0].equals("0")) fail("PyTorch is not importable by /usr/bin/python3 (apt-get install python3-torch): " + r[1].trim());
    }

    static String[] python(String... args) throws Exception {
        String[] cmd = new String[args.length + 1];
        cmd[0] = "/usr/bin/python3";
        System.arraycopy(args, 0, cmd, 1, args.length);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] text = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "python timed out");
        return new String[] {Integer.toString(p.exitValue()), new String(text, StandardCharsets.UTF_8)};
    }

    static Path script() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("tools/interop/torch_interop.py"))) p = p.getParent();
        assertNotNull(p, "tools/interop/torch_interop.py not found");
        return p.resolve("tools/interop/torch_interop.py");
    }
}
