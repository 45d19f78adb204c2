package normlab.kernels;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Without --add-modules jdk.incubator.vector the first layer says so in one line (a child JVM without the flag). */
class VectorApiMissingTest {
    /** The child: builds and runs a layer. */
    public static void main(String[] args) {
        normlab.nn.Linear l = new normlab.nn.Linear(4, 3, new normlab.tensor.Rng(1));
        System.out.println(l.forward(normlab.tensor.Tensor.zeros(2, 4)).data[0]);
    }

    private static String[] run(boolean flag) throws Exception {
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of(javaBin, "-Xmx128m"));
        if (flag) cmd.addAll(java.util.List.of("--add-modules", "jdk.incubator.vector"));
        cmd.addAll(java.util.List.of("-cp", System.getProperty("java.class.path"), VectorApiMissingTest.class.getName()));
        Process p = new ProcessBuilder(cmd).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "child JVM timed out");
        return new String[] {String.valueOf(p.exitValue()), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
                new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8)};
    }

    @Test
    void withoutTheFlagOneLineNamesIt() throws Exception {
        String[] r = run(false);
        assertNotEquals("0", r[0]);
        String err = r[2].strip();
        assertEquals(1, err.lines().count(), err);
        assertTrue(err.endsWith(VectorApi.MESSAGE), err);
        assertFalse(err.contains("NoClassDefFoundError"), err);
        assertEquals("", r[1]);
    }

    @Test
    void withTheFlagItRuns() throws Exception {
        String[] r = run(true);
        assertEquals("0", r[0], r[2]);
        assertTrue(VectorApi.present());
    }
}
