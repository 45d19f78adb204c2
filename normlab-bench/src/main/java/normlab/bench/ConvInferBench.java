package normlab.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import normlab.infer.Fold;
import normlab.io.onnx.OnnxExport;
import normlab.kernels.Epilogue;
import normlab.kernels.Parallel;
import normlab.models.SmallCnn;
import normlab.nn.Activation;
import normlab.nn.Conv2d;
import normlab.nn.Identity;
import normlab.nn.MaxPool2d;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;

/**
 * Inference latency of the folded small BN CNN ({@link SmallCnn}, 32 and 64 channels, BatchNorm folded into the
 * convolutions) in normlab and in ONNX Runtime, in one JVM. The model is exported with {@link OnnxExport} and run by an
 * ORT session per thread count (intra-op threads = normlab's {@link Parallel} threads). Per (batch, threads), the sides
 * run in alternating chunks of {@code --chunk} seconds for {@code --rounds} rounds (the first fifth dropped), each call
 * timed; per round the side's p50 and its throughput (images over the round's wall time) are kept, and the table shows
 * the median over rounds and the spread (min–max of the rounds' p50). Sides:
 * <ul>
 *   <li>{@code eval}: {@code model.forward} of the folded model (reused outputs): the path of issue #22;
 *   <li>{@code infer}: the convolutions by {@link Conv2d#inferInto} with bias and ReLU fused (max-pooling fused too when
 *       {@code --pool} is on), the rest (pooling, flatten, the classifier) by their ordinary eval forward;
 *   <li>{@code ort}: ONNX Runtime 1.20 (CPU, all graph optimizations: it fuses Conv+ReLU and runs NCHWc).
 * </ul>
 * Then per-layer splits of the normlab sides (each layer timed alone, median over calls), and ORT's per-node times
 * from its profiler.
 *
 * <p>Usage: {@code java --add-modules jdk.incubator.vector -cp normlab-bench/target/benchmarks.jar
 * normlab.bench.ConvInferBench [--batches 1,64] [--threads 1,2] [--rounds 15] [--chunk 0.2] [--sides eval,infer,ort]}
 */
public final class ConvInferBench {
    private ConvInferBench() {}

    /** One side of the comparison: runs one forward on the batch it was built for. */
    interface Side {
        void run() throws Exception;
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new LinkedHashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        int[] batches = ints(a.getOrDefault("batches", "1,64"));
        int[] threads = ints(a.getOrDefault("threads", "1,2"));
        int rounds = Integer.parseInt(a.getOrDefault("rounds", "15"));
        long chunk = (long) (Double.parseDouble(a.getOrDefault("chunk", "0.2")) * 1e9);
        List<String> sides = List.of(a.getOrDefault("sides", "eval,infer,ort").split(","));
        boolean splits = !"false".equals(a.get("splits"));

        Sequential folded = foldedCnn();
        Path onnx = Files.createTempFile("smallcnn", ".onnx");
        OnnxExport.export(folded, new int[] {1, 28, 28}, onnx);
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        System.out.printf(Locale.ROOT, "# %s, %d cpus, %s, vector %s%n", System.getProperty("java.vm.version"),
                Runtime.getRuntime().availableProcessors(), cpuName(), jdk.incubator.vector.FloatVector.SPECIES_PREFERRED);
        System.out.println("| batch | threads | side | p50 µs (spread over rounds) | images/s | p50 / ORT |");
        System.out.println("| ---: | ---: | --- | ---: | ---: | ---: |");
        List<String> splitLines = new ArrayList<>();
        for (int n : batches) {
            Rng r = new Rng(11);
            Tensor x = Tensor.zeros(n, 1, 28, 28);
            for (int i = 0; i < x.data.length; i++) x.data[i] = r.nextFloat();
            for (int t : threads) {
                Parallel.setThreads(t);
                try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
                    o.setIntraOpNumThreads(t);
                    o.setInterOpNumThreads(1);
                    o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
                    try (OrtSession s = env.createSession(onnx.toString(), o);
                         OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x.data), new long[] {n, 1, 28, 28})) {
                        Map<String, Side> all = new LinkedHashMap<>();
                        Sequential evalModel = foldedCnn();
                        evalModel.reuseOutputs(true);
                        all.put("eval", () -> evalModel.forward(x));
                        Infer inf = new Infer(foldedCnn(), n, false);
                        all.put("infer", () -> inf.forward(x));
                        Infer infPool = new Infer(foldedCnn(), n, true);
                        all.put("infer+pool", () -> infPool.forward(x));
                        all.put("ort", () -> {
                            try (OrtSession.Result res = s.run(Map.of(OnnxExport.INPUT, in))) {
                                res.get(0);
                            }
                        });
                        if (!a.containsKey("nocheck")) checkAgree(evalModel, inf, infPool, s, in, x);
                        Map<String, Side> chosen = new LinkedHashMap<>();
                        for (String k : sides) chosen.put(k, all.get(k));
                        Map<String, double[][]> res = alternate(chosen, n, rounds, chunk);
                        double ortP50 = res.containsKey("ort") ? median(res.get("ort")[0]) : Double.NaN;
                        for (Map.Entry<String, double[][]> e : res.entrySet()) {
                            double[] p50 = e.getValue()[0], tput = e.getValue()[1];
                            System.out.printf(Locale.ROOT, "| %d | %d | %s | %.1f (%.1f–%.1f) | %.0f | %.2f |%n", n, t,
                                    e.getKey(), median(p50), min(p50), max(p50), median(tput), median(p50) / ortP50);
                        }
                        if (splits) {
                            splitLines.add(String.format(Locale.ROOT, "batch %d, %d thread(s): eval %s", n, t, layerSplits(evalModel, x)));
                            if (sides.contains("infer")) splitLines.add(String.format(Locale.ROOT, "batch %d, %d thread(s): infer %s", n, t, inf.splits(x)));
                            if (sides.contains("infer+pool")) splitLines.add(String.format(Locale.ROOT, "batch %d, %d thread(s): infer+pool %s", n, t, infPool.splits(x)));
                            splitLines.add(String.format(Locale.ROOT, "batch %d, %d thread(s): ort %s", n, t, ortNodes(env, onnx, in, t)));
                        }
                    }
                }
            }
        }
        if (splits) {
            System.out.println();
            System.out.println("Per layer (µs, median of 200 calls each):");
            for (String l : splitLines) System.out.println("  " + l);
        }
        Files.deleteIfExists(onnx);
    }

    /** SmallCnn(BN, 32, 64) with random weights and non-trivial running statistics, folded, in eval mode. */
    static Sequential foldedCnn() {
        Rng r = new Rng(5);
        Sequential m = SmallCnn.build(SmallCnn.Norm.BN, 32, 64, r);
        FoldBench.randomStats(m, r);
        m.eval();
        return (Sequential) Fold.fold(m);
    }

    /**
     * The folded CNN run for inference: each Conv2d by {@link Conv2d#inferInto} into a preallocated output with the
     * following ReLU fused (and, with {@code pool}, the 2×2 max-pool after it), Identity layers skipped, every other
     * layer by its ordinary forward (reused outputs).
     */
    static final class Infer {
        final List<Module> layers = new ArrayList<>();
        final List<Runnable> steps = new ArrayList<>();
        final List<String> names = new ArrayList<>();
        Tensor out;

        Infer(Sequential m, int n, boolean pool) {
            m.reuseOutputs(true);
            layers.addAll(m.layers());
            int[] shape = {n, 1, 28, 28};
            Tensor[] cur = new Tensor[1];
            for (int i = 0; i < layers.size(); i++) {
                Module l = layers.get(i);
                if (l instanceof Identity) continue;
                if (l instanceof Conv2d c) {
                    int j = i + 1;
                    while (layers.get(j) instanceof Identity) j++;
                    Epilogue f = Epilogue.IDENTITY;
                    if (layers.get(j) instanceof Activation.ReLU) {
                        f = Epilogue.RELU;
                        i = j;
                    }
                    boolean fusePool = pool && i + 1 < layers.size() && layers.get(i + 1) instanceof MaxPool2d;
                    if (fusePool) i++;
                    int[] os = c.outputShape(shape);
                    if (fusePool) os = new int[] {os[0], os[1], os[2] / 2, os[3] / 2};
                    Tensor y = Tensor.zeros(os);
                    int h = shape[2], w = shape[3];
                    Epilogue ff = f;
                    steps.add(fusePool ? () -> c.inferInto(y.data, cur[0].data, n, h, w, ff, 2)
                            : () -> c.inferInto(y.data, cur[0].data, n, h, w, ff));
                    steps.add(() -> cur[0] = y);
                    names.add("conv" + (i + 1) + (f == Epilogue.RELU ? "+relu" : "") + (fusePool ? "+pool" : ""));
                    names.add(null);
                    shape = os;
                } else {
                    Module mod = l;
                    steps.add(() -> cur[0] = mod.forward(cur[0]));
                    names.add(l.getClass().getSimpleName());
                    shape = outShape(mod, shape);
                }
            }
            this.cur = cur;
        }

        private final Tensor[] cur;

        private static int[] outShape(Module m, int[] s) {
            Tensor probe = m.forward(Tensor.zeros(s));
            return probe.shape();
        }

        Tensor forward(Tensor x) {
            cur[0] = x;
            for (Runnable s : steps) s.run();
            return cur[0];
        }

        String splits(Tensor x) {
            int k = steps.size();
            double[][] t = new double[k][200];
            for (int rep = 0; rep < 220; rep++) {
                cur[0] = x;
                for (int i = 0; i < k; i++) {
                    long t0 = System.nanoTime();
                    steps.get(i).run();
                    if (rep >= 20) t[i][rep - 20] = (System.nanoTime() - t0) / 1e3;
                }
            }
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < k; i++) if (names.get(i) != null) b.append(String.format(Locale.ROOT, "%s %.1f, ", names.get(i), median(t[i])));
            return b.toString();
        }
    }

    /** Each layer of the eval model timed alone (median over 200 calls after 20 warm-up calls). */
    static String layerSplits(Sequential m, Tensor x) {
        List<Module> ls = m.layers();
        double[][] t = new double[ls.size()][200];
        for (int rep = 0; rep < 220; rep++) {
            Tensor cur = x;
            for (int i = 0; i < ls.size(); i++) {
                long t0 = System.nanoTime();
                cur = ls.get(i).forward(cur);
                if (rep >= 20) t[i][rep - 20] = (System.nanoTime() - t0) / 1e3;
            }
        }
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < ls.size(); i++) {
            if (ls.get(i) instanceof Identity) continue;
            b.append(String.format(Locale.ROOT, "%s %.1f, ", ls.get(i).getClass().getSimpleName(), median(t[i])));
        }
        return b.toString();
    }

    /** ORT's per-node times (µs, median over 200 runs) from its profiler, nodes by name. */
    static String ortNodes(OrtEnvironment env, Path onnx, OnnxTensor in, int threads) throws Exception {
        Path prefix = Files.createTempDirectory("ortprof").resolve("p");
        String file;
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.setIntraOpNumThreads(threads);
            o.setInterOpNumThreads(1);
            o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            o.enableProfiling(prefix.toString());
            try (OrtSession s = env.createSession(onnx.toString(), o)) {
                for (int i = 0; i < 220; i++) try (OrtSession.Result r = s.run(Map.of(OnnxExport.INPUT, in))) {
                    r.get(0);
                }
                file = s.endProfiling();
            }
        }
        String json = Files.readString(Path.of(file));
        if (System.getProperty("keepProfile") == null) Files.deleteIfExists(Path.of(file));
        else System.err.println("ORT profile: " + file);
        Map<String, List<Double>> per = new LinkedHashMap<>();
        for (com.google.gson.JsonElement e : com.google.gson.JsonParser.parseString(json).getAsJsonArray()) {
            com.google.gson.JsonObject o = e.getAsJsonObject();
            String name = o.get("name").getAsString();
            if (!"Node".equals(o.get("cat").getAsString()) || !name.endsWith("_kernel_time")) continue;
            String op = o.getAsJsonObject("args").get("op_name").getAsString();
            per.computeIfAbsent(name.replace("_kernel_time", "") + " (" + op + ")", k -> new ArrayList<>()).add(o.get("dur").getAsDouble());
        }
        StringBuilder b = new StringBuilder();
        for (Map.Entry<String, List<Double>> e : per.entrySet()) {
            List<Double> v = e.getValue();
            double[] d = v.subList(Math.min(20, v.size() - 1), v.size()).stream().mapToDouble(Double::doubleValue).toArray();
            b.append(String.format(Locale.ROOT, "%s %.1f, ", e.getKey(), median(d)));
        }
        return b.toString();
    }

    /** Outputs of the sides must agree before anything is timed. */
    static void checkAgree(Sequential eval, Infer inf, Infer infPool, OrtSession s, OnnxTensor in, Tensor x) throws OrtException {
        float[] ref = eval.forward(x).data.clone();
        float[] a = inf.forward(x).data, b = infPool.forward(x).data;
        float[] o;
        try (OrtSession.Result r = s.run(Map.of(OnnxExport.INPUT, in))) {
            FloatBuffer fb = ((OnnxTensor) r.get(0)).getFloatBuffer();
            o = new float[fb.remaining()];
            fb.get(o);
        }
        double ea = rel(a, ref), eb = rel(b, ref), eo = rel(o, ref);
        if (ea > 1e-6 || eb > 1e-6 || eo > 1e-4) {
            throw new IllegalStateException("outputs disagree: infer " + ea + ", infer+pool " + eb + ", ort " + eo);
        }
    }

    static double rel(float[] got, float[] ref) {
        double d = 0, m = 1;
        for (int i = 0; i < ref.length; i++) {
            d = Math.max(d, Math.abs((double) got[i] - ref[i]));
            m = Math.max(m, Math.abs(ref[i]));
        }
        return d / m;
    }

    /**
     * Runs the sides in alternating chunks (order rotated every round); returns per side {p50 per kept round, images/s
     * per kept round}. A warm-up of 3 s per side first (JIT, ORT's arena).
     */
    static Map<String, double[][]> alternate(Map<String, Side> sides, int batch, int rounds, long chunk) throws Exception {
        List<String> names = new ArrayList<>(sides.keySet());
        for (int w = 0; w < 6; w++) for (String s : names) chunk(sides.get(s), chunk / 2 + 250_000_000L);
        int drop = rounds / 5;
        Map<String, double[][]> out = new LinkedHashMap<>();
        for (String s : names) out.put(s, new double[2][rounds - drop]);
        for (int r = 0; r < rounds; r++) {
            for (int j = 0; j < names.size(); j++) {
                String s = names.get((j + r) % names.size());
                double[] c = chunk(sides.get(s), chunk);
                if (r >= drop) {
                    out.get(s)[0][r - drop] = c[0];
                    out.get(s)[1][r - drop] = batch * c[1];
                }
            }
        }
        return out;
    }

    /** {p50 µs, calls per second} of one chunk. */
    static double[] chunk(Side s, long nanos) throws Exception {
        double[] lat = new double[1 << 16];
        int calls = 0;
        long t0 = System.nanoTime(), t = t0;
        while ((t - t0 < nanos || calls < 3) && calls < lat.length) {
            s.run();
            long t1 = System.nanoTime();
            lat[calls++] = (t1 - t) / 1e3;
            t = t1;
        }
        return new double[] {median(Arrays.copyOf(lat, calls)), calls / ((t - t0) / 1e9)};
    }

    static int[] ints(String s) {
        return Arrays.stream(s.split(",")).mapToInt(Integer::parseInt).toArray();
    }

    static double median(double[] a) {
        double[] s = a.clone();
        Arrays.sort(s);
        int n = s.length;
        return n == 0 ? Double.NaN : n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    static double min(double[] a) {
        return Arrays.stream(a).min().orElse(Double.NaN);
    }

    static double max(double[] a) {
        return Arrays.stream(a).max().orElse(Double.NaN);
    }

    static String cpuName() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/cpuinfo"))) if (l.startsWith("model name")) return l.substring(l.indexOf(':') + 2);
        } catch (Exception e) {
            // not Linux
        }
        return "?";
    }
}
