package normlab.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The weights files {@code normlab mnist} writes load into PyTorch with a strict {@code load_state_dict}: Debian's
 * PyTorch ({@code /usr/bin/python3}, package python3-torch) runs {@code tools/interop/torch_interop.py load} on them.
 * A machine without it fails this test (with the package to install), it does not skip it.
 */
class TorchStrictLoadTest {
    static final String PYTHON = "/usr/bin/python3";

    @BeforeAll
    static void headless() {
        System.setProperty("java.awt.headless", "true");
    }

    @Test
    void mnistWeightsLoadStrictlyIntoPyTorch(@TempDir Path tmp) throws Exception {
        requireTorch();
        Path dir = tmp.resolve("run");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code = MnistEndToEndTest.run(out, "mnist", "--steps", "100", "--eval-every", "50", "--train-size", "6000",
                "--test-size", "1000", "--threads", "2", "--out", dir.toString());
        assertEquals(0, code, out.toString(StandardCharsets.UTF_8));
        for (String f : new String[] {"bn.safetensors", "baseline.safetensors"}) {
            String[] r = python(script().toString(), "load", dir.resolve(f).toString());
            assertEquals("0", r[0], "PyTorch's strict load_state_dict refused " + f + ":\n" + r[1]);
            assertTrue(r[1].contains("loaded strictly into PyTorch"), r[1]);
        }
        // The training checkpoint is not a plain state dict: strict loading must refuse it (the test can tell).
        String[] r = python(script().toString(), "load", dir.resolve("bn.checkpoint.safetensors").toString());
        assertTrue(!r[0].equals("0") && r[1].contains("Unexpected key"), r[1]);
    }

    /** Fails (never skips) when Debian's PyTorch is missing. */
    static void requireTorch() throws Exception {
        if (!Files.isExecutable(Path.of(PYTHON))) fail(PYTHON + " not found: install Debian's PyTorch with: apt-get install python3-torch");
        String[] r = python("-c", "import torch");
        if (!r[0].equals("0")) fail("PyTorch is not importable by " + PYTHON + " (install it with: apt-get install python3-torch): " + r[1].trim());
    }

    /** Runs {@code /usr/bin/python3 args…}; returns {exit code, stdout + stderr}. */
    static String[] python(String... args) throws Exception {
        String[] cmd = new String[args.length + 1];
        cmd[0] = PYTHON;
        System.arraycopy(args, 0, cmd, 1, args.length);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] text = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(180, TimeUnit.SECONDS), "python timed out: " + String.join(" ", cmd));
        return new String[] {Integer.toString(p.exitValue()), new String(text, StandardCharsets.UTF_8)};
    }

    static Path script() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("tools/interop/torch_interop.py"))) p = p.getParent();
        assertNotNull(p, "tools/interop/torch_interop.py not found above " + Path.of("").toAbsolutePath());
        return p.resolve("tools/interop/torch_interop.py");
    }
}
