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
import com.google.gson.JsonObject;
import normlab.lab.evidence.RunControl;
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
    /** The state of a reproduce in its runs directory: its options and the run directory of each experiment. */
    static final String REPRODUCE_STATE = "reproduce.json";

    /** Experiments whose command has options of its own, by name. */
    private static final Map<String, Supplier<Object>> OWN_COMMAND = Map.of("mnist", MnistCommand::new);

    /** Adds the subcommands to {@code normlab}, in the order of its help: Figure 1, the model tools, the experiments, the rest. */
    @Override
    public CommandSpec transform(CommandSpec spec) {
        List<Experiment<?, ?>> all = Experiments.ALL;
        add(spec, all.get(0));
        for (Object tool : tools()) spec.addSubcommand(null, new CommandLine(tool));
        for (Experiment<?, ?> e : all.subList(1, all.size())) add(spec, e);
        for (Object c : List.of(new ReportCmd(), new ReproduceCmd(), new CommandLine.HelpCommand())) spec.addSubcommand(null, new CommandLine(c));
        return spec;
    }

    /**
     * The model tools; {@code bench-infer} only where ONNX Runtime is on the class path (the normlab jar has it; the
     * spark-submit jar of normlab-spark leaves its ~90 MB out).
     */
    private static List<Object> tools() {
        List<Object> tools = new ArrayList<>(List.of(new FoldCommand(), new RecalibrateCommand(), new ExportCommand()));
        try {
            Class.forName("ai.onnxruntime.OrtEnvironment", false, ExperimentCommands.class.getClassLoader());
            tools.add(new BenchInferCommand());
        } catch (ClassNotFoundException | LinkageError e) {
            // no ONNX Runtime: no bench-infer
        }
        return tools;
    }

    private static void add(CommandSpec spec, Experiment<?, ?> e) {
        Supplier<Object> own = OWN_COMMAND.get(e.name());
        CommandLine cl = new CommandLine(own != null ? own.get() : new ExperimentCommand(e));
        cl.getCommandSpec().usageMessage().description(e.help().toArray(new String[0]));
        for (Experiment.Option o : e.options()) {
            cl.getCommandSpec().addOption(CommandLine.Model.OptionSpec.builder(o.name()).paramLabel(o.label()).type(String.class)
                    .defaultValue(o.defaultValue()).description(o.description() + " (default: ${DEFAULT-VALUE}).").build());
        }
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

        @Option(names = "--checkpoint-every", paramLabel = "SECONDS",
                description = "Save each training run's checkpoint every SECONDS of wall time (default: ${DEFAULT-VALUE}; 0: only when "
                        + "interrupted and when a run ends). Checkpoints never change the results.")
        double checkpointEvery = 30;

        @Option(names = "--spark", arity = "0..1", paramLabel = "MASTER", fallbackValue = "", converter = SparkBackend.MasterOption.class,
                description = "Train each run (setting × seed) as a task on Apache Spark: MASTER is local[N], spark://HOST:PORT, yarn, … "
                        + "(default: spark-submit's master, else local[T] with T from --threads). Results are those of a local run. Needs "
                        + "./normlab-on-spark (docs/spark.md).")
        String spark;

        /** The Spark application of --spark (null: train here); closing it stops Spark. */
        SparkBackend.Cluster cluster(String command) {
            return spark == null ? null : SparkBackend.open(command, spark, threads);
        }

        /** The values of the experiment's own options ({@link Experiment#options}), by option name, defaults included. */
        final Map<String, String> own = new java.util.LinkedHashMap<>();

        /** The options that decide the results, for run.json (an own option {@code --chunk} as {@code chunk}). */
        JsonObject json() {
            JsonObject o = new JsonObject();
            o.addProperty("quick", quick);
            o.addProperty("seeds", seeds);
            o.addProperty("seed", seed);
            o.addProperty("threads", threads);
            own.forEach((k, v) -> o.addProperty(key(k), v));
            return o;
        }

        static String key(String option) {
            return option.replaceFirst("^-+", "");
        }

        void checkCheckpointEvery() {
            if (!(checkpointEvery >= 0) || !Double.isFinite(checkpointEvery)) {
                throw CliErrors.usage("--checkpoint-every must be a number of seconds >= 0, got " + checkpointEvery);
            }
        }

        /**
         * For a resumed run: each option {@code {flag, key}} must be in {@code saved} (else a bad-input error), and one
         * given on the command line must equal the saved value (else a usage error naming both).
         */
        static void requireSavedOptions(JsonObject saved, JsonObject given, CommandLine.ParseResult parsed, Path dir, String[][] options) {
            for (String[] o : options) {
                if (!saved.has(o[1])) throw CliErrors.input("--resume " + dir + ": " + RunControl.STATE + " lacks the option " + o[0]);
                if (parsed.hasMatchedOption(o[0]) && !given.get(o[1]).equals(saved.get(o[1]))) {
                    throw CliErrors.usage(o[0] + " " + given.get(o[1]).getAsString() + " conflicts with the run's " + o[0] + " "
                            + saved.get(o[1]).getAsString() + " (a resumed run keeps its options; omit it)");
                }
            }
        }

        /**
         * Takes the options saved in run.json ({@code saved}); an option given on the command line that differs is a
         * usage error (--threads may differ: results do not depend on it).
         */
        void adopt(JsonObject saved, CommandLine.ParseResult parsed, Path dir) {
            requireSavedOptions(saved, json(), parsed, dir, new String[][] {{"--quick", "quick"}, {"--seeds", "seeds"}, {"--seed", "seed"}});
            requireSavedOptions(saved, json(), parsed, dir, own.keySet().stream().map(k -> new String[] {k, key(k)}).toArray(String[][]::new));
            try {
                own.replaceAll((k, v) -> saved.get(key(k)).getAsString());
                quick = saved.get("quick").getAsBoolean();
                seeds = saved.get("seeds").getAsInt();
                seed = saved.get("seed").getAsLong();
                if (!parsed.hasMatchedOption("--threads") && saved.has("threads")) threads = saved.get("threads").getAsInt();
            } catch (RuntimeException e) {
                throw CliErrors.input("--resume " + dir + ": " + RunControl.STATE + " has a bad option value (" + e.getMessage() + ")");
            }
        }

        /** The settings these options give; refuses invalid values and unusable directories before any work (exit 2 or 4). */
        Settings settings(String command) {
            return settings(command, true);
        }

        Settings settings(String command, boolean checkDirs) {
            if (seeds < 1) throw CliErrors.usage("--seeds must be at least 1, got " + seeds);
            checkCheckpointEvery();
            CliErrors.checkThreads(command, threads, System.err);
            if (checkDirs) {
                if (Files.exists(runsDir) && !Files.isDirectory(runsDir)) throw CliErrors.output("--runs-dir " + runsDir + ": exists and is not a directory");
                if (out != null) CliErrors.requireNewRunDir(out, "--out");
                else CliErrors.requireNewRunDir(runsDir.resolve("x"), "--runs-dir");
            }
            return new Settings(quick, Runs.seeds(seed, seeds), threads, System.err, own);
        }
    }

    /** The command of one experiment: runs it at its defaults into its run directory. */
    @Command(mixinStandardHelpOptions = true)
    static final class ExperimentCommand implements Callable<Integer> {
        private final Experiment<?, ?> experiment;

        @Mixin
        Options options;

        @Option(names = "--resume", paramLabel = "DIR",
                description = "Continue the interrupted run in DIR with its own options (--quick, --seeds, --seed and the experiment's own), skipping its "
                        + "finished runs and resuming the others from their checkpoints, bit for bit.")
        Path resume;

        @picocli.CommandLine.Spec
        CommandSpec spec;

        ExperimentCommand(Experiment<?, ?> experiment) {
            this.experiment = experiment;
        }

        /** {@code s}, once the experiment accepts its own options' values (else a one-line usage error, before any work). */
        private Settings valid(Settings s) {
            try {
                experiment.params(s);
            } catch (IllegalArgumentException e) {
                throw CliErrors.usage(CliErrors.oneLine(e.getMessage()));
            }
            return s;
        }

        @Override
        public Integer call() {
            String name = experiment.name();
            for (Experiment.Option o : experiment.options()) options.own.put(o.name(), spec.findOption(o.name()).getValue());
            if (resume == null) {
                Settings s = valid(options.settings(name));
                Path dir = options.out != null ? options.out : newRunDir(options.runsDir, name);
                try (SparkBackend.Cluster cluster = options.cluster(name)) {
                    return runOne(experiment, s, dir, System.out, false, options, "./normlab " + name + " --resume " + dir, cluster);
                }
            }
            var parsed = spec.commandLine().getParseResult();
            if (parsed.hasMatchedOption("--out") || parsed.hasMatchedOption("--runs-dir")) {
                throw CliErrors.usage("--resume takes the run directory itself; do not combine it with --out or --runs-dir");
            }
            JsonObject st = runState(resume, name);
            if (st == null) {
                System.out.println("normlab " + name + ": " + resume + " is complete; nothing to resume");
                return 0;
            }
            options.adopt(st.getAsJsonObject("options"), parsed, resume);
            Settings s = valid(options.settings(name, false));
            try (SparkBackend.Cluster cluster = options.cluster(name)) {
                return runOne(experiment, s, resume, System.out, true, options, "./normlab " + name + " --resume " + resume, cluster);
            }
        }
    }

    /**
     * The state of the run in {@code dir} that {@code command} is to resume; null if it is complete. Refuses (one line)
     * a missing directory, one that is not a run, a run of another command, and a run that cannot go on.
     */
    static JsonObject runState(Path dir, String command) {
        if (!Files.exists(dir)) throw CliErrors.input("--resume " + dir + ": no such directory");
        if (!Files.isDirectory(dir)) throw CliErrors.input("--resume " + dir + ": not a directory");
        JsonObject st;
        try {
            st = RunControl.readState(dir);
        } catch (IOException e) {
            throw CliErrors.input("--resume " + dir + ": " + CliErrors.describe(e));
        }
        if (st == null) throw CliErrors.input("--resume " + dir + ": not a normlab run directory (no " + RunControl.STATE + ")");
        String cmd = st.get("command").getAsString(), state = st.get("state").getAsString();
        if (!cmd.equals(command)) {
            throw CliErrors.input("--resume " + dir + ": a " + cmd + " run; resume it with ./normlab " + cmd + " --resume " + dir);
        }
        if (state.equals("complete")) return null;
        return st;
    }

    /** A fresh run directory {@code runs/<name>-<timestamp>} (with a suffix if that exists already). */
    static Path newRunDir(Path runs, String name) {
        String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        Path d = runs.resolve(name + "-" + stamp);
        for (int i = 2; Files.exists(d); i++) d = runs.resolve(name + "-" + stamp + "-" + i);
        return d;
    }

    /**
     * Runs {@code e} with {@code s} into {@code dir} (resuming the run there if {@code resuming}); returns the exit code
     * (3: no data, 4: cannot write, 130: interrupted — with its checkpoints in {@code dir/checkpoints}, run.json saying
     * so, and one line naming {@code resumeWith}). The run's state goes to {@code dir/run.json} from the start; the
     * run is complete, for the report, only once every file is written. With {@code cluster} (--spark) the experiment's
     * sweeps train there ({@link RunControl.Session#remote}).
     */
    static int runOne(Experiment<?, ?> e, Settings s, Path dir, PrintStream console, boolean resuming, Options o, String resumeWith,
                      SparkBackend.Cluster cluster) {
        try {
            return runOne0(e, s, dir, console, resuming, o, resumeWith, cluster);
        } finally {
            Interrupts.active(false);
        }
    }

    private static int runOne0(Experiment<?, ?> e, Settings s, Path dir, PrintStream console, boolean resuming, Options o,
                               String resumeWith, SparkBackend.Cluster cluster) {
        console.println(e.announce(s) + (resuming ? " (resumed)" : ""));
        boolean existed = Files.exists(dir);
        try {
            RunControl.writeState(dir, e.name(), "running", o.json(), null);
        } catch (IOException ex) {
            if (!existed) deleteTree(dir);
            System.err.println("normlab " + e.name() + ": cannot write " + dir + ": " + CliErrors.describe(ex));
            return 4;
        }
        Published r;
        try (RunControl.Session session = RunControl.open(dir.resolve(CHECKPOINTS), o.checkpointEvery, resuming)) {
            Interrupts.active(true);
            if (cluster != null) session.remote(cluster.runs(e.name(), s));
            try {
                r = e.run(s);
            } catch (RunControl.Stopped stopped) {
                writeState(dir, e.name(), "interrupted", o);
                System.err.println("normlab " + e.name() + ": interrupted after " + session.runsDone.get() + " of "
                        + Math.max(session.runsTotal.get(), session.runsDone.get()) + " runs; resume with: " + resumeWith);
                return CliErrors.INTERRUPTED;
            }
        } catch (IOException ex) {
            if (!existed) deleteTree(dir); // nothing trained yet: no partial run directory
            else writeState(dir, e.name(), "failed", o);
            System.err.println("normlab " + e.name() + ": cannot load the data: " + CliErrors.describe(ex));
            return 3;
        } catch (java.io.UncheckedIOException ex) {
            writeState(dir, e.name(), "failed", o);
            System.err.println("normlab " + e.name() + ": cannot write into " + dir + ": " + CliErrors.describe(ex.getCause()));
            return 4;
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            return 130;
        } catch (RuntimeException ex) {
            writeState(dir, e.name(), "failed", o);
            throw ex;
        }
        try {
            r.write(dir);
            RunControl.writeState(dir, e.name(), "complete", o.json(), null); // last: only now is it a result
        } catch (IOException ex) {
            if (!existed) deleteTree(dir); // no partial run directory
            System.err.println("normlab " + e.name() + ": cannot write " + dir + ": " + CliErrors.describe(ex));
            return 4;
        }
        console.print(r.console());
        console.println("  Run directory: " + dir.toAbsolutePath().normalize());
        return 0;
    }

    /** Where an experiment's run directory keeps its training checkpoints (one per run: run-000, run-001, …). */
    static final String CHECKPOINTS = "checkpoints";

    private static void writeState(Path dir, String command, String state, Options o) {
        try {
            RunControl.writeState(dir, command, state, o.json(), null);
        } catch (IOException ignored) {
            // best effort: the checkpoints are what matters
        }
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

        @Option(names = "--resume", description = "Continue the interrupted reproduce in --runs-dir (its " + REPRODUCE_STATE
                + "): finished experiments are kept, the interrupted one resumes from its checkpoints, the rest run.")
        boolean resume;

        @picocli.CommandLine.Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            long t0 = System.nanoTime();
            var parsed = spec.commandLine().getParseResult();
            Path stateFile = options.runsDir.resolve(REPRODUCE_STATE);
            JsonObject state = new JsonObject();
            if (resume) {
                if (parsed.hasMatchedOption("--out")) throw CliErrors.usage("--out cannot be combined with reproduce");
                if (!Files.isRegularFile(stateFile)) {
                    throw CliErrors.input("--resume: " + stateFile + " not found (no reproduce to resume in --runs-dir " + options.runsDir + ")");
                }
                try {
                    state = com.google.gson.JsonParser.parseString(Files.readString(stateFile)).getAsJsonObject();
                    options.adopt(state.getAsJsonObject("options"), parsed, options.runsDir);
                    state.getAsJsonObject("dirs").size();
                } catch (IOException | RuntimeException e) {
                    if (e instanceof CliErrors.Failure f) throw f;
                    throw CliErrors.input("--resume: " + stateFile + ": not a reproduce state (" + CliErrors.oneLine(e.getMessage()) + ")");
                }
            }
            Settings s = options.settings("reproduce", !resume);
            if (!resume) {
                state.add("options", options.json());
                state.add("dirs", new JsonObject());
            }
            String resumeWith = "./normlab reproduce --all --resume" + (options.runsDir.equals(Path.of("runs")) ? "" : " --runs-dir " + options.runsDir);
            List<String> failed = new ArrayList<>();
            try (SparkBackend.Cluster cluster = options.cluster("reproduce")) {
                for (Experiment<?, ?> e : Experiments.ALL) {
                    JsonObject dirs = state.getAsJsonObject("dirs");
                    Path dir = dirs.has(e.name()) ? options.runsDir.resolve(dirs.get(e.name()).getAsString()) : null;
                    if (dir != null && RunControl.finished(dir) && Files.isDirectory(dir)) continue; // done before the interruption
                    boolean again = dir != null && Files.isDirectory(dir);
                    if (dir == null || !again) {
                        dir = newRunDir(options.runsDir, e.name());
                        dirs.addProperty(e.name(), dir.getFileName().toString());
                        try {
                            Files.createDirectories(options.runsDir);
                            normlab.io.AtomicFiles.write(stateFile, (state + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
                        } catch (IOException ex) {
                            System.err.println("normlab reproduce: cannot write " + stateFile + ": " + CliErrors.describe(ex));
                            return 4;
                        }
                    }
                    int code = runOne(e, s, dir, System.out, again, options, resumeWith, cluster);
                    if (code == CliErrors.INTERRUPTED) return code;
                    if (code != 0) failed.add(e.name());
                }
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
