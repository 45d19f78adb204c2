import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Same-JVM alternating A/B of normlab's norm kernels at 1 and 2 threads (issue #20 scope 2), optionally across two
 * builds of normlab-core. Each build is loaded with {@code ScaleRunner} in its own class loader; per workload, every
 * (build, threads) side runs a chunk of calls in turn, the order rotating each round, for {@code rounds} rounds after
 * one warm-up round per side (dropped).
 *
 * <p>The machine is shared and its scheduler groups processes by session (autogroup: nice levels do not count between
 * sessions), so a call may get less than the cores it asked for. Each call's process CPU time is taken with its wall
 * time; a call counts as "served" when it got at least 90 % of its threads (CPU ≥ 0.9 × wall at 1 thread, ≥ 1.8 × wall
 * at 2; property scale.served). Per side the line shows the median over served calls (q25–q75, their number, GB/s at
 * the median for the workload's minimal traffic) and the median over all calls; then per build the ratio 2-thread /
 * 1-thread of the served medians, and, with two builds, B/A per thread count. "cpu" is the median (q25–q75) process
 * CPU time per call, all threads (with -Dnormlab.spinMicros=0 the pool's threads park instead of spinning, so it is the
 * work alone): on a loaded machine, the one figure that does not count the time the process waited for a core. Every
 * side's last output must have the same bits. Served calls are biased towards fast ones (a long call is more likely to be interrupted) on every side.
 *
 * <p>Usage: {@code ScaleAb <runnerDir> <rounds> <chunkSeconds> <workload,...> <classesA> [<classesB>]}; workloads as
 * {@code ScaleRunner.make} takes them, each optionally followed by {@code =BYTES} (minimal traffic per call, for GB/s).
 */
public class ScaleAb {
    /** Fraction of its threads' cores a chunk must get to count as served (system property scale.served, default 0.9). */
    static final double SERVED = Double.parseDouble(System.getProperty("scale.served", "0.9"));

    public static void main(String[] a) throws Throwable {
        String runner = a[0];
        int rounds = Integer.parseInt(a[1]);
        double chunk = Double.parseDouble(a[2]);
        String[] work = a[3].split(",");
        int builds = a.length - 4;
        MethodHandle[] make = new MethodHandle[builds], threads = new MethodHandle[builds], sum = new MethodHandle[builds];
        for (int b = 0; b < builds; b++) {
            ClassLoader cl = new URLClassLoader(new URL[] {Paths.get(a[4 + b]).toUri().toURL(), Paths.get(runner).toUri().toURL()},
                    ClassLoader.getPlatformClassLoader());
            Class<?> r = cl.loadClass("ScaleRunner");
            MethodHandles.Lookup lk = MethodHandles.publicLookup();
            make[b] = lk.findStatic(r, "make", MethodType.methodType(Runnable.class, String.class));
            threads[b] = lk.findStatic(r, "setThreads", MethodType.methodType(void.class, int.class));
            sum[b] = lk.findStatic(r, "checksum", MethodType.methodType(long.class));
        }
        int sides = 2 * builds;
        System.out.println(String.format(Locale.ROOT, "# %d rounds of %.2f s chunks; load average %s", rounds, chunk, load()));
        for (String w0 : work) {
            String w = w0.split("=")[0];
            double bytes = w0.contains("=") ? Double.parseDouble(w0.split("=")[1]) : 0;
            Runnable[] run = new Runnable[builds];
            for (int b = 0; b < builds; b++) run[b] = (Runnable) make[b].invoke(w);
            List<List<Double>> all = new ArrayList<>(), served = new ArrayList<>(), cpus = new ArrayList<>();
            for (int s = 0; s < sides; s++) {
                all.add(new ArrayList<>());
                cpus.add(new ArrayList<>());
                served.add(new ArrayList<>());
            }
            long[] bits = new long[sides];
            boolean ceiling = w.startsWith("copy") || w.startsWith("read");
            for (int round = -1; round < rounds; round++) {
                for (int k = 0; k < sides; k++) {
                    int s = (k + Math.max(0, round)) % sides, b = s / 2, th = s % 2 + 1;
                    threads[b].invoke(th);
                    double[][] c = chunk(run[b], round < 0 ? 4 * chunk : chunk, th);
                    if (round >= 0) {
                        for (double v : c[0]) all.get(s).add(v);
                        for (double v : c[1]) served.get(s).add(v);
                        for (double v : c[2]) cpus.get(s).add(v);
                    }
                    if (!ceiling) bits[s] = (long) sum[b].invoke();
                }
            }
            StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-14s", w));
            double[] med = new double[sides], cmed = new double[sides];
            for (int s = 0; s < sides; s++) {
                double[] v = sorted(served.get(s)), u = sorted(all.get(s)), cp = sorted(cpus.get(s));
                med[s] = q(v, 0.5);
                cmed[s] = q(cp, 0.5);
                sb.append(String.format(Locale.ROOT, "  %s%dt %.3f ms (%.3f-%.3f, n=%d/%d)%s [all %.3f, cpu %.3f (%.3f-%.3f)]",
                        builds > 1 ? "" + (char) ('A' + s / 2) : "", s % 2 + 1, med[s] * 1e3, q(v, 0.25) * 1e3,
                        q(v, 0.75) * 1e3, v.length, u.length,
                        bytes > 0 ? String.format(Locale.ROOT, " %.1f GB/s", bytes / med[s] / 1e9) : "", q(u, 0.5) * 1e3,
                        cmed[s] * 1e3, q(cp, 0.25) * 1e3, q(cp, 0.75) * 1e3));
            }
            for (int b = 0; b < builds; b++) {
                sb.append(String.format(Locale.ROOT, "  | %s2t/1t %.2f", builds > 1 ? (char) ('A' + b) + " " : "",
                        med[2 * b + 1] / med[2 * b]));
            }
            if (builds > 1) {
                sb.append(String.format(Locale.ROOT, "  | B/A 1t %.2f 2t %.2f; cpu B/A 1t %.2f 2t %.2f", med[2] / med[0],
                        med[3] / med[1], cmed[2] / cmed[0], cmed[3] / cmed[1]));
            }
            if (!ceiling) {
                boolean same = true;
                for (long x : bits) same &= x == bits[0];
                sb.append(same ? "  bits same" : "  BITS DIFFER " + Arrays.toString(bits));
            }
            System.out.println(sb);
        }
        System.out.println("# load average after: " + load());
    }

    /** The p-quantile of sorted v (NaN when empty). */
    static double q(double[] v, double p) {
        return v.length == 0 ? Double.NaN : v[Math.min(v.length - 1, (int) (p * v.length))];
    }

    static double[] sorted(List<Double> l) {
        double[] v = l.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(v);
        return v;
    }

    static String load() {
        try {
            return java.nio.file.Files.readString(Paths.get("/proc/loadavg")).trim();
        } catch (java.io.IOException e) {
            return "?";
        }
    }

    static final java.lang.management.ThreadMXBean MX = java.lang.management.ManagementFactory.getThreadMXBean();

    /**
     * The ids of this thread and of every kernel pool worker (threads named normlab-kernel-*, of both builds): the
     * threads whose CPU time a call is charged. (Process CPU time, from the OS MXBean, ticks in 10 ms steps here.)
     */
    static long[] poolThreads() {
        List<Long> ids = new ArrayList<>();
        ids.add(Thread.currentThread().getId());
        for (Thread t : Thread.getAllStackTraces().keySet()) if (t.getName().startsWith("normlab-kernel-")) ids.add(t.getId());
        return ids.stream().mapToLong(Long::longValue).toArray();
    }

    /** CPU time of the given threads (nanoseconds, clock_gettime per thread). */
    static long cpuNanos(long[] ids) {
        long sum = 0;
        for (long id : ids) sum += Math.max(0, MX.getThreadCpuTime(id));
        return sum;
    }

    /**
     * Calls of r for about {@code sec} seconds (at least 5): the wall time of every call in seconds, and of the calls
     * that were served (process CPU time during the call ≥ {@link #SERVED} × threads × wall time).
     */
    static double[][] chunk(Runnable r, double sec, int threads) {
        List<Double> t = new ArrayList<>(), s = new ArrayList<>(), cpu = new ArrayList<>();
        r.run(); // starts the pool's workers, if this is the first call at this thread count
        long[] ids = poolThreads();
        long end = System.nanoTime() + (long) (sec * 1e9);
        while (t.size() < 5 || System.nanoTime() < end) {
            long c0 = cpuNanos(ids), t0 = System.nanoTime();
            r.run();
            long t1 = System.nanoTime(), c1 = cpuNanos(ids);
            double wall = (t1 - t0) * 1e-9;
            t.add(wall);
            cpu.add((c1 - c0) * 1e-9);
            if ((c1 - c0) * 1e-9 >= SERVED * threads * wall) s.add(wall);
        }
        return new double[][] {sorted(t), sorted(s), sorted(cpu)};
    }
}
