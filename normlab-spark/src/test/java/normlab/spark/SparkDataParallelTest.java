package normlab.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import normlab.data.Dataset;
import normlab.data.Datasets;
import normlab.dist.CollectiveException;
import normlab.dist.DataParallel;
import normlab.io.LayerTypes;
import normlab.models.MnistMlp;
import normlab.nn.CrossEntropyLoss;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.optim.Optimizer;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Data-parallel training with SyncBatchNorm across Spark barrier tasks in {@code local[2]}: the paper's BN MLP trained
 * 100 steps by 2 replicas equals one process with the whole batch (≤ 1e-6) and DataParallel on threads (bit for bit);
 * a hung replica fails the stage naming it; a failed task is retried by Spark and resumes from the checkpoint to the
 * weights of an uninterrupted run.
 */
@Tag("spark")
class SparkDataParallelTest {
    static final int B = 60, STEPS = 100, POOL = 6000;
    static JavaSparkContext sc;
    static List<Tensor> xs = new ArrayList<>();
    static List<int[]> ys = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        Dataset fm = Datasets.fashionMnist(true).slice(0, POOL);
        for (int t = 0; t < STEPS; t++) {
            int from = (t * B) % POOL;
            xs.add(Tensor.of(Arrays.copyOfRange(fm.images, from * 784, (from + B) * 784), B, 784));
            ys.add(Arrays.copyOfRange(fm.labels, from, from + B));
        }
        // two stage attempts (Spark's default is 4): the retry test needs one retry, the hung replica fails both
        sc = new JavaSparkContext(Spark.conf("local[2]", "normlab-dp-test").set("spark.stage.maxConsecutiveAttempts", "2"));
    }

    @AfterAll
    static void stop() {
        if (sc != null) sc.stop();
    }

    static double relDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double scale = 1, m = 0;
        for (float v : a) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs((double) a[i] - b[i]));
        return m / scale;
    }

    /** DataParallel on threads with the same optimizer: the in-JVM run the Spark run must equal bit for bit. */
    static Map<String, Tensor> threads(Module model, int[] sizes, SparkDataParallel.OptimizerFactory opt) {
        try (DataParallel dp = new DataParallel(model, sizes.length, opt::create, 60_000)) {
            for (int t = 0; t < STEPS; t++) dp.step(xs.get(t), ys.get(t), sizes);
            return dp.replica(0).stateDict();
        }
    }

    static void assertBitsEqual(Map<String, Tensor> want, Map<String, Tensor> got) {
        assertEquals(want.keySet(), got.keySet());
        for (String k : want.keySet()) assertArrayEquals(want.get(k).data, got.get(k).data, k);
    }

    @ParameterizedTest
    @ValueSource(strings = {"30,30", "17,43"})
    void twoReplicasEqualOneProcess(String split) {
        int[] sizes = Arrays.stream(split.split(",")).mapToInt(Integer::parseInt).toArray();
        Module model = MnistMlp.build(true, 0.01, new Rng(11)); // the paper's §4.1 MLP: N(0, 0.01²), SGD lr 0.1, batch 60
        long t0 = System.nanoTime();
        SparkDataParallel.Result got = SparkDataParallel.train(sc, model, ps -> new SGD(ps, 0.1),
                SparkDataParallel.shards(xs, ys, sizes), new SparkDataParallel.Options(30_000, 0, null));
        double seconds = (System.nanoTime() - t0) / 1e9;

        Module single = LayerTypes.copy(model);
        SGD opt = new SGD(single.parameters(), 0.1);
        Tensor z = null;
        float loss = 0;
        for (int t = 0; t < STEPS; t++) {
            opt.zeroGrad();
            z = single.forward(xs.get(t)).copy();
            CrossEntropyLoss ce = new CrossEntropyLoss();
            loss = ce.forward(z, ys.get(t));
            single.backwardParams(ce.backward());
            opt.step();
        }
        double out = relDiff(z.data, got.lastOutput().data), weights = 0, stats = 0;
        Map<String, Parameter> ps = single.namedParameters();
        Map<String, Tensor> sd = single.stateDict(), gd = got.model().stateDict();
        for (String k : sd.keySet()) {
            double d = relDiff(sd.get(k).data, gd.get(k).data);
            if (ps.containsKey(k)) weights = Math.max(weights, d);
            else stats = Math.max(stats, d);
        }
        System.out.printf("Spark data parallel %s (local[2], %d steps, %.1f s with rendezvous, %.1f steps/s): vs one process: outputs %.2e, weights %.2e, running statistics %.2e%n",
                split, STEPS, seconds, STEPS / got.stepSeconds(), out, weights, stats);
        assertEquals(loss, got.lastLoss(), 1e-5);
        assertTrue(out <= 1e-6, "outputs differ by " + out);
        assertTrue(weights <= 1e-6, "weights differ by " + weights);
        assertTrue(stats <= 1e-6, "running statistics differ by " + stats);
        assertEquals(0, got.attempt());
        // and DataParallel on threads, bit for bit (the same reductions in the same order)
        assertBitsEqual(threads(model, sizes, ps2 -> new SGD(ps2, 0.1)), got.model().stateDict());
    }

    /** An optimizer that misbehaves on one rank at one step: the fault a test injects into a replica. */
    static class Faulty implements Optimizer {
        final Optimizer inner;
        final int atStep;
        final boolean hang;
        int steps;

        Faulty(Optimizer inner, int atStep, boolean hang) {
            this.inner = inner;
            this.atStep = atStep;
            this.hang = hang;
        }

        @Override
        public void step() {
            if (++steps == atStep) {
                BarrierTaskContext ctx = BarrierTaskContext.get();
                if (!hang) throw new IllegalStateException("injected crash of rank " + ctx.partitionId() + " at step " + atStep);
                long until = System.nanoTime() + 30_000_000_000L; // hangs until Spark kills the task
                while (!ctx.isInterrupted() && System.nanoTime() < until) {
                    try {
                        Thread.sleep(20);
                    } catch (InterruptedException e) {
                        break;
                    }
                }
                throw new IllegalStateException("the hung replica was released");
            }
            inner.step();
        }

        @Override
        public List<Parameter> parameters() {
            return inner.parameters();
        }

        @Override
        public Map<String, Tensor> state() {
            return inner.state();
        }

        @Override
        public void loadState(Map<String, Tensor> state) {
            inner.loadState(state);
        }
    }

    /** Rank 1 hangs at step 3 of every attempt: the stage fails with rank 0's timeout naming rank 1. */
    static Optimizer hangOnRank1(List<Parameter> ps) {
        SGD sgd = new SGD(ps, 0.1);
        return BarrierTaskContext.get().partitionId() == 1 ? new Faulty(sgd, 3, true) : sgd;
    }

    @Test
    void aHungReplicaFailsTheStageNamingIt() {
        Module model = MnistMlp.build(true, 0.01, new Rng(11));
        long t0 = System.nanoTime();
        CollectiveException e = assertThrows(CollectiveException.class, () -> SparkDataParallel.train(sc, model,
                SparkDataParallelTest::hangOnRank1, SparkDataParallel.shards(xs.subList(0, 5), ys.subList(0, 5), new int[] {30, 30}),
                new SparkDataParallel.Options(1000, 0, null)));
        System.out.printf("hung replica: failed after %.1f s: %s%n", (System.nanoTime() - t0) / 1e9, e.getMessage());
        assertTrue(e.getMessage().endsWith("on rank 0: rank 1 did not answer within 1 s"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }

    /** SGD with momentum (state a checkpoint must carry); rank 1 crashes at step 60 of the first attempt only. */
    static Optimizer crashOnce(List<Parameter> ps) {
        SGD sgd = new SGD(ps, 0.1, 0.9, false, 0, false);
        BarrierTaskContext ctx = BarrierTaskContext.get();
        return ctx.partitionId() == 1 && ctx.stageAttemptNumber() == 0 ? new Faulty(sgd, 60, false) : sgd;
    }

    @Test
    void aFailedReplicaIsRetriedAndResumesFromTheCheckpoint() throws Exception {
        Module model = MnistMlp.build(true, 0.01, new Rng(12));
        Path dir = Files.createTempDirectory("normlab-dp-ckpt");
        int[] sizes = {23, 37};
        SparkDataParallel.Result got = SparkDataParallel.train(sc, model, SparkDataParallelTest::crashOnce,
                SparkDataParallel.shards(xs, ys, sizes), new SparkDataParallel.Options(30_000, 25, dir.toString()));
        System.out.printf("crashed replica: finished in stage attempt %d, resumed from step %d%n", got.attempt(), got.resumedFrom());
        assertEquals(1, got.attempt(), "Spark retried the stage once");
        assertEquals(50, got.resumedFrom(), "the retry resumed from the checkpoint of step 50");
        // an uninterrupted run: the same training without the crash
        assertBitsEqual(threads(model, sizes, ps -> new SGD(ps, 0.1, 0.9, false, 0, false)), got.model().stateDict());
        deleteTree(dir);
    }

    static void deleteTree(Path dir) throws java.io.IOException {
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    @Test
    void badShardsGiveOneLineErrors() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SparkDataParallel.shards(xs.subList(0, 2), ys.subList(0, 2), new int[] {30, 31}));
        assertEquals("SparkDataParallel: slice sizes add up to 61, batch 0 has 60 rows", e.getMessage());
        Module ghost = new normlab.nn.Sequential(new normlab.nn.Linear(784, 4, new Rng(1)), new normlab.norm.GhostBatchNorm(4, 2));
        IllegalArgumentException g = assertThrows(IllegalArgumentException.class, () -> SparkDataParallel.train(sc, ghost,
                ps -> new SGD(ps, 0.1), SparkDataParallel.shards(xs.subList(0, 1), ys.subList(0, 1), new int[] {30, 30}),
                new SparkDataParallel.Options(1000, 0, null)));
        assertTrue(g.getMessage().startsWith("DataParallel: GhostBatchNorm '1' keeps per-replica batch statistics"), g.getMessage());
        IllegalArgumentException t = assertThrows(IllegalArgumentException.class, () -> new SparkDataParallel.Options(0, 0, null));
        assertEquals("SparkDataParallel: timeout must be > 0 ms, got 0", t.getMessage());
        IllegalArgumentException c = assertThrows(IllegalArgumentException.class, () -> new SparkDataParallel.Options(1000, 10, null));
        assertEquals("SparkDataParallel: a checkpoint interval needs a checkpoint directory", c.getMessage());
    }
}
