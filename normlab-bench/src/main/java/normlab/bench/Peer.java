package normlab.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import normlab.kernels.Parallel;
import normlab.nn.Activation;
import normlab.nn.Conv2d;
import normlab.nn.CrossEntropyLoss;
import normlab.nn.Flatten;
import normlab.nn.Linear;
import normlab.nn.MaxPool2d;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm1d;
import normlab.norm.BatchNorm2d;
import normlab.norm.GroupNorm;
import normlab.norm.InstanceNorm2d;
import normlab.norm.LayerNorm;
import normlab.norm.RMSNorm;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;

/**
 * normlab's half of the peer comparison (tools/peer/compare.sh runs it alternately with tools/peer/peer_torch.py, which
 * times the same workloads in PyTorch). One JSON object per line on the output file, one per (workload, op):
 * the median time of one call after warm-up, and the bytes of minimal memory traffic for the norm kernels
 * (forward-train 3 passes over the tensor, forward-eval 2 — 3 for layers without running statistics, which must compute
 * them — backward 5) or steps/s for the training workloads. Also the ceilings of the run: the copy bandwidth
 * (STREAM-like, 2 passes) from DRAM and in cache, and the vector FMA peak of the pool's threads.
 *
 * <p>Usage: {@code java --add-modules jdk.incubator.vector -cp benchmarks.jar normlab.bench.Peer --threads 1
 * --out r.jsonl [--seconds 0.5] [--only substring]}. {@code --only} may list several substrings separated by commas.
 * tools/peer/compare.sh runs the kernels, the MLP and the CNN in separate processes, as separate programs would: a
 * JVM that has just run every norm kernel compiles the training step from polluted profiles, and its step time then
 * varied by 2.5× from round to round.
 */
public final class Peer {
    private final int threads;
    private final double seconds;
    private final String only;
    private final PrintStream out;

    private Peer(int threads, double seconds, String only, PrintStream out) {
        this.threads = threads;
        this.seconds = seconds;
        this.only = only;
        this.out = out;
    }

    public static void main(String[] args) throws IOException {
        int threads = Runtime.getRuntime().availableProcessors();
        double seconds = 0.5;
        String only = null;
        Path outPath = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--threads": threads = Integer.parseInt(args[++i]); break;
                case "--seconds": seconds = Double.parseDouble(args[++i]); break;
                case "--only": only = args[++i]; break;
                case "--out": outPath = Path.of(args[++i]); break;
                default: throw new IllegalArgumentException("Peer: unknown argument " + args[i]
                        + " (expected --threads N, --seconds S, --only TEXT, --out FILE)");
            }
        }
        Parallel.setThreads(threads);
        PrintStream ps = outPath == null ? System.out : new PrintStream(Files.newOutputStream(outPath,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND), true, StandardCharsets.UTF_8);
        new Peer(threads, seconds, only, ps).runAll();
        ps.flush();
    }

    private boolean wanted(String name) {
        if (only == null) return true;
        for (String o : only.split(",")) if (!o.isEmpty() && name.contains(o)) return true;
        return false;
    }

    /** Process CPU seconds per call over the last {@link #time} measurement (all threads: JIT and GC included). */
    private double lastCpu;

    /** Total JIT compilation time so far (ms), or 0 where the JVM does not report it. */
    private static long jitMillis() {
        java.lang.management.CompilationMXBean c = java.lang.management.ManagementFactory.getCompilationMXBean();
        return c != null && c.isCompilationTimeMonitoringSupported() ? c.getTotalCompilationTime() : 0;
    }

    private static long processCpuNanos() {
        java.lang.management.OperatingSystemMXBean os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        return os instanceof com.sun.management.OperatingSystemMXBean
                ? ((com.sun.management.OperatingSystemMXBean) os).getProcessCpuTime() : -1;
    }

    /** Times {@code r} (after warm-up) and returns the median wall seconds per call; sets {@link #lastCpu}. */
    private double time(Runnable r) {
        return time(r, 2 * seconds);
    }

    /**
     * Warm-up until C2 has compiled the Vector API loops (interpreted they run ~100x slower, and compilation is slow
     * on a busy machine): windows of 0.25 s (at least 3 calls) until a window's median stops improving by more than
     * 5% on the previous one and the JIT compiled nothing during it or the window before, at least {@code minWarm} seconds and at most 30 s.
     * The JIT condition matters at 2 threads: both cores then run the workload, the compiler threads wait for CPU, and
     * the small CNN's step was measured half compiled (16-18 ms in some processes, 27-47 ms in others).
     */
    private double time(Runnable r, double minWarm) {
        long start = System.nanoTime(), minEnd = start + (long) (minWarm * 1e9), maxEnd = start + 30_000_000_000L;
        double prev = Double.MAX_VALUE;
        long jit = jitMillis();
        int quiet = 0; // consecutive windows in which the JIT compiled nothing
        while (true) {
            List<Double> w = new ArrayList<>();
            long wEnd = System.nanoTime() + 250_000_000L;
            while (w.size() < 3 || System.nanoTime() < wEnd) {
                long t0 = System.nanoTime();
                r.run();
                w.add((System.nanoTime() - t0) * 1e-9);
            }
            double med = w.stream().mapToDouble(Double::doubleValue).sorted().toArray()[w.size() / 2];
            long now = System.nanoTime(), jitNow = jitMillis();
            quiet = jitNow == jit ? quiet + 1 : 0;
            jit = jitNow;
            if (now > maxEnd || (now > minEnd && med > 0.95 * prev && quiet >= 2)) break;
            prev = Math.min(prev, med);
        }
        List<Double> t = new ArrayList<>();
        long cpu0 = processCpuNanos();
        long end = System.nanoTime() + (long) (seconds * 1e9);
        while (t.size() < 10 || (System.nanoTime() < end && t.size() < 10000)) {
            long t0 = System.nanoTime();
            r.run();
            t.add((System.nanoTime() - t0) * 1e-9);
        }
        lastCpu = cpu0 < 0 ? 0 : (processCpuNanos() - cpu0) * 1e-9 / t.size();
        double[] a = t.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return a[a.length / 2];
    }

    private void emit(String workload, String op, String shape, double sec, long bytes, String status, String note) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "{\"impl\":\"normlab\",\"threads\":%d,\"workload\":\"%s\",\"op\":\"%s\",\"shape\":\"%s\"",
                threads, workload, op, shape));
        if (sec > 0) sb.append(String.format(Locale.ROOT, ",\"ms\":%.6f,\"cpu_ms\":%.6f", sec * 1e3, lastCpu * 1e3));
        if (bytes > 0) sb.append(",\"bytes\":").append(bytes);
        sb.append(",\"status\":\"").append(status).append('"');
        if (note != null) sb.append(",\"note\":\"").append(note.replace("\"", "'")).append('"');
        sb.append('}');
        out.println(sb);
        if (out != System.out) System.err.println(sb);
    }

    private static Tensor gaussian(Rng rng, int... shape) {
        int n = 1;
        for (int d : shape) n *= d;
        return Tensor.of(Bench.gaussian(rng, n), shape);
    }

    private void runAll() {
        if (wanted("copy")) {
            copy();
            copyInCache();
        }
        if (wanted("fma")) fmaPeak();
        norm("bn1d", new BatchNorm1d(1024), true, 256, 1024);
        norm("bn2d", new BatchNorm2d(64), true, 32, 64, 56, 56);
        norm("bn2d", new BatchNorm2d(64), true, 64, 64, 56, 56);
        norm("ln", new LayerNorm(768), false, 8192, 768);
        norm("gn32", new GroupNorm(32, 64), false, 32, 64, 56, 56);
        norm("in2d", new InstanceNorm2d(64), false, 32, 64, 56, 56);
        norm("rms", new RMSNorm(768), false, 8192, 768);
        mlp(false);
        mlp(true);
        cnn("bn");
        cnn("gn");
        lstm();
        vit();
    }

    /** Sequence classifier on sequential MNIST's shape: rows of 28 pixels as 28 steps, LSTM(28, 128), last step, linear(128→10); batch 64. */
    private void lstm() {
        if (!wanted("lstm_clf")) return;
        Rng rng = new Rng(4);
        Sequential model = new Sequential(new normlab.rnn.Unflatten(28, 28), new normlab.rnn.LSTM(28, 128, rng), new normlab.rnn.LastStep(),
                new Linear(128, 10, rng));
        train("lstm_clf", model, new int[] {64, 784}, 10, rng);
    }

    /** STREAM-like copy of 2 × 128 MB, split over the pool: the bandwidth ceiling for this run (2 passes counted). */
    private void copy() {
        copy("copy", 32 << 20, 1 << 16);
    }

    /**
     * The in-cache copy ceiling for the one norm tensor that fits in the last-level cache (BatchNorm1d's 256 × 1024,
     * 1 MB in and 1 MB out): the same split copy, repeated over buffers that stay cached (2 passes counted).
     */
    private void copyInCache() {
        copy("copy_cache", 256 * 1024, 1 << 12);
    }

    /** Copies n floats in chunks split over the pool; emits the time with 2 passes of traffic counted. */
    private void copy(String op, int n, int chunk) {
        float[] a = new float[n], b = new float[n];
        Arrays.fill(a, 1f);
        int chunks = n / chunk;
        double sec = time(() -> Parallel.forRange(chunks, 1, (lo, hi) ->
                System.arraycopy(a, lo * chunk, b, lo * chunk, (hi - lo) * chunk)));
        emit("copy", op, "[" + n + "]", sec, 2L * 4 * n, "ok", null);
    }

    /**
     * The FMA ceiling of this run: every pool thread runs 12 independent vector FMA chains (no memory operands) for
     * 2²⁰ iterations; GFLOP/s = threads · 2 · lanes · 12 · 2²⁰ / time. What a compute-bound kernel could reach.
     */
    private void fmaPeak() {
        int iters = 1 << 20;
        int lanes = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length();
        int parts = Parallel.threads();
        float[] sink = new float[parts];
        double sec = time(() -> Parallel.forRange(parts, 1, (lo, hi) -> {
            for (int i = lo; i < hi; i++) sink[i] += fmaChains(iters);
        }));
        double gflops = (double) parts * 2 * lanes * 12 * iters / sec / 1e9;
        emit("fma", "peak", "[" + parts + "x12x" + lanes + "]", sec, 0, "ok", String.format(Locale.ROOT, "%.1f GFLOP/s", gflops));
    }

    /** 12 independent chains c ← a·b + c (the register peak: FMA latency × throughput ≤ 12 chains on Zen 3). */
    private static float fmaChains(int iters) {
        var S = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;
        var a = jdk.incubator.vector.FloatVector.broadcast(S, 1.0001f);
        var b = jdk.incubator.vector.FloatVector.broadcast(S, 0.9999f);
        var c0 = jdk.incubator.vector.FloatVector.zero(S);
        var c1 = c0; var c2 = c0; var c3 = c0; var c4 = c0; var c5 = c0;
        var c6 = c0; var c7 = c0; var c8 = c0; var c9 = c0; var c10 = c0; var c11 = c0;
        for (int i = 0; i < iters; i++) {
            c0 = a.fma(b, c0); c1 = a.fma(b, c1); c2 = a.fma(b, c2); c3 = a.fma(b, c3);
            c4 = a.fma(b, c4); c5 = a.fma(b, c5); c6 = a.fma(b, c6); c7 = a.fma(b, c7);
            c8 = a.fma(b, c8); c9 = a.fma(b, c9); c10 = a.fma(b, c10); c11 = a.fma(b, c11);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11)
                .reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }

    private void norm(String name, Module m, boolean hasRunningStats, int... shape) {
        String shapeStr = Arrays.toString(shape).replace(" ", "");
        if (!wanted(name)) return;
        Rng rng = new Rng(7);
        Tensor x = gaussian(rng, shape), dy = gaussian(rng, shape);
        long bytes = 4L * x.numel();
        // Outputs and dx in reused buffers, as in a training step (Trainer) or an inference loop; the PyTorch side gets
        // its outputs from its allocator, which hands back freed blocks. Fresh tensors would add a zero-fill pass.
        m.reuseOutputs(true);
        m.train();
        emit(name, "fwd_train", shapeStr, time(() -> m.forward(x)), 3 * bytes, "ok", null);
        m.eval();
        emit(name, "fwd_eval", shapeStr, time(() -> m.forward(x)), (hasRunningStats ? 2 : 3) * bytes, "ok",
                hasRunningStats ? null : "no running statistics: eval computes them (3 passes)");
        m.train();
        m.forward(x);
        emit(name, "backward", shapeStr, time(() -> m.backward(dy)), 5 * bytes, "ok", null);
    }

    /** The paper's MLP: 784-100-100-100-10, sigmoid, optional BN before each sigmoid; SGD lr 0.01, batch 60. */
    private void mlp(boolean bn) {
        String name = bn ? "mlp_bn" : "mlp";
        if (!wanted(name)) return;
        Rng rng = new Rng(1);
        train(name, Bench.paperMlp(bn, false, rng), new int[] {60, 784}, 10, rng);
    }

    /** Small CNN on 28×28: conv3×3(1→32)-norm-ReLU-pool2, conv3×3(32→64)-norm-ReLU-pool2, linear(3136→10); batch 64. */
    private void cnn(String norm) {
        String name = "cnn_" + norm;
        if (!wanted(name)) return;
        Rng rng = new Rng(2);
        Module n1 = norm.equals("bn") ? new BatchNorm2d(32) : new GroupNorm(8, 32);
        Module n2 = norm.equals("bn") ? new BatchNorm2d(64) : new GroupNorm(8, 64);
        Sequential model = new Sequential(
                new Conv2d(1, 32, 3, 1, 1, 1, 1, true, rng), n1, new Activation.ReLU(), new MaxPool2d(2),
                new Conv2d(32, 64, 3, 1, 1, 1, 1, true, rng), n2, new Activation.ReLU(), new MaxPool2d(2),
                new Flatten(), new Linear(64 * 7 * 7, 10, rng));
        train(name, model, new int[] {64, 1, 28, 28}, 10, rng);
    }

    /** The transformer experiment's ViT: 28×28 in 7×7 patches (16 tokens), width 64, depth 6, 4 heads, MLP 128, pre-LN; batch 64. */
    private void vit() {
        if (!wanted("vit")) return;
        Rng rng = new Rng(4);
        train("vit", normlab.models.Vit.mnist().build(rng), new int[] {64, 1, 28, 28}, 10, rng);
    }

    private void train(String name, Module model, int[] xShape, int classes, Rng rng) {
        Tensor x = gaussian(rng, xShape);
        int[] labels = new int[xShape[0]];
        for (int i = 0; i < labels.length; i++) labels[i] = rng.nextInt(classes);
        SGD opt = new SGD(model.parameters(), 0.01);
        CrossEntropyLoss loss = new CrossEntropyLoss();
        model.train();
        // As normlab's Trainer runs a step (and as PyTorch does for an input that needs no gradient): activations in
        // reused buffers, no input gradient for the first layer.
        model.reuseOutputs(true);
        // A training step calls dozens of methods, compiled one after another: warm up for at least 4 s.
        double sec = time(() -> {
            model.zeroGrad();
            loss.forward(model.forward(x), labels);
            model.backwardParams(loss.backward());
            opt.step();
        }, Math.max(4, 2 * seconds));
        emit(name, "train_step", Arrays.toString(xShape).replace(" ", ""), sec, 0, "ok", null);
    }
}
