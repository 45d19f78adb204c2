package normlab.lab.evidence;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import normlab.data.Dataset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The seam of {@code --spark} sweeps, without Spark: a {@link RemoteRuns} that trains each run with
 * {@link SweepWorker#train} on two threads of this JVM (as Spark's local[2] executors do, beside the command's own
 * session) gives the results of a local run, bit for bit; the command's side trains nothing itself (every run resumes
 * from the done checkpoint a worker returned), and a second sweep whose settings depend on the first's results gets
 * the first's checkpoints.
 */
class SweepWorkerTest {
    /** Two sweeps of the paper's MLP (20 steps of 30 on 600 images): learning rates, then around the best one. */
    static final class TwoSweeps implements Experiment<Void, List<Runs.Outcome>> {
        public String name() {
            return "two-sweeps";
        }

        public String description() {
            return "a test";
        }

        public List<String> help() {
            return List.of();
        }

        public Void params(Settings s) {
            return null;
        }

        static Runs.Outcome train(double lr, long seed, Dataset train, Dataset test) {
            return Runs.train(seed, init -> Runs.mlp(true, Runs.WeightInit.normal(0.1), init), new Runs.Recipe(lr, 0, 20, 30, true), train, test).outcome();
        }

        public List<Runs.Outcome> train(Void p, Settings s) throws IOException {
            Dataset train = Runs.data("mnist", true, 600), test = Runs.data("mnist", false, 200);
            List<Runs.Outcome> first = Runs.sweep("a", train, test, List.of(0.05, 0.5), s, (lr, seed) -> train(lr, seed, train, test)).runs();
            double best = first.get(0).accuracy() >= first.get(1).accuracy() ? 0.05 : 0.5;
            List<Runs.Outcome> all = new ArrayList<>(first);
            all.addAll(Runs.sweep("b", train, test, List.of(best / 2, best * 2), s, (lr, seed) -> train(lr, seed, train, test)).runs());
            return all;
        }

        public Published publish(Void p, Settings s, List<Runs.Outcome> runs) {
            throw new UnsupportedOperationException();
        }
    }

    /** Workers on two threads, each training one key from the checkpoints it was given; records the keys and what it was given. */
    static RemoteRuns workers(Experiment<?, ?> e, Settings s, List<String> calls, List<String> given) {
        return (keys, checkpoints) -> {
            calls.addAll(keys);
            given.addAll(checkpoints.keySet());
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                Map<String, Future<byte[]>> fs = new LinkedHashMap<>();
                Settings one = new Settings(s.quick(), s.seeds(), 1, new PrintStream(new ByteArrayOutputStream()), s.options());
                for (String k : keys) fs.put(k, pool.submit(() -> SweepWorker.train(e, one, k, checkpoints)));
                Map<String, byte[]> out = new LinkedHashMap<>();
                for (var f : fs.entrySet()) out.put(f.getKey(), f.getValue().get());
                return out;
            } catch (Exception ex) {
                throw new IllegalStateException(ex);
            } finally {
                pool.shutdownNow();
            }
        };
    }

    @Test
    void workersGiveTheLocalResultsBitForBit(@TempDir Path tmp) throws Exception {
        TwoSweeps e = new TwoSweeps();
        Settings s = new Settings(true, List.of(1L), 2, new PrintStream(new ByteArrayOutputStream()));
        List<Runs.Outcome> local, remote;
        try (RunControl.Session session = RunControl.open(tmp.resolve("local"), 0, false)) {
            local = e.train(null, s);
            assertEquals(0, session.runsFoundDone.get());
        }
        List<String> calls = Collections.synchronizedList(new ArrayList<>()), given = Collections.synchronizedList(new ArrayList<>());
        try (RunControl.Session session = RunControl.open(tmp.resolve("remote"), 0, false)) {
            session.remote(workers(e, s, calls, given));
            remote = e.train(null, s);
            assertEquals(4, session.runsFoundDone.get(), "every run must resume from a worker's done checkpoint, none trained here");
        }
        // Two sweeps of 2 settings × 1 seed; the second sweep's workers got the first sweep's checkpoints.
        assertEquals(List.of("a-000", "a-001", "b-000", "b-001"), calls);
        assertEquals(List.of("a-000", "a-001"), given);
        assertEquals(4, local.size());
        for (int i = 0; i < local.size(); i++) {
            Runs.Outcome a = local.get(i), b = remote.get(i);
            assertEquals(a.accuracy(), b.accuracy(), "run " + i);
            assertEquals(a.testLoss(), b.testLoss(), "run " + i);
            assertEquals(a.status(), b.status(), "run " + i);
            assertEquals(a.steps(), b.steps(), "run " + i);
            assertArrayEquals(a.trainLoss(), b.trainLoss(), "run " + i);
            // The step time the worker measured comes back with its run.
            assertTrue(b.secondsPerStep() > 0, "run " + i + ": " + b.secondsPerStep());
        }
    }
}
