package normlab.peer;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.GradRun;
import ai.djl.pytorch.jni.JniUtils;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * PyTorch 2.7.1's half of the peer comparison (libtorch 2.7.1 through DJL 0.36): loads the TorchScript modules that
 * make_modules.py saved with PyTorch 1.13 (index.txt in --dir) and times them exactly as peer_torch.py times its eager
 * modules: warm-up for 2 × --seconds (at least 10 calls), then the median wall time of single calls over --seconds (at
 * least 10, at most 10,000 calls) and the process CPU time per call. Norm kernels: forward train and eval (no_grad),
 * backward = autograd.grad of one saved forward with retain_graph; training: one step() = forward, cross-entropy,
 * autograd.grad, SGD update, all inside libtorch (one JNI call); inference: forward(x) of the folded model at batch 1
 * and 64 with x created once, p50/p99 and samples/s.
 *
 * <p>Before timing, every module's check() compares 2.7's outputs with the ones 1.13 computed on the same inputs and
 * stored in the module (relative max difference); the result is in the "check" field and a difference above 1e-3
 * marks the row status "mismatch". JSON lines as peer_torch.py's, impl "torch27".
 *
 * <p>Usage: java -Dai.djl.offline=true -Dai.djl.pytorch.num_threads=T -Dai.djl.pytorch.num_interop_threads=1
 * -cp target/classes:target/lib/* normlab.peer.Torch27 --dir MODULES --threads T --out r.jsonl [--seconds 0.5]
 * [--only substring,...] [--check-only]
 */
public final class Torch27 {
    private final int threads;
    private final double seconds;
    private final String only;
    private final PrintStream out;
    private double lastCpu;

    private Torch27(int threads, double seconds, String only, PrintStream out) {
        this.threads = threads;
        this.seconds = seconds;
        this.only = only;
        this.out = out;
    }

    public static void main(String[] args) throws IOException {
        int threads = 1;
        double seconds = 0.5;
        String only = null;
        Path outPath = null, dir = null;
        boolean checkOnly = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--threads": threads = Integer.parseInt(args[++i]); break;
                case "--seconds": seconds = Double.parseDouble(args[++i]); break;
                case "--only": only = args[++i]; break;
                case "--out": outPath = Path.of(args[++i]); break;
                case "--dir": dir = Path.of(args[++i]); break;
                case "--check-only": checkOnly = true; break;
                default:
                    System.err.println("Torch27: unknown argument " + args[i]
                            + " (expected --dir DIR, --threads N, --seconds S, --only TEXT, --out FILE, --check-only)");
                    System.exit(2);
            }
        }
        if (dir == null || !Files.isRegularFile(dir.resolve("index.txt"))) {
            System.err.println("Torch27: --dir must name a directory written by make_modules.py (with index.txt), got " + dir);
            System.exit(2);
        }
        Engine engine = Engine.getEngine("PyTorch");
        JniUtils.setNumThreads(threads);
        JniUtils.setGradMode(true); // the modules choose no_grad themselves where peer_torch.py does
        System.err.println("Torch27: PyTorch " + engine.getVersion() + ", intra-op threads " + JniUtils.getNumThreads()
                + ", inter-op " + JniUtils.getNumInteropThreads());
        PrintStream ps = outPath == null ? System.out : new PrintStream(Files.newOutputStream(outPath,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND), true, StandardCharsets.UTF_8);
        Torch27 t = new Torch27(threads, seconds, only, ps);
        int bad = 0;
        try (PtNDManager manager = (PtNDManager) NDManager.newBaseManager(Device.cpu(), "PyTorch")) {
            for (String line : Files.readAllLines(dir.resolve("index.txt"))) {
                if (line.isBlank()) continue;
                String[] f = line.trim().split(" ");
                if (!t.wanted(f[1])) continue;
                try (PtSymbolBlock m = JniUtils.loadModule(manager, dir.resolve(f[3]), false, new String[0], new String[0], true)) {
                    // DJL loads every module in eval mode (trainParam only makes the parameters require grad): the
                    // training workloads need train mode back, or BatchNorm would normalise with running statistics
                    // (the check caught exactly that on mlp_bn).
                    if (f[0].equals("infer")) JniUtils.enableInferenceMode(m);
                    else JniUtils.enableTrainingMode(m);
                    bad += t.run(manager, f[0], f[1], f[2], m, checkOnly);
                }
            }
        }
        ps.flush();
        if (checkOnly && bad > 0) {
            System.err.println("Torch27: " + bad + " workload(s) differ from PyTorch 1.13 by more than 1e-3");
            System.exit(1);
        }
    }

    private boolean wanted(String name) {
        if (only == null) return true;
        for (String o : only.split(",")) if (!o.isEmpty() && name.contains(o)) return true;
        return false;
    }

    /** Runs check() and, unless checkOnly, times the module's workload; returns 1 if the check failed. */
    private int run(PtNDManager manager, String kind, String name, String shape, PtSymbolBlock m, boolean checkOnly) {
        double[] check;
        try (IValue c = GradRun.run(m, "check", !kind.equals("infer"))) {
            check = c.toDoubleArray();
        }
        double worst = Arrays.stream(check).max().orElse(0);
        String status = worst <= 1e-3 ? "ok" : "mismatch";
        String checkStr = Arrays.toString(Arrays.stream(check).mapToObj(d -> String.format(Locale.ROOT, "%.1e", d)).toArray());
        if (checkOnly) {
            System.err.printf(Locale.ROOT, "check %-8s %-16s vs PyTorch 1.13: relative max difference %s %s%n", name, shape, checkStr, status);
            return status.equals("ok") ? 0 : 1;
        }
        switch (kind) {
            case "norm": {
                long bytes = 4L * numel(shape);
                boolean running = name.startsWith("bn");
                IValue tr = IValue.from(true), ev = IValue.from(false);
                emit(name, "fwd_train", shape, time(() -> GradRun.run(m, "fwd", true, tr).close()), 3 * bytes, status, checkStr, null);
                emit(name, "fwd_eval", shape, time(() -> GradRun.run(m, "fwd", true, ev).close()), (running ? 2 : 3) * bytes,
                        status, checkStr, running ? null : "no running statistics: eval computes them (3 passes)");
                try (IValue g = GradRun.run(m, "make_graph", true)) {
                    IValue[] yx = g.toIValueArray();
                    emit(name, "backward", shape, time(() -> GradRun.run(m, "bwd", true, yx[0], yx[1]).close()), 5 * bytes,
                            status, checkStr, null);
                    for (IValue v : yx) v.close();
                }
                tr.close();
                ev.close();
                break;
            }
            case "train":
                emit(name, "train_step", shape, time(() -> GradRun.run(m, "step", true).close()), 0, status, checkStr, null);
                break;
            case "infer": {
                long[] dims = Arrays.stream(shape.replaceAll("[\\[\\]]", "").split(",")).mapToLong(Long::parseLong).toArray();
                for (int batch : new int[] {1, 64}) {
                    dims[0] = batch;
                    float[] x = new float[(int) numel(Arrays.toString(dims))];
                    Random r = new Random(batch);
                    for (int i = 0; i < x.length; i++) x[i] = r.nextFloat();
                    try (PtNDArray xa = (PtNDArray) manager.create(x, new Shape(dims)); IValue xi = IValue.from(xa)) {
                        List<Double> lat = new ArrayList<>();
                        double p50 = time(() -> GradRun.run(m, "forward", false, xi).close(), lat);
                        double mean = lat.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
                        double p99 = lat.get((int) Math.min(lat.size() - 1, Math.round(0.99 * (lat.size() - 1))));
                        emit(name, "infer_b" + batch, Arrays.toString(dims).replace(" ", ""), p50, 0, status, checkStr,
                                String.format(Locale.ROOT, "\"p99_ms\":%.6f,\"samples_s\":%.1f", p99 * 1e3, batch / mean));
                    }
                }
                break;
            }
            default:
                throw new IllegalArgumentException("Torch27: unknown kind " + kind + " in index.txt");
        }
        return 0;
    }

    private static long numel(String shape) {
        long n = 1;
        for (String d : shape.replaceAll("[\\[\\] ]", "").split(",")) n *= Long.parseLong(d);
        return n;
    }

    private static long cpuNanos() {
        java.lang.management.OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        return os instanceof com.sun.management.OperatingSystemMXBean
                ? ((com.sun.management.OperatingSystemMXBean) os).getProcessCpuTime() : -1;
    }

    private double time(Runnable fn) {
        return time(fn, new ArrayList<>());
    }

    /** peer_torch.py's timed(): warm-up 2 × seconds (≥ 10 calls), then median of single calls; sorted latencies into lat. */
    private double time(Runnable fn, List<Double> lat) {
        long end = System.nanoTime() + (long) (2 * seconds * 1e9);
        for (int warm = 0; warm < 10 || System.nanoTime() < end; warm++) fn.run();
        long cpu0 = cpuNanos();
        end = System.nanoTime() + (long) (seconds * 1e9);
        while (lat.size() < 10 || (System.nanoTime() < end && lat.size() < 10000)) {
            long t0 = System.nanoTime();
            fn.run();
            lat.add((System.nanoTime() - t0) * 1e-9);
        }
        lastCpu = cpu0 < 0 ? 0 : (cpuNanos() - cpu0) * 1e-9 / lat.size();
        lat.sort(null);
        return lat.get(lat.size() / 2);
    }

    private void emit(String workload, String op, String shape, double sec, long bytes, String status, String check, String extra) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "{\"impl\":\"torch27\",\"threads\":%d,\"workload\":\"%s\",\"op\":\"%s\",\"shape\":\"%s\"",
                threads, workload, op, shape));
        sb.append(String.format(Locale.ROOT, ",\"ms\":%.6f,\"cpu_ms\":%.6f", sec * 1e3, lastCpu * 1e3));
        if (bytes > 0) sb.append(",\"bytes\":").append(bytes);
        if (extra != null && extra.startsWith("\"")) sb.append(',').append(extra);
        sb.append(",\"status\":\"").append(status).append('"');
        sb.append(",\"check\":\"").append(check).append('"');
        if (extra != null && !extra.startsWith("\"")) sb.append(",\"note\":\"").append(extra).append('"');
        sb.append('}');
        out.println(sb);
        if (out != System.out) System.err.println(sb);
    }
}
