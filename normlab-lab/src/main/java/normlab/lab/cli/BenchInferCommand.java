package normlab.lab.cli;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import normlab.infer.Fold;
import normlab.infer.Predictor;
import normlab.io.LayerTypes;
import normlab.io.ModelFiles;
import normlab.io.onnx.OnnxExport;
import normlab.kernels.Parallel;
import normlab.nn.Identity;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.tensor.Rng;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code normlab bench-infer MODEL --batch 1,64 --threads 1,2}: inference latency of a saved model, normlab's
 * {@link Predictor} (BN folded, activations fused) against ONNX Runtime running the same model exported in memory
 * (session with T intra-op threads, input and output tensors bound once). In one JVM the two alternate in chunks of
 * {@code --chunk-ms}, {@code --reps} times after a warm-up, so a noisy machine slows both alike. Per (batch, threads):
 * p50/p99 latency of single calls, throughput, the median over repetitions of the paired p50 ratio (with its range) and
 * the largest output difference. {@code --unfolded} adds the model with BN run as a layer and the same architecture
 * without BN.
 */
@Command(name = "bench-infer", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Times inference of a saved model: normlab's Predictor (BatchNorm folded, activations fused) against "
                + "ONNX Runtime on the same model, alternating in chunks in one JVM.",
            "Prints p50/p99 latency, throughput, the normlab/ORT ratio of p50s and the max output difference per batch "
                + "size and thread count."})
public final class BenchInferCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "The model's weights (x.safetensors, with x.json beside it).")
    Path model;

    @Option(names = "--batch", split = ",", paramLabel = "N", description = "Batch sizes (default: ${DEFAULT-VALUE}).")
    int[] batches = {1, 64};

    @Option(names = "--threads", split = ",", paramLabel = "T", description = "Thread counts, normlab's kernels and ORT's intra-op pool (default: ${DEFAULT-VALUE}).")
    int[] threads = {1, 2};

    @Option(names = "--input-shape", split = ",", paramLabel = "D",
            description = "Input shape without the batch dimension, e.g. 1,28,28 (default: the first Linear's input size).")
    int[] inputShape;

    @Option(names = "--unfolded", description = "Also time the model with BatchNorm run as a layer, and the same architecture without BatchNorm.")
    boolean unfolded;

    @Option(names = "--reps", paramLabel = "R", description = "Timed repetitions per engine (default: ${DEFAULT-VALUE}).")
    int reps = 15;

    @Option(names = "--chunk-ms", paramLabel = "MS", description = "Length of one timed chunk (default: ${DEFAULT-VALUE}).")
    int chunkMs = 200;

    @Option(names = "--out", paramLabel = "FILE", description = "Also write the table as CSV.")
    Path out;

    @Option(names = "--force", description = "Overwrite --out if it exists.")
    boolean force;

    /** One timed variant: a name and a call that runs one batch. */
    private record Engine(String name, Run run) {}

    @FunctionalInterface
    private interface Run {
        void call() throws Exception;
    }

    @Override
    public Integer call() throws Exception {
        for (int b : batches) if (b < 1) throw CliErrors.usage("--batch: sizes must be at least 1, got " + b);
        for (int t : threads) CliErrors.checkThreads("bench-infer", t, System.err);
        if (reps < 1) throw CliErrors.usage("--reps must be at least 1, got " + reps);
        if (chunkMs < 1) throw CliErrors.usage("--chunk-ms must be at least 1, got " + chunkMs);
        if (inputShape != null) for (int d : inputShape) if (d <= 0) throw CliErrors.usage("--input-shape: dimensions must be positive, got " + Arrays.toString(inputShape));
        CliErrors.requireInputFile(model, "model weights");
        if (out != null) CliErrors.requireOutputFile(out, "--out", force);
        Module m;
        try {
            m = ModelFiles.load(model);
        } catch (IOException | RuntimeException e) {
            throw CliErrors.input(e instanceof IOException io ? CliErrors.describe(io) : model + ": " + CliErrors.oneLine(e.getMessage()));
        }
        int[] shape = inputShape != null ? inputShape : firstLinearInput(m);
        int maxBatch = Arrays.stream(batches).max().orElse(1);
        Module folded = Fold.foldWhereAllowed(m).model();
        Predictor pred, bnEval = null, noBn = null;
        byte[] onnx;
        try {
            pred = Predictor.of(folded, shape, maxBatch, false);
            if (unfolded) {
                bnEval = Predictor.of(m, shape, maxBatch, false);
                noBn = Predictor.of(withoutIdentities(folded), shape, maxBatch, false);
            }
            onnx = OnnxExport.toModel(folded, shape, false).toByteArray();
        } catch (OnnxExport.NotExportableException e) {
            throw CliErrors.input(model + " cannot run in ONNX Runtime: " + CliErrors.oneLine(e.getMessage()));
        } catch (RuntimeException e) {
            throw CliErrors.usage("--input-shape " + Arrays.toString(shape) + " does not fit " + model + ": " + CliErrors.oneLine(e.getMessage()));
        }
        int inSize = Arrays.stream(shape).reduce(1, (a, b) -> a * b), outSize = Arrays.stream(pred.outputShape()).reduce(1, (a, b) -> a * b);
        System.out.printf(Locale.ROOT, "bench-infer %s, input %s, %d cores, %s; chunks of %d ms, %d repetitions%n", model,
                Arrays.toString(shape), Runtime.getRuntime().availableProcessors(), System.getProperty("java.vm.version"), chunkMs, reps);
        System.out.print(pred.describe().lines().map(l -> "  " + l + "\n").reduce("", String::concat));
        System.out.printf(Locale.ROOT, "%6s %3s  %-14s %10s %10s %12s %18s %10s%n", "batch", "T", "engine", "p50 us", "p99 us", "samples/s",
                "p50 ratio vs ORT", "max|diff|");
        List<String> csv = new ArrayList<>();
        csv.add("model,batch,threads,engine,p50_us,p99_us,samples_per_s,p50_ratio_vs_ort,ratio_min,ratio_max,max_abs_diff");
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        int oldThreads = Parallel.threads();
        try {
            for (int t : threads) {
                Parallel.setThreads(t);
                try (OrtSession.SessionOptions so = new OrtSession.SessionOptions()) {
                    so.setIntraOpNumThreads(t);
                    so.setInterOpNumThreads(1);
                    so.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
                    try (OrtSession session = env.createSession(onnx, so)) {
                        for (int b : batches) {
                            float[] x = new float[b * inSize], y = new float[b * outSize];
                            Rng rng = new Rng(b * 31L + t);
                            for (int i = 0; i < x.length; i++) x[i] = rng.nextFloat();
                            FloatBuffer xin = ByteBuffer.allocateDirect(4 * x.length).order(ByteOrder.nativeOrder()).asFloatBuffer().put(x);
                            FloatBuffer yout = ByteBuffer.allocateDirect(4 * y.length).order(ByteOrder.nativeOrder()).asFloatBuffer();
                            xin.rewind();
                            long[] inDims = dims(b, shape), outDims = dims(b, pred.outputShape());
                            try (OnnxTensor in = OnnxTensor.createTensor(env, xin, inDims);
                                 OnnxTensor outT = OnnxTensor.createTensor(env, yout, outDims)) {
                                Map<String, OnnxTensor> inputs = Map.of(OnnxExport.INPUT, in), outputs = Map.of(OnnxExport.OUTPUT, outT);
                                List<Engine> engines = new ArrayList<>();
                                engines.add(new Engine("ort", () -> session.run(inputs, outputs).close()));
                                engines.add(new Engine("normlab", () -> pred.predictInto(y, x, b)));
                                if (unfolded) {
                                    Predictor p0 = bnEval, p1 = noBn;
                                    engines.add(new Engine("normlab bn-eval", () -> p0.predictInto(y, x, b)));
                                    engines.add(new Engine("normlab no-bn", () -> p1.predictInto(y, x, b)));
                                }
                                // outputs: normlab against ORT
                                session.run(inputs, outputs).close();
                                float[] ort = new float[y.length];
                                outT.getFloatBuffer().get(ort);
                                pred.predictInto(y, x, b);
                                double diff = 0;
                                for (int i = 0; i < y.length; i++) diff = Math.max(diff, Math.abs(y[i] - ort[i]));
                                timeAndReport(engines, b, t, diff, csv);
                            }
                        }
                    }
                }
            }
        } catch (OrtException e) {
            throw CliErrors.input("ONNX Runtime refused the exported model: " + CliErrors.oneLine(e.getMessage()));
        } finally {
            Parallel.setThreads(oldThreads);
        }
        if (out != null) {
            try {
                Files.write(out, csv);
            } catch (IOException e) {
                throw CliErrors.output("cannot write " + out + ": " + CliErrors.describe(e));
            }
            System.out.println("wrote " + out);
        }
        return 0;
    }

    /** Warm-up, then reps rounds of one chunk per engine in rotating order; prints and records one row per engine. */
    private void timeAndReport(List<Engine> engines, int batch, int threads, double diff, List<String> csv) throws Exception {
        int e = engines.size();
        for (int w = 0; w < 2; w++) for (Engine en : engines) chunk(en, Math.max(chunkMs, 300), null);
        List<List<Long>> all = new ArrayList<>();
        double[][] p50s = new double[e][reps];
        for (int i = 0; i < e; i++) all.add(new ArrayList<>());
        for (int r = 0; r < reps; r++) {
            for (int j = 0; j < e; j++) {
                int which = (j + r) % e;
                List<Long> lat = new ArrayList<>();
                chunk(engines.get(which), chunkMs, lat);
                all.get(which).addAll(lat);
                p50s[which][r] = quantile(lat, 0.5);
            }
        }
        for (int i = 0; i < e; i++) {
            List<Long> l = all.get(i);
            double p50 = quantile(l, 0.5) / 1e3, p99 = quantile(l, 0.99) / 1e3;
            double mean = l.stream().mapToLong(Long::longValue).average().orElse(Double.NaN) / 1e9;
            double tput = batch / mean;
            String ratio = "", rmin = "", rmax = "";
            if (i > 0) {
                double[] q = new double[reps];
                for (int r = 0; r < reps; r++) q[r] = p50s[i][r] / p50s[0][r];
                Arrays.sort(q);
                ratio = String.format(Locale.ROOT, "%.3f", q[reps / 2]);
                rmin = String.format(Locale.ROOT, "%.3f", q[0]);
                rmax = String.format(Locale.ROOT, "%.3f", q[reps - 1]);
            }
            String d = i == 1 ? String.format(Locale.ROOT, "%.2e", diff) : "";
            System.out.printf(Locale.ROOT, "%6d %3d  %-14s %10.2f %10.2f %12.0f %18s %10s%n", batch, threads, engines.get(i).name(), p50, p99, tput,
                    ratio.isEmpty() ? "" : ratio + " (" + rmin + "-" + rmax + ")", d);
            csv.add(String.format(Locale.ROOT, "%s,%d,%d,%s,%.3f,%.3f,%.1f,%s,%s,%s,%s", model.getFileName(), batch, threads, engines.get(i).name(),
                    p50, p99, tput, ratio, rmin, rmax, d));
        }
    }

    /** Calls {@code en} for {@code ms} milliseconds (at least 3 calls); the latency of each call into {@code lat}. */
    private static void chunk(Engine en, int ms, List<Long> lat) throws Exception {
        long end = System.nanoTime() + ms * 1_000_000L;
        for (int calls = 0; calls < 3 || System.nanoTime() < end; calls++) {
            long t0 = System.nanoTime();
            en.run().call();
            long t1 = System.nanoTime();
            if (lat != null) lat.add(t1 - t0);
        }
    }

    private static double quantile(List<Long> l, double q) {
        long[] a = l.stream().mapToLong(Long::longValue).toArray();
        Arrays.sort(a);
        return a[(int) Math.min(a.length - 1, Math.round(q * (a.length - 1)))];
    }

    private static long[] dims(int batch, int[] shape) {
        long[] d = new long[shape.length + 1];
        d[0] = batch;
        for (int i = 0; i < shape.length; i++) d[i + 1] = shape[i];
        return d;
    }

    /** The input size of the model's first layer when it is a Linear; otherwise --input-shape is required. */
    private int[] firstLinearInput(Module m) {
        Module first = m;
        while (first instanceof Sequential s && s.size() > 0) first = s.get(0);
        if (first instanceof Linear l) return new int[] {l.in};
        throw CliErrors.usage("--input-shape is required: " + model + " starts with " + first.label() + ", not a Linear");
    }

    /** The same architecture without BatchNorm: the folded model with the Identity left by each folded BN removed. */
    private static Module withoutIdentities(Module folded) {
        List<Module> keep = new ArrayList<>();
        collect(LayerTypes.copy(folded), keep);
        Sequential s = new Sequential(keep);
        s.eval();
        return s;
    }

    private static void collect(Module m, List<Module> out) {
        if (m instanceof Sequential s) for (Module c : s.layers()) collect(c, out);
        else if (!(m instanceof Identity)) out.add(m);
    }
}
