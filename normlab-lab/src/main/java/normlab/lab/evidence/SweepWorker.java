package normlab.lab.evidence;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * The far side of {@link RemoteRuns}: trains one run of an experiment's sweep, wherever it is called (a Spark task
 * in an executor JVM). It reruns the experiment's {@link Experiment#train} with the same settings under a worker session
 * ({@link RunControl#openWorker}) on a scratch directory holding the checkpoints it was given: the sweeps before the
 * run's own resume from those (each ends at once), the run's own sweep trains that run alone, and the experiment stops
 * there. The result is the run's checkpoint marked done, which holds everything the run's result depends on
 * (trainer state and the run's records). Several workers may run at once in one JVM (their sessions are per thread).
 */
public final class SweepWorker {
    private SweepWorker() {}

    /**
     * Trains run {@code key} of {@code experiment} ({@link Experiments#byName}) with quick or full parameters, its
     * seeds and its own options, from {@code checkpoints} (by key); returns the run's done checkpoint.
     */
    public static byte[] train(String experiment, boolean quick, List<Long> seeds, Map<String, String> options, String key,
                               Map<String, byte[]> checkpoints) throws IOException, InterruptedException {
        Settings s = new Settings(quick, seeds, 1, new PrintStream(OutputStream.nullOutputStream()), options);
        return train(Experiments.byName(experiment), s, key, checkpoints);
    }

    /** {@link #train(String, boolean, List, Map, String, Map)} of experiment {@code e} with settings {@code s}. */
    public static byte[] train(Experiment<?, ?> e, Settings s, String key, Map<String, byte[]> checkpoints) throws IOException, InterruptedException {
        String experiment = e.name();
        Path dir = Files.createTempDirectory("normlab-run-");
        try {
            for (var c : checkpoints.entrySet()) Files.write(dir.resolve(c.getKey() + RunControl.CHECKPOINT), c.getValue());
            try (RunControl.Session session = RunControl.openWorker(dir, key)) {
                trainUntyped(e, s);
                throw new IllegalArgumentException(experiment + " has no run " + key);
            } catch (RunControl.WorkerDone done) {
                // the run is trained and its checkpoint saved
            }
            Path f = dir.resolve(key + RunControl.CHECKPOINT);
            if (!Files.isRegularFile(f)) throw new IllegalStateException(experiment + " " + key + ": the run left no checkpoint");
            return Files.readAllBytes(f);
        } finally {
            try (var w = Files.walk(dir)) {
                w.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static <P, R> void trainUntyped(Experiment<P, R> e, Settings s) throws IOException, InterruptedException {
        e.train(e.params(s), s);
    }
}
