package normlab.lab.evidence;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicInteger;
import normlab.data.Dataset;
import normlab.io.AtomicFiles;
import normlab.train.Checkpoints;
import normlab.train.Evaluation;
import normlab.train.Hooks;
import normlab.train.NonFiniteException;
import normlab.train.Trainer;

/**
 * Runs that survive interruption: periodic crash-safe checkpoints, a stop request honoured at the next step boundary,
 * and resuming bit for bit.
 *
 * <p>A command that supports it opens a {@link Session} on its run directory; every training run of the lab then goes
 * through {@link #fit}, which (under a session and with a key naming the run) resumes from the run's checkpoint if one
 * exists, saves a checkpoint every {@link Session#everyNanos} of wall time and when a stop is requested (then throws
 * {@link Stopped}), and a last one marked done when the run ends, so a resumed experiment skips finished runs. A
 * checkpoint holds the trainer's complete state ({@link Checkpoints}) and the run's own records ({@link State}: curves,
 * loss accumulators), so nothing the results depend on is lost. Without a session {@code fit} is plain training.
 *
 * <p>The run directory's state is {@code run.json} ({@link #writeState}): the command, its options, and {@code state}
 * (running, interrupted, diverged, failed, complete). The report shows complete runs only.
 *
 * <p>The same checkpoints carry runs between machines ({@code --spark}): a session with {@link RemoteRuns} has each
 * sweep's runs trained elsewhere and resumes them from the done checkpoints that come back; a worker session
 * ({@link #openWorker}, per thread) trains one run of a sweep for {@link SweepWorker}.
 */
public final class RunControl {
    /** The run directory's state file. */
    public static final String STATE = "run.json";

    private static volatile boolean stop;
    private static volatile Session current;
    /** A worker's session, seen by its thread only: a Spark task trains one run beside others in the same JVM. */
    private static final ThreadLocal<Session> WORKER = new ThreadLocal<>();
    private static final ThreadLocal<String> KEY = new ThreadLocal<>();

    private RunControl() {}

    /** Asks every run to stop at its next step boundary (a signal handler, or a test). */
    public static void requestStop() {
        stop = true;
    }

    public static boolean stopRequested() {
        return stop;
    }

    /** Clears a stop request (tests, or a process that goes on after an interrupted run). */
    public static void clearStop() {
        stop = false;
    }

    /** The open session (the current thread's worker session if it has one), or null. */
    public static Session session() {
        Session w = WORKER.get();
        return w != null ? w : current;
    }

    /**
     * A worker's run is done ({@link #openWorker}): thrown by the sweep that holds it, right after it, so the experiment
     * goes no further.
     */
    public static final class WorkerDone extends RuntimeException {
        public WorkerDone() {
            super("the worker's run is done", null, false, false);
        }
    }

    /** A run was stopped on request; its checkpoint is saved. */
    public static final class Stopped extends RuntimeException {
        public Stopped() {
            super("stopped", null, false, false);
        }
    }

    /** The run's own records that go into its checkpoints besides the trainer's state. */
    public interface State {
        /** Metadata strings to save (exact: doubles as hex). */
        Map<String, String> save();

        /** Restores what {@link #save} wrote (from a checkpoint's metadata). */
        void restore(Map<String, String> meta);
    }

    /** No records of its own. */
    public static final State NO_STATE = new State() {
        public Map<String, String> save() {
            return Map.of();
        }

        public void restore(Map<String, String> meta) {}
    };

    /**
     * Checkpointing for one command's run: checkpoints go to {@code dir/<key>.checkpoint.safetensors}, one every
     * {@code everyNanos} (0: only when stopped and at the end of each run); {@code resume} loads existing ones.
     */
    public static final class Session implements AutoCloseable {
        public final Path dir;
        public final long everyNanos;
        public final boolean resume;
        /** Runs of the experiment (set by a sweep) and runs finished, for the interruption message. */
        public final AtomicInteger runsTotal = new AtomicInteger(), runsDone = new AtomicInteger();
        /** Runs that found their checkpoint marked done and ended at once (resumed, or trained by {@link #remote}). */
        public final AtomicInteger runsFoundDone = new AtomicInteger();
        private final Map<String, int[]> progress = new LinkedHashMap<>();
        /** A worker's only run ({@link #openWorker}), else null. */
        private final String only;
        /** Where sweeps train their runs, if not here ({@link #remote(RemoteRuns)}). */
        private volatile RemoteRuns remote;
        /** Runs whose done checkpoints came from {@link #remote}: they resume even in a fresh session. */
        private final java.util.Set<String> preloaded = java.util.concurrent.ConcurrentHashMap.newKeySet();

        private Session(Path dir, double everySeconds, boolean resume, String only) {
            this.dir = dir;
            this.everyNanos = (long) (everySeconds * 1e9);
            this.resume = resume;
            this.only = only;
        }

        /** The one run a worker session trains, or null for a command's session. */
        public String only() {
            return only;
        }

        /** Sends this session's sweeps to {@code r} (null: train them here). */
        public void remote(RemoteRuns r) {
            this.remote = r;
        }

        public RemoteRuns remote() {
            return remote;
        }

        /** Whether the run {@code key} starts from its checkpoint when there is one. */
        boolean resumes(String key) {
            return resume || preloaded.contains(key);
        }

        /**
         * Trains the runs {@code keys} through {@link #remote}, sending the checkpoints this session holds (earlier
         * sweeps' runs, interrupted ones), and stores the done checkpoints that come back, so the runs then resume from
         * them here and end at once.
         */
        void trainRemotely(List<String> keys) throws IOException {
            Map<String, byte[]> have = new LinkedHashMap<>();
            if (Files.isDirectory(dir)) {
                try (var files = Files.list(dir)) {
                    for (Path f : files.sorted().toList()) {
                        String n = f.getFileName().toString();
                        if (n.endsWith(CHECKPOINT)) have.put(n.substring(0, n.length() - CHECKPOINT.length()), Files.readAllBytes(f));
                    }
                }
            }
            Map<String, byte[]> got = remote.train(keys, have);
            Files.createDirectories(dir);
            for (String k : keys) {
                byte[] b = got.get(k);
                if (b == null) throw new IllegalStateException("the remote runs returned no checkpoint for run " + k);
                AtomicFiles.write(checkpoint(k), b);
                preloaded.add(k);
            }
        }

        public Path checkpoint(String key) {
            return dir.resolve(key + CHECKPOINT);
        }

        /** Step and steps of each run seen, by key (for the interruption message). */
        public synchronized Map<String, int[]> progress() {
            Map<String, int[]> m = new LinkedHashMap<>();
            progress.forEach((k, v) -> m.put(k, v.clone()));
            return m;
        }

        synchronized void progress(String key, int step, int steps) {
            progress.put(key, new int[] {step, steps});
        }

        @Override
        public void close() {
            if (WORKER.get() == this) WORKER.remove();
            if (current == this) current = null;
        }
    }

    /** The suffix of a run's checkpoint file. */
    static final String CHECKPOINT = ".checkpoint.safetensors";

    /** Opens the session of a command's run (one at a time per process). */
    public static Session open(Path checkpointDir, double everySeconds, boolean resume) {
        Session s = new Session(checkpointDir, everySeconds, resume, null);
        current = s;
        return s;
    }

    /**
     * Opens a worker's session on the current thread ({@link SweepWorker}): runs resume from the checkpoints in
     * {@code checkpointDir}; the sweep that holds run {@code only} trains that run alone and then ends the experiment
     * ({@link WorkerDone}); checkpoints are saved only when a run ends or is stopped.
     */
    public static Session openWorker(Path checkpointDir, String only) {
        Session s = new Session(checkpointDir, 0, true, only);
        WORKER.set(s);
        return s;
    }

    /** The key of the run the current thread trains (a sweep sets it per task), or null. */
    public static String key() {
        return KEY.get();
    }

    /** Calls {@code c} with the run key {@code key}; refuses to start when a stop was requested ({@link Stopped}). */
    public static <T> T withKey(String key, Callable<T> c) throws Exception {
        if (stop && session() != null) throw new Stopped();
        String old = KEY.get();
        KEY.set(key);
        try {
            T out = c.call();
            Session s = session();
            if (s != null) s.runsDone.incrementAndGet();
            return out;
        } finally {
            KEY.set(old);
        }
    }

    /**
     * Trains {@code t} until it has taken {@code steps} steps in all, evaluating on {@code test} (may be null) after every
     * step that is a multiple of {@code evalEvery} and after the last, as {@link Trainer#fit} does from step 0 — also
     * when resumed from a checkpoint at any step. {@code inner} sees every step and evaluation; it must keep its own
     * records (the {@code trainLoss} it receives covers the current session only) and save them through {@code state}.
     * Under a session and with a non-null {@code key}: resumes from the run's checkpoint (returning at once if it is
     * marked done), saves checkpoints periodically, on a stop request (then throws {@link Stopped}) and when the run ends.
     * A non-finite step goes to {@code inner.onNonFinite} (which may throw); a run that ends early ({@code inner.stop()},
     * or a non-finite step the listener accepted) ends here.
     */
    public static void fit(Trainer t, String key, int steps, int evalEvery, Dataset test, Hooks hooks, Trainer.Listener inner,
                           State state) throws IOException {
        fit(t, key, steps, evalEvery, test, hooks, inner, state, resume(t, key, state));
    }

    /**
     * Under a resuming session: loads the run's checkpoint into {@code t} and {@code state} if there is one, returning its
     * metadata; else null (nothing changed).
     */
    public static Map<String, String> resume(Trainer t, String key, State state) throws IOException {
        Session s = key == null ? null : session();
        if (s == null || !s.resumes(key) || !Files.exists(s.checkpoint(key))) return null;
        Map<String, String> meta = Checkpoints.resume(s.checkpoint(key), t);
        try {
            state.restore(meta);
        } catch (RuntimeException e) {
            throw new normlab.io.ModelFileException(s.checkpoint(key) + ": not a checkpoint of this run (" + e + ")", e);
        }
        return meta;
    }

    /** {@link #fit} after {@link #resume} gave {@code resumed} (null: a fresh start). */
    public static void fit(Trainer t, String key, int steps, int evalEvery, Dataset test, Hooks hooks, Trainer.Listener inner,
                           State state, Map<String, String> resumed) throws IOException {
        Session s = key == null ? null : session();
        Path file = s == null ? null : s.checkpoint(key);
        if (resumed != null && "true".equals(resumed.get("run.done"))) {
            if (s != null) {
                s.progress(key, t.steps(), steps);
                s.runsFoundDone.incrementAndGet();
            }
            return;
        }
        long[] lastSave = {System.nanoTime()};
        boolean[] stopped = {false};
        IOException[] failed = {null};
        Trainer.Listener l = new Trainer.Listener() {
            @Override
            public void beforeStep(int stepsDone, int[] batch) {
                inner.beforeStep(stepsDone, batch);
            }

            @Override
            public void onStep(int step, float loss) {
                inner.onStep(step, loss);
                if (s != null) s.progress(key, step, steps);
            }

            @Override
            public void onEval(int step, double trainLoss, Evaluation ev) {
                inner.onEval(step, trainLoss, ev);
            }

            @Override
            public boolean stop() {
                // A stop request first: a listener that ends its run because another run stopped must not mark it done.
                if (s != null && stop) {
                    stopped[0] = true;
                    return true;
                }
                if (inner.stop()) return true;
                if (s == null) return false;
                if (s.everyNanos > 0 && System.nanoTime() - lastSave[0] >= s.everyNanos) {
                    try {
                        save(file, t, state, false);
                    } catch (IOException e) {
                        failed[0] = e;
                        return true;
                    }
                    lastSave[0] = System.nanoTime();
                }
                return false;
            }

            @Override
            public void onNonFinite(NonFiniteException e) {
                inner.onNonFinite(e);
            }
        };
        while (t.steps() < steps) {
            // Between segments as within them, a stop request comes first: a run that another run's stop ended (through
            // its listener) is saved as unfinished, never marked done short of its steps.
            if (s != null && stop) {
                save(file, t, state, false);
                throw new Stopped();
            }
            if (inner.stop()) break;
            int done = t.steps();
            int next = Math.min(steps, (done / evalEvery + 1) * evalEvery);
            int n = next - done;
            // One segment up to the next evaluation, which fit runs at its last step: the schedule is that of one fit
            // from step 0 whatever step this session started at.
            t.fit(n, n, test, hooks, l);
            if (failed[0] != null) throw failed[0];
            if (stopped[0]) {
                save(file, t, state, false);
                throw new Stopped();
            }
            if (t.steps() < next) break; // ended early
        }
        if (s != null) {
            save(file, t, state, t.steps() >= steps); // ended early (its listener stopped it): resumable, not done
            s.progress(key, t.steps(), steps);
        }
    }

    private static void save(Path file, Trainer t, State state, boolean done) throws IOException {
        Map<String, String> meta = new LinkedHashMap<>(state.save());
        meta.put("run.done", Boolean.toString(done));
        Files.createDirectories(file.getParent());
        Checkpoints.save(file, t, meta);
    }

    // ---- run.json ----

    /** Writes {@code run.json} into {@code dir} atomically: command, state, options, then {@code extra}'s members. */
    public static void writeState(Path dir, String command, String state, JsonObject options, JsonObject extra) throws IOException {
        JsonObject o = new JsonObject();
        o.addProperty("command", command);
        o.addProperty("state", state);
        o.add("options", options);
        if (extra != null) for (var e : extra.entrySet()) o.add(e.getKey(), e.getValue());
        Files.createDirectories(dir);
        AtomicFiles.write(dir.resolve(STATE), (new GsonBuilder().setPrettyPrinting().create().toJson(o) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    /** {@code dir/run.json}, or null if there is none; a file that is not a JSON object is an IOException. */
    public static JsonObject readState(Path dir) throws IOException {
        Path f = dir.resolve(STATE);
        if (!Files.isRegularFile(f)) return null;
        try {
            JsonObject o = JsonParser.parseString(Files.readString(f)).getAsJsonObject();
            if (!o.has("command") || !o.has("state") || !o.has("options")) throw new IOException(f + ": not a normlab run state");
            return o;
        } catch (RuntimeException e) {
            throw new IOException(f + ": not a normlab run state (" + e.getMessage() + ")");
        }
    }

    /** Whether {@code dir} holds a finished run: no {@code run.json} (runs from before it existed) or state complete. */
    public static boolean finished(Path dir) {
        try {
            JsonObject o = readState(dir);
            return o == null || "complete".equals(o.get("state").getAsString());
        } catch (IOException e) {
            return false;
        }
    }

    // ---- exact encodings for checkpoint metadata ----

    /** Doubles as hex bit patterns, comma-separated (exact, NaN included). */
    public static String hex(double... xs) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < xs.length; i++) {
            if (i > 0) sb.append(',');
            sb.append(Long.toHexString(Double.doubleToRawLongBits(xs[i])));
        }
        return sb.toString();
    }

    /** The inverse of {@link #hex}. */
    public static double[] unhex(String s) {
        if (s == null) throw new IllegalArgumentException("missing value in the checkpoint");
        if (s.isEmpty()) return new double[0];
        String[] p = s.split(",");
        double[] out = new double[p.length];
        for (int i = 0; i < p.length; i++) out[i] = Double.longBitsToDouble(Long.parseUnsignedLong(p[i], 16));
        return out;
    }

    /** A list of doubles as {@link #hex}. */
    public static String hex(List<Double> xs) {
        return hex(xs.stream().mapToDouble(Double::doubleValue).toArray());
    }

    /** {@link #unhex} as a list. */
    public static List<Double> unhexList(String s) {
        List<Double> out = new ArrayList<>();
        for (double d : unhex(s)) out.add(d);
        return out;
    }
}
