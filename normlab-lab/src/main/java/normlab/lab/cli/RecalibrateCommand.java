package normlab.lab.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import normlab.data.Dataset;
import normlab.data.Datasets;
import normlab.infer.Recalibrate;
import normlab.io.ModelFiles;
import normlab.io.Safetensors;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code normlab recalibrate}: PreciseBN. Replaces every BatchNorm's running statistics of a saved model by the exact
 * population statistics of its inputs over K batches of a dataset ({@link Recalibrate}), and saves the model. With
 * {@code --spark} the same statistics come from Spark executors ({@link SparkBackend.Cluster#recalibrate}).
 */
@Command(name = "recalibrate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Recomputes every BatchNorm's running mean and variance of a saved model as the exact statistics "
                + "(count-weighted mean, pooled unbiased variance) of its inputs over K batches, layer by layer in forward "
                + "order so each layer sees inputs produced by the already recalibrated layers before it.",
            "With a labelled dataset it also reports the accuracy on the other split before and after."})
public final class RecalibrateCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "The model's weights (x.safetensors, with x.json beside it).")
    Path model;

    @Option(names = "--data", required = true, paramLabel = "SRC",
            description = "mnist, fashion, a directory of IDX files (train-images-idx3-ubyte, …; optionally .gz), "
                    + "or a .safetensors file whose tensor 'inputs' holds the samples (N, …).")
    String data;

    @Option(names = "--split", paramLabel = "S", description = "Split of an IDX dataset to draw the batches from: train or test (default: ${DEFAULT-VALUE}).")
    String split = "train";

    @Option(names = "--batches", paramLabel = "K", description = "Number of batches (default: ${DEFAULT-VALUE}).")
    int batches = 50;

    @Option(names = "--batch-size", paramLabel = "B", description = "Samples per batch (default: ${DEFAULT-VALUE}).")
    int batchSize = 100;

    @Option(names = "--seed", paramLabel = "SEED", description = "Seed of the sample order (default: ${DEFAULT-VALUE}).")
    long seed = 1;

    @Option(names = "--input", paramLabel = "SHAPE",
            description = "How images are fed: flat (N, H·W) or image (N, 1, H, W); default: flat when the model starts with a Linear.")
    String input;

    @Option(names = "--out", required = true, paramLabel = "MODEL", description = "Where to write the recalibrated model (and its .json).")
    Path out;

    @Option(names = "--spark", arity = "0..1", paramLabel = "MASTER", fallbackValue = "", converter = SparkBackend.MasterOption.class,
            description = "Compute the statistics on Apache Spark, the samples partitioned across the executors (per-partition "
                    + "moments merged by Chan's update; equal to the local result): MASTER is local[N], spark://HOST:PORT, yarn, … "
                    + "(default: spark-submit's master, else local[N] with N the cores). Needs ./normlab-on-spark (docs/spark.md).")
    String spark;

    @Override
    public Integer call() {
        if (batches <= 0 || batchSize <= 0) {
            System.err.println("normlab recalibrate: --batches and --batch-size must be positive");
            return 2;
        }
        if (input != null && !input.equals("flat") && !input.equals("image")) throw CliErrors.usage("--input must be flat or image, got " + input);
        if (!split.equals("train") && !split.equals("test")) throw CliErrors.usage("--split must be train or test, got " + split);
        String master = spark == null ? null : SparkBackend.master(spark, Runtime.getRuntime().availableProcessors());
        SparkBackend backend = spark == null ? null : SparkBackend.find("recalibrate");
        CliErrors.requireInputFile(model, "model weights");
        CliErrors.requireOutputFile(out, "--out", true);
        try {
            Module m;
            try {
                m = ModelFiles.load(model);
            } catch (IOException e) {
                throw CliErrors.input(CliErrors.describe(e));
            }
            if (!hasRunningStats(m)) throw CliErrors.input(model + ": no normalization layer with running statistics, nothing to recalibrate; nothing written");
            boolean flat = input != null ? input.equals("flat") : firstLeaf(m) instanceof Linear;
            if (input != null && !input.equals("flat") && !input.equals("image")) {
                System.err.println("normlab recalibrate: --input must be flat or image, got " + input);
                return 2;
            }
            List<Tensor> xs;
            Dataset other = null;
            if (data.endsWith(".safetensors")) {
                xs = fromTensorFile(Path.of(data));
            } else {
                boolean train = switch (split) {
                    case "train" -> true;
                    case "test" -> false;
                    default -> throw new IllegalArgumentException("--split must be train or test, got " + split);
                };
                Dataset d = load(data, train);
                xs = sample(d, flat);
                other = load(data, !train);
            }
            double before = other == null ? Double.NaN : accuracy(m, other, flat);
            List<Recalibrate.LayerStats> stats;
            if (backend == null) {
                stats = Recalibrate.run(m, xs);
            } else {
                try (SparkBackend.Cluster c = backend.connect(master, "normlab recalibrate")) {
                    stats = c.recalibrate(m, xs);
                }
            }
            if (stats.isEmpty()) throw CliErrors.input(model + ": no BatchNorm layer with running statistics, nothing to recalibrate; nothing written");
            System.out.printf(Locale.ROOT, "%-28s %14s %14s %14s%n", "layer", "values/channel", "max|Δmean|", "max|Δvar|/var");
            for (Recalibrate.LayerStats s : stats) {
                double dv = 0;
                for (int c = 0; c < s.var().length; c++) dv = Math.max(dv, Math.abs(s.var()[c] - s.oldVar()[c]) / Math.max(1e-12, s.var()[c]));
                System.out.printf(Locale.ROOT, "%-28s %14d %14.4g %14.4g%n", s.layer(), s.count(), s.maxMeanChange(), dv);
            }
            if (other != null) {
                double after = accuracy(m, other, flat);
                System.out.printf(Locale.ROOT, "accuracy on the %s split: %.4f before, %.4f after%n", split.equals("train") ? "test" : "train", before, after);
            }
            ModelFiles.save(m, out);
            System.out.println(stats.size() + " BatchNorm layer(s) recalibrated from " + xs.size() + " batch(es); wrote " + out);
            return 0;
        } catch (IOException | IllegalArgumentException | IllegalStateException e) {
            System.err.println("normlab recalibrate: " + (e instanceof IOException io ? CliErrors.describe(io) : CliErrors.oneLine(e.getMessage())));
            return e instanceof IOException ? CliErrors.INPUT : CliErrors.USAGE;
        }
    }

    private static boolean hasRunningStats(Module m) {
        if (m instanceof normlab.norm.RunningStatsNorm r && r.runningAffine() != null) return true;
        for (Module c : m.children().values()) if (hasRunningStats(c)) return true;
        return false;
    }

    private static Module firstLeaf(Module m) {
        while (!m.children().isEmpty()) m = m.children().values().iterator().next();
        return m;
    }

    private static Dataset load(String src, boolean train) throws IOException {
        return switch (src) {
            case "mnist" -> Datasets.mnist(train);
            case "fashion", "fashion-mnist" -> Datasets.fashionMnist(train);
            default -> Datasets.fromDir(Path.of(src), train);
        };
    }

    /** K batches of B samples in a seeded random order (without replacement). */
    private List<Tensor> sample(Dataset d, boolean flat) {
        if ((long) batches * batchSize > d.n) {
            throw new IllegalArgumentException(batches + " batches of " + batchSize + " need " + (long) batches * batchSize
                    + " samples, " + d.name + " has " + d.n);
        }
        int[] order = Dataset.range(0, d.n);
        new Rng(seed).shuffle(order);
        List<Tensor> out = new ArrayList<>();
        for (int k = 0; k < batches; k++) {
            int[] idx = java.util.Arrays.copyOfRange(order, k * batchSize, (k + 1) * batchSize);
            out.add(flat ? d.batchFlat(idx) : d.batch(idx));
        }
        return out;
    }

    /** Consecutive batches of the file's 'inputs' tensor (the first K·B samples). */
    private List<Tensor> fromTensorFile(Path f) throws IOException {
        if (!Files.isRegularFile(f)) throw new IOException(f + ": no such file");
        Tensor all = Safetensors.read(f).tensors().get("inputs");
        if (all == null || all.rank() < 2) throw new IOException(f + ": expected a tensor 'inputs' of shape (N, …)");
        int n = all.dim(0), per = all.numel() / n;
        int k = Math.min(batches, n / batchSize);
        if (k == 0) throw new IOException(f + ": " + n + " samples, fewer than one batch of " + batchSize);
        List<Tensor> out = new ArrayList<>();
        for (int i = 0; i < k; i++) {
            int[] shape = all.shape();
            shape[0] = batchSize;
            float[] b = java.util.Arrays.copyOfRange(all.data, i * batchSize * per, (i + 1) * batchSize * per);
            out.add(Tensor.of(b, shape));
        }
        return out;
    }

    private static double accuracy(Module m, Dataset d, boolean flat) {
        m.eval();
        int correct = 0;
        for (int i = 0; i < d.n; i += Trainer.EVAL_BATCH) {
            int[] idx = Dataset.range(i, Math.min(d.n, i + Trainer.EVAL_BATCH));
            correct += Trainer.countCorrect(m.forward(flat ? d.batchFlat(idx) : d.batch(idx)), d.labels(idx));
        }
        return (double) correct / d.n;
    }
}
