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
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import normlab.lab.evidence.EvidenceReport;
import normlab.lab.evidence.Experiment;
import normlab.lab.evidence.Experiments;
import normlab.lab.evidence.Published;
import normlab.lab.evidence.Runs;
import normlab.lab.evidence.Settings;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/**
 * The subcommands of {@code normlab}, generated from the list of experiments ({@link Experiments#ALL}): one
 * {@link ExperimentCommand} per experiment, with the options every experiment takes and the experiment's help, except
 * for an experiment with options of its own (Figure 1's {@code mnist}); the model tools; {@code report}, which
 * assembles the runs directory into one HTML page; and {@code reproduce --all}, which runs every experiment and the
 * report.
 */
public final class ExperimentCommands implements CommandLine.IModelTransformer {
    /** Experiments whose command has options of its own, by name. */
    private static final Map<String, Supplier<Object>> OWN_COMMAND = Map.of("mnist", MnistCommand::new);

    /** Adds the subcommands to {@code normlab}, in the order of its help: Figure 1, the model tools, the experiments, the rest. */
    @Override
    public CommandSpec transform(CommandSpec spec) {
        List<Experiment<?, ?>> all = Experiments.ALL;
        add(spec, all.get(0));
        for (Object tool : List.of(new FoldCommand(), new RecalibrateCommand(), new ExportCommand(), new BenchInferCommand())) spec.addSubcommand(null, new CommandLine(tool));
        for (Experiment<?, ?> e : all.subList(1, all.size())) add(spec, e);
        for (Object c : List.of(new ReportCmd(), new ReproduceCmd(), new CommandLine.HelpCommand())) spec.addSubcommand(null, new CommandLine(c));
        return spec;
    }

    private static void add(CommandSpec spec, Experiment<?, ?> e) {
        Supplier<Object> own = OWN_COMMAND.get(e.name());
        CommandLine cl = new CommandLine(own != null ? own.get() : new ExperimentCommand(e));
        cl.getCommandSpec().usageMessage().description(e.help().toArray(new String[0]));
        spec.addSubcommand(e.name(), cl);
    }

    /** Options every experiment takes. */
    static final class Options {
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

        /** The settings these options give; refuses invalid values and unusable directories before any work (exit 2 or 4). */
        Settings settings(String command) {
            if (seeds < 1) throw CliErrors.usage("--seeds must be at least 1, got " + seeds);
            CliErrors.checkThreads(command, threads, System.err);
            if (Files.exists(runsDir) && !Files.isDirectory(runsDir)) throw CliErrors.output("--runs-dir " + runsDir + ": exists and is not a directory");
            if (out != null) CliErrors.requireNewRunDir(out, "--out");
            else CliErrors.requireNewRunDir(runsDir.resolve("x"), "--runs-dir");
            return new Settings(quick, Runs.seeds(seed, seeds), threads, System.err);
        }
    }

    /** The command of one experiment: runs it at its defaults into its run directory. */
    @Command(mixinStandardHelpOptions = true)
    static final class ExperimentCommand implements Callable<Integer> {
        private final Experiment<?, ?> experiment;

        @Mixin
        Options options;

        ExperimentCommand(Experiment<?, ?> experiment) {
            this.experiment = experiment;
        }

        @Override
        public Integer call() {
            Settings s = options.settings(experiment.name());
            return runOne(experiment, s, options.out != null ? options.out : newRunDir(options.runsDir, experiment.name()), System.out);
        }
    }

    /** A fresh run directory {@code runs/<name>-<timestamp>} (with a suffix if that exists already). */
    static Path newRunDir(Path runs, String name) {
        String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        Path d = runs.resolve(name + "-" + stamp);
        for (int i = 2; Files.exists(d); i++) d = runs.resolve(name + "-" + stamp + "-" + i);
        return d;
    }

    /** Runs {@code e} with {@code s} into {@code dir}; returns the exit code (3: no data, 4: cannot write, 130: interrupted). */
    static int runOne(Experiment<?, ?> e, Settings s, Path dir, PrintStream console) {
        console.println(e.announce(s));
        Published r;
        try {
            r = e.run(s);
        } catch (IOException ex) {
            System.err.println("normlab " + e.name() + ": cannot load the data: " + CliErrors.describe(ex));
            return 3;
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            return 130;
        }
        boolean existed = Files.exists(dir);
        try {
            r.write(dir);
        } catch (IOException ex) {
            if (!existed) deleteTree(dir); // no partial run directory
            System.err.println("normlab " + e.name() + ": cannot write " + dir + ": " + CliErrors.describe(ex));
            return 4;
        }
        console.print(r.console());
        console.println("  Run directory: " + dir.toAbsolutePath().normalize());
        return 0;
    }

    private static void deleteTree(Path dir) {
        try (var w = Files.walk(dir)) {
            w.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // best effort
        }
    }

    @Command(name = "report", mixinStandardHelpOptions = true, description = "Assembles <runs-dir>/report.html from the newest Figure 1 run and the "
            + "newest run of every experiment found in the runs directory.")
    static final class ReportCmd implements Callable<Integer> {
        @Option(names = "--runs-dir", paramLabel = "DIR", description = "The runs directory (default: ${DEFAULT-VALUE}).")
        Path runsDir = Path.of("runs");

        @Override
        public Integer call() {
            if (!Files.isDirectory(runsDir)) {
                throw CliErrors.input("--runs-dir " + runsDir + (Files.exists(runsDir) ? ": not a directory" : ": no such directory"));
            }
            try {
                Path p = EvidenceReport.write(runsDir);
                System.out.println("Report: " + p.toAbsolutePath().normalize());
                return 0;
            } catch (IOException e) {
                System.err.println("normlab report: " + CliErrors.describe(e));
                return 4;
            }
        }
    }

    @Command(name = "reproduce", mixinStandardHelpOptions = true, description = "Runs Figure 1 (mnist), every experiment and the report into the runs "
            + "directory. With --quick everything takes a few minutes on 2 cores.")
    static final class ReproduceCmd implements Callable<Integer> {
        @Option(names = "--all", required = true, description = "Run everything (required; the only mode).")
        boolean all;

        @Mixin
        Options options;

        @Override
        public Integer call() {
            long t0 = System.nanoTime();
            Settings s = options.settings("reproduce");
            List<String> failed = new ArrayList<>();
            for (Experiment<?, ?> e : Experiments.ALL) {
                if (runOne(e, s, newRunDir(options.runsDir, e.name()), System.out) != 0) failed.add(e.name());
            }
            try {
                Path p = EvidenceReport.write(options.runsDir);
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
    }
}
