package normlab.lab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.io.PrintStream;
import normlab.lab.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --spark} where the Spark backend is absent (the normlab jar, this module's tests): one line saying where it is
 * available, exit 2, before any work; a value that is no Spark master is refused first, naming it.
 */
class SparkOptionTest {
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

    static String oneLine(ByteArrayOutputStream out) {
        String text = out.toString(StandardCharsets.UTF_8);
        List<String> lines = text.lines().filter(l -> !l.startsWith("WARNING")).toList();
        assertEquals(1, lines.size(), text);
        assertFalse(text.contains("\tat "), text);
        return lines.get(0);
    }

    @Test
    void withoutTheBackendSparkIsOneLine(@TempDir Path tmp) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Path dir = tmp.resolve("run");
        assertEquals(2, run(out, "lr-sweep", "--quick", "--out", dir.toString(), "--spark", "local[2]"));
        assertTrue(oneLine(out).startsWith("normlab lr-sweep: --spark needs the Spark backend (module normlab-spark), which ./normlab leaves out; "
                + "run ./normlab-on-spark lr-sweep"), oneLine(out));
        assertFalse(Files.exists(dir), "nothing may be written");
        out.reset();
        assertEquals(2, run(out, "reproduce", "--all", "--quick", "--runs-dir", tmp.resolve("runs").toString(), "--spark"));
        assertTrue(oneLine(out).startsWith("normlab reproduce: --spark needs the Spark backend"), oneLine(out));
        assertFalse(Files.exists(tmp.resolve("runs")), "nothing may be written");
        out.reset();
        assertEquals(2, run(out, "recalibrate", tmp.resolve("m.safetensors").toString(), "--data", "fashion", "--out",
                tmp.resolve("o.safetensors").toString(), "--spark"));
        assertTrue(oneLine(out).startsWith("normlab recalibrate: --spark needs the Spark backend"), oneLine(out));
    }

    @Test
    void aBadMasterIsNamed(@TempDir Path tmp) {
        for (String bad : List.of("local[0]", "spark:/host", "lokal", "run")) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            assertEquals(2, run(out, "lr-sweep", "--quick", "--out", tmp.resolve("r").toString(), "--spark=" + bad));
            assertTrue(oneLine(out).startsWith("normlab lr-sweep: Invalid value for option '--spark': '" + bad + "' is not a Spark master (local[N], "
                    + "local[*], spark://HOST:PORT"), oneLine(out));
        }
        for (String good : List.of("local", "local[*]", "local[4]", "local[2,3]", "local-cluster[2,1,1024]", "spark://h1:7077,h2:7077", "yarn", "k8s://https://k:443")) {
            assertEquals(good, SparkBackend.master(good, 2));
        }
        assertEquals("local[3]", SparkBackend.master("", 3));
        // A word after --spark is taken for the master: refused as such, before the missing argument is noticed.
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(2, run(out, "recalibrate", "--spark", "m.safetensors", "--data", "fashion", "--out", tmp.resolve("o.safetensors").toString()));
        assertTrue(oneLine(out).startsWith("normlab recalibrate: Invalid value for option '--spark': 'm.safetensors' is not a Spark master"), oneLine(out));
    }
}
