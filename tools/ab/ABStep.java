import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

/**
 * Same-JVM A/B of whole training steps from two builds of normlab-core: each build, with {@code StepRunner}, in its own
 * class loader; {@code per} steps of A, then of B, for {@code rounds} rounds (the first fifth dropped). Prints min,
 * first quartile and median per step, in wall time and in the calling thread's CPU time; the order A, B or B, A alternates by round. Mode {@code step}, {@code stepbn} (the paper's MLP in a Trainer, without and with
 * BN), {@code eval} (an evaluation of the MNIST test set), {@code cnnbn}, {@code cnngn} (the small CNN); "A|B" runs two
 * modes against each other in one build. A mode ending in {@code @T} runs on T kernel threads (e.g. {@code cnnbn@2}).
 *
 * <p>Usage: {@code ABStep <classesA> <classesB> <runnerDir> <mode> <per> <rounds>}.
 */
public class ABStep {
    public static void main(String[] a) throws Throwable {
        String mode = a[3];
        int per = Integer.parseInt(a[4]), rounds = Integer.parseInt(a[5]);
        Runnable[] r = new Runnable[2];
        for (int v = 0; v < 2; v++) {
            ClassLoader cl = new URLClassLoader(new URL[] {Paths.get(a[v]).toUri().toURL(), Paths.get(a[2]).toUri().toURL()},
                    ClassLoader.getPlatformClassLoader());
            String m = mode.contains("|") ? mode.split("[|]")[v] : mode;
            r[v] = (Runnable) cl.loadClass("StepRunner").getConstructor(String.class).newInstance(m);
        }
        List<List<Double>> t = List.of(new ArrayList<>(), new ArrayList<>()), cpu = List.of(new ArrayList<>(), new ArrayList<>());
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        for (int round = 0; round < rounds; round++) {
            for (int s = 0; s < 2; s++) {
                int v = (s + round) % 2; // the order alternates by round, so neither build always runs first
                long t0 = System.nanoTime(), c0 = mx.getCurrentThreadCpuTime();
                for (int i = 0; i < per; i++) r[v].run();
                if (round >= rounds / 5) {
                    t.get(v).add((System.nanoTime() - t0) / 1e3 / per);
                    cpu.get(v).add((mx.getCurrentThreadCpuTime() - c0) / 1e3 / per);
                }
            }
        }
        System.out.println(mode + ": " + r[0] + " / " + r[1] + AB.summary(t, System.lineSeparator() + "  "));
        // the calling thread's CPU time: on one kernel thread the step's own work, unaffected by time slicing on a
        // loaded machine (at T > 1 it leaves out the pool's other threads)
        System.out.println("  thread CPU time:" + AB.summary(cpu, System.lineSeparator() + "  "));
    }
}
