package normlab.lab.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import normlab.data.Dataset;
import normlab.lab.evidence.EvidenceReport;
import normlab.lab.evidence.Experiments;
import normlab.lab.evidence.RunOutput;
import normlab.lab.evidence.Runs;
import normlab.lab.evidence.Settings;
import normlab.lab.experiments.MnistExperiment;
import normlab.lab.report.MnistReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The evidence subcommands: one per experiment ({@code lr-sweep}, {@code init-sweep}, {@code batch-sweep},
 * {@code shift}, {@code dropout}, {@code landscape}, {@code zoo}), sharing their options through
 * {@link ExperimentCommand}; {@code report}, which assembles the runs directory into one HTML page; and
 * {@code reproduce --all}, which runs Figure 1, every experiment and the report.
 */
public final class EvidenceCommands {
    private EvidenceCommands() {}

    /** Options every experiment takes, and running one experiment into its run directory. */
    abstract static class ExperimentCommand implements Callable<Integer> {
        @Option(names = "--quick", description = "Short version: small data slices and few steps (minutes, for CI).")
        boolean quick;

        @Option(names = "--seeds", paramLabel = "N", description = "Number of seeds per setting (default: ${DEFAULT-VALUE}).")
        int seeds = 3;

        @Option(names = "--seed", paramLabel = "S", description = "First seed; seeds are S, S+1, … (default: ${DEFAULT-VALUE}).")
        long seed = 1;

        @Option(names = "--threads", paramLabel = "T", description = "Runs in parallel (default: ${DEFAULT-VALUE}, from the cores available).")
        int threads = Math.min(2, Runtime.getRuntime().availableProcessors());

        @Option(names = "--runs-dir", paramLabel = "DIR", description = "Where run directories go (default: ${DEFAULT-VALUE}).")
        Path runsDir = Path.of("runs");

        @Option(names = "--out", paramLabel = "DIR", description = "Run directory (default: <runs-dir>/<experiment>-<timestamp>).")
        Path out;

        abstract String experiment();

        @Override
        public Integer call() {
            if (seeds < 1) {
                System.err.println("normlab " + experiment() + ": --seeds must be at least 1, got " + seeds);
                return 2;
            }
            if (threads < 1) {
                System.err.println("normlab " + experiment() + ": --threads must be at least 1, got " + threads);
                return 2;
            }
            Settings s = new Settings(quick, Runs.seeds(seed, seeds), threads, System.err);
            return runOne(Experiments.byName(experiment()), s, out != null ? out : newRunDir(runsDir, experiment()), System.out);
        }
    }

    /** A fresh run directory {@code runs/<name>-<timestamp>} (with a suffix if that exists already). */
    static Path newRunDir(Path runs, String name) {
        String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        Path d = runs.resolve(name + "-" + stamp);
        for (int i = 2; Files.exists(d); i++) d = runs.resolve(name + "-" + stamp + "-" + i);
        return d;
    }

    static int runOne(Experiments.Entry e, Settings s, Path dir, PrintStream console) {
        console.printf(Locale.ROOT, "%s%s: %s; seeds %s, %d thread%s%n", e.name(), s.quick() ? " (quick)" : "", e.description(), s.seeds(),
                s.threads(), s.threads() == 1 ? "" : "s");
        RunOutput r;
        try {
            r = e.runner().run(s);
        } catch (IOException ex) {
            System.err.println("normlab " + e.name() + ": cannot load the data: " + ex.getMessage());
            return 3;
        }
        try {
            r.write(dir);
        } catch (IOException ex) {
            System.err.println("normlab " + e.name() + ": cannot write " + dir + ": " + ex.getMessage());
            return 4;
        }
        for (var c : r.claims) console.printf(Locale.ROOT, "  [%s] %s%n    %s%n", c.verdict().text, c.claim(), c.measurement());
        console.println("  Run directory: " + dir.toAbsolutePath().normalize());
        return 0;
    }

    @Command(name = "lr-sweep", mixinStandardHelpOptions = true, description = "Learning rate ×{1, 3, 10, 30}: the paper's MLP without and with BN; "
            + "accuracy after a fixed step budget, divergence detected and reported.")
    public static final class LrSweepCmd extends ExperimentCommand {
        String experiment() {
            return "lr-sweep";
        }
    }

    @Command(name = "init-sweep", mixinStandardHelpOptions = true, description = "Initial weight std {0.01, 0.1, 1, 3}, He and Xavier: baseline vs BN.")
    public static final class InitSweepCmd extends ExperimentCommand {
        String experiment() {
            return "init-sweep";
        }
    }

    @Command(name = "batch-sweep", mixinStandardHelpOptions = true, description = "Batch 64…2 with BN, GroupNorm, LayerNorm, InstanceNorm, RMSNorm, "
            + "BatchRenorm and none on the small CNN (Fashion-MNIST), lr scaled with the batch: test error vs batch size.")
    public static final class BatchSweepCmd extends ExperimentCommand {
        String experiment() {
            return "batch-sweep";
        }
    }

    @Command(name = "shift", mixinStandardHelpOptions = true, description = "Train/test discrepancy: batch vs running statistics by test batch size; "
            + "a domain shift and its repair by recalibration against the number of samples.")
    public static final class ShiftCmd extends ExperimentCommand {
        String experiment() {
            return "shift";
        }
    }

    @Command(name = "dropout", mixinStandardHelpOptions = true, description = "Dropout before BN vs after the last BN at p ∈ {0, 0.1, 0.3, 0.5}: "
            + "variance shift per BN layer and test accuracy.")
    public static final class DropoutCmd extends ExperimentCommand {
        String experiment() {
            return "dropout";
        }
    }

    @Command(name = "landscape", mixinStandardHelpOptions = true, description = "Why BN works: loss range, gradient predictiveness and β-smoothness "
            + "along the gradient, noisy BN, and internal covariate shift (Santurkar et al. 2018).")
    public static final class LandscapeCmd extends ExperimentCommand {
        String experiment() {
            return "landscape";
        }
    }

    @Command(name = "zoo", mixinStandardHelpOptions = true, description = "Every normalization on the small CNN: accuracy, time per step, inference "
            + "time with folding, RMSNorm vs LayerNorm cost.")
    public static final class ZooCmd extends ExperimentCommand {
        String experiment() {
            return "zoo";
        }
    }

    @Command(name = "report", mixinStandardHelpOptions = true, description = "Assembles <runs-dir>/report.html from the newest Figure 1 run and the "
            + "newest run of every experiment found in the runs directory.")
    public static final class ReportCmd implements Callable<Integer> {
        @Option(names = "--runs-dir", paramLabel = "DIR", description = "The runs directory (default: ${DEFAULT-VALUE}).")
        Path runsDir = Path.of("runs");

        @Override
        public Integer call() {
            try {
                Path p = EvidenceReport.write(runsDir);
                System.out.println("Report: " + p.toAbsolutePath().normalize());
                return 0;
            } catch (IOException e) {
                System.err.println("normlab report: " + e.getMessage());
                return 4;
            }
        }
    }

    @Command(name = "reproduce", mixinStandardHelpOptions = true, description = "Runs Figure 1 (mnist), every experiment and the report into the runs "
            + "directory. With --quick everything takes a few minutes on 2 cores.")
    public static final class ReproduceCmd extends ExperimentCommand {
        @Option(names = "--all", required = true, description = "Run everything (required; the only mode).")
        boolean all;

        String experiment() {
            return "reproduce";
        }

        @Override
        public Integer call() {
            long t0 = System.nanoTime();
            Settings s = new Settings(quick, Runs.seeds(seed, seeds), threads, System.err);
            List<String> failed = new ArrayList<>();
            if (figure1(s) != 0) failed.add("mnist");
            for (Experiments.Entry e : Experiments.ALL) {
                if (runOne(e, s, newRunDir(runsDir, e.name()), System.out) != 0) failed.add(e.name());
            }
            try {
                Path p = EvidenceReport.write(runsDir);
                System.out.printf(Locale.ROOT, "All done in %.0f s. Report: %s%n", (System.nanoTime() - t0) / 1e9, p.toAbsolutePath().normalize());
            } catch (IOException e) {
                System.err.println("normlab reproduce: cannot write the report: " + e.getMessage());
                return 4;
            }
            if (!failed.isEmpty()) {
                System.err.println("normlab reproduce: failed: " + failed);
                return 1;
            }
            return 0;
        }

        /** Figure 1 (the paper's protocol; quick: 5,000 steps and 2,000 test images) into runs/mnist-<timestamp>. */
        int figure1(Settings s) {
            MnistExperiment.Params d = MnistExperiment.Params.defaults();
            MnistExperiment.Params p = quick
                    ? new MnistExperiment.Params(5_000, d.batch(), d.lr(), d.std(), seed, threads, 250, d.unit())
                    : new MnistExperiment.Params(d.steps(), d.batch(), d.lr(), d.std(), seed, threads, d.evalEvery(), d.unit());
            System.out.printf(Locale.ROOT, "mnist%s: Figure 1, %,d steps, seed %d%n", quick ? " (quick)" : "", p.steps(), seed);
            try {
                Dataset train = Runs.data("mnist", true, 0), test = Runs.data("mnist", false, quick ? 2_000 : 0);
                MnistExperiment.Result r = MnistExperiment.run(p, train, test, new MnistExperiment.Progress() {
                    public void onStep(String variant, int step) {}

                    public void onEval(String variant, MnistExperiment.Point pt) {}
                });
                Path dir = newRunDir(runsDir, "mnist");
                Files.createDirectories(dir);
                MnistReport.write(r, quick ? "mnist (first 2000 test images)" : "mnist", dir);
                System.out.print(MnistReport.text(r));
                System.out.println("  Run directory: " + dir.toAbsolutePath().normalize());
                return 0;
            } catch (IOException e) {
                System.err.println("normlab reproduce: mnist: " + e.getMessage());
                return 3;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return 130;
            }
        }
    }
}
