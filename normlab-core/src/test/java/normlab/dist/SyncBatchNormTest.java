package normlab.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import normlab.io.LayerTypes;
import normlab.models.MnistMlp;
import normlab.nn.CrossEntropyLoss;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm1d;
import normlab.norm.SyncBatchNorm;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;
import normlab.testing.GradCheck;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * SyncBatchNorm and data-parallel training on threads: K replicas × slices of B equal one process with batch B, in
 * outputs, gradients, running statistics and weights after 100 steps of the paper's BN MLP; the distributed backward
 * against finite differences; one-line errors for misuse.
 */
class SyncBatchNormTest {
    static final double TOL = 1e-6;

    /** Runs {@code body} on K threads, one per rank of a fresh group; returns the results by rank (first error rethrown). */
    static <T> List<T> onRanks(int k, long timeoutMillis, RankBody<T> body) throws Exception {
        List<ThreadCollective> g = ThreadCollective.group(k, timeoutMillis);
        ExecutorService pool = Executors.newFixedThreadPool(k);
        try {
            List<Future<T>> fs = new ArrayList<>();
            for (int r = 0; r < k; r++) {
                ThreadCollective c = g.get(r);
                fs.add(pool.submit((Callable<T>) () -> {
                    try {
                        return body.run(c);
                    } catch (RuntimeException e) {
                        c.abort(e.getMessage());
                        throw e;
                    }
                }));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : fs) out.add(f.get());
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    interface RankBody<T> {
        T run(ThreadCollective c);
    }

    static double maxDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs((double) a[i] - b[i]));
        return m;
    }

    /**
     * max|a − b| / max(1, max|a|): the difference on the tensor's own scale. float32 rounds by up to 6e-8 of a value at
     * each operation, and the two sides sum in different orders (one GEMM over B rows against K GEMMs over slices added),
     * so an absolute 1e-6 is below float32's resolution for values above 8 (running_var, logits); on this scale both
     * runs agree to a few roundings after 100 steps.
     */
    static double relDiff(float[] a, float[] b) {
        double scale = 1;
        for (float v : a) scale = Math.max(scale, Math.abs(v));
        return maxDiff(a, b) / scale;
    }

    static normlab.data.Dataset fashion;

    @org.junit.jupiter.api.BeforeAll
    static void load() throws java.io.IOException {
        fashion = normlab.data.Datasets.fashionMnist(true);
    }

    /**
     * The paper's BN MLP (§4.1: N(0, 0.01²) weights, SGD lr 0.1, batch 60), trained 100 steps on Fashion-MNIST by one
     * process and by K replicas on the given slices (even, uneven, one empty).
     */
    @ParameterizedTest
    @ValueSource(strings = {"30,30", "7,31,22", "0,35,25"})
    void dataParallelTrainingEqualsOneProcess(String split) throws Exception {
        train(split, false);
    }

    /** As above, but before every step the replicas take the single process's state: each step on its own agrees. */
    @ParameterizedTest
    @ValueSource(strings = {"7,31,22", "0,35,25"})
    void everyStepFromOneStateAgrees(String split) throws Exception {
        train(split, true);
    }

    private void train(String split, boolean lockstep) throws Exception {
        int[] sizes = java.util.Arrays.stream(split.split(",")).mapToInt(Integer::parseInt).toArray();
        int b = 60, steps = 100, pool = 6000;
        Rng rng = new Rng(11);
        Sequential model = MnistMlp.build(true, 0.01, rng); // the paper's §4.1 setup: N(0, 0.01²), SGD lr 0.1, batch 60
        normlab.data.Dataset fm = fashion; // Debian's dataset-fashion-mnist (.ci/run installs it)
        Tensor data = Tensor.of(java.util.Arrays.copyOf(fm.images, pool * 784), pool, 784);
        int[] labels = java.util.Arrays.copyOf(fm.labels, pool);

        Module single = LayerTypes.copy(model);
        SGD opt = new SGD(single.parameters(), 0.1);
        Tensor zSingle = null;
        DataParallel.Step last = null;
        try (DataParallel dp = new DataParallel(model, sizes.length, ps -> new SGD(ps, 0.1), 60_000)) {
            for (int t = 0; t < steps; t++) {
                int start = (t * b) % pool;
                Tensor x = Tensor.of(java.util.Arrays.copyOfRange(data.data, start * 784, (start + b) * 784), b, 784);
                int[] y = java.util.Arrays.copyOfRange(labels, start, start + b);
                if (lockstep) for (int r = 0; r < sizes.length; r++) dp.replica(r).loadStateDict(single.stateDict());
                opt.zeroGrad();
                zSingle = single.forward(x).copy();
                CrossEntropyLoss ce = new CrossEntropyLoss();
                float loss = ce.forward(zSingle, y);
                single.backwardParams(ce.backward());
                opt.step();
                last = dp.step(x, y, sizes);
                assertEquals(loss, last.loss(), 1e-5, "loss at step " + t);
            }
            double out = relDiff(zSingle.data, last.output().data);
            double grad = 0, weights = 0, state = 0;
            String worst = "";
            Map<String, Parameter> ps = single.namedParameters();
            for (int r = 0; r < sizes.length; r++) {
                Module rep = dp.replica(r);
                for (Map.Entry<String, Parameter> e : rep.namedParameters().entrySet()) {
                    grad = Math.max(grad, relDiff(ps.get(e.getKey()).grad.data, e.getValue().grad.data));
                    // every replica holds the same bits
                    assertArrayEquals(dp.replica(0).namedParameters().get(e.getKey()).value.data, e.getValue().value.data, e.getKey());
                }
                Map<String, Tensor> sd = single.stateDict(), rd = rep.stateDict();
                assertEquals(sd.keySet(), rd.keySet(), "SyncBatchNorm keeps BatchNorm's state names");
                for (String key : sd.keySet()) {
                    double d = relDiff(sd.get(key).data, rd.get(key).data);
                    if (ps.containsKey(key)) weights = Math.max(weights, d);
                    else if (d > state) {
                        state = d;
                        worst = key;
                    }
                }
            }
            // evaluation: plain BN with the running statistics on both sides
            single.eval();
            dp.setTraining(false);
            Tensor xt = Tensor.of(java.util.Arrays.copyOfRange(data.data, 0, 7 * 784), 7, 784);
            double eval = relDiff(single.forward(xt).data, dp.replica(sizes.length - 1).forward(xt).data);
            System.out.printf("SyncBN data parallel %s, %s: max |diff|/max(1, max|v|) outputs %.2e, gradients %.2e, weights %.2e, running statistics %.2e (%s), eval outputs %.2e%n",
                    split, lockstep ? "step " + steps + " from the single process's state" : steps + " steps", out, grad, weights, state, worst, eval);
            assertTrue(out <= TOL, "outputs differ by " + out);
            assertTrue(grad <= TOL, "gradients differ by " + grad);
            assertTrue(weights <= TOL, "weights differ by " + weights);
            // running means are EMAs of activations through 100 steps of weights that differ by float32 roundings: the
            // one quantity whose free-running gap reaches ~1e-6 (measured 0.8-1.04e-6); one step from the same state
            // agrees to ~1e-7 (lockstep)
            assertTrue(state <= (lockstep ? TOL : 2 * TOL), "running statistics differ by " + state + " (" + worst + ")");
            assertTrue(eval <= TOL, "eval outputs differ by " + eval);
            // the replicas really were SyncBatchNorm, with BN's statistics count
            assertTrue(((Sequential) dp.replica(0)).get(1) instanceof SyncBatchNorm);
            assertEquals(steps, ((SyncBatchNorm) ((Sequential) dp.replica(0)).get(1)).numBatchesTracked.data[0]);
        }
    }

    /** Replica inputs (n_r, 3, 2) with the given n_r; fixed γ, β. */
    static List<Tensor> slices(int[] n, long seed) {
        Rng rng = new Rng(seed);
        List<Tensor> xs = new ArrayList<>();
        for (int nr : n) {
            Tensor x = Tensor.zeros(nr, 3, 2);
            for (int i = 0; i < x.numel(); i++) x.data[i] = (float) (rng.nextGaussian() * 2 + 1);
            xs.add(x);
        }
        return xs;
    }

    static SyncBatchNorm layer() {
        SyncBatchNorm s = new SyncBatchNorm(3);
        float[] g = {1.5f, -0.7f, 0.9f}, be = {0.2f, -0.3f, 0.5f};
        System.arraycopy(g, 0, s.weight.value.data, 0, 3);
        System.arraycopy(be, 0, s.bias.value.data, 0, 3);
        return s;
    }

    /**
     * The distributed backward (all-reduced Σdy, Σdy·(x−μ)) against finite differences of L = Σ_r Σ r·y over every
     * replica's output (the fourth-order stencil of GradCheck, L summed in double), and against one BatchNorm on the
     * concatenated batch.
     */
    @Test
    void distributedBackwardMatchesFiniteDifferencesAndOneBatchNorm() throws Exception {
        int[] n = {2, 0, 3};
        int k = n.length;
        List<Tensor> xs = slices(n, 5);
        List<SyncBatchNorm> layers = new ArrayList<>();
        for (int r = 0; r < k; r++) layers.add(layer());
        List<Tensor> rs = slices(n, 9); // the objective's weights per output element
        List<ThreadCollective> g = ThreadCollective.group(k, 60_000);
        for (int r = 0; r < k; r++) layers.get(r).setCollective(g.get(r));
        ExecutorService pool = Executors.newFixedThreadPool(k);
        try {
            // one distributed forward over all ranks: returns Σ r·y in double, in rank order
            java.util.function.Supplier<Tensor[]> forward = () -> {
                for (int r = 1; r < k; r++) {
                    layers.get(r).weight.value.copyFrom(layers.get(0).weight.value);
                    layers.get(r).bias.value.copyFrom(layers.get(0).bias.value);
                }
                List<Future<Tensor>> fs = new ArrayList<>();
                for (int r = 0; r < k; r++) {
                    int rr = r;
                    fs.add(pool.submit(() -> layers.get(rr).forward(xs.get(rr))));
                }
                Tensor[] ys = new Tensor[k];
                try {
                    for (int r = 0; r < k; r++) ys[r] = fs.get(r).get();
                } catch (InterruptedException | ExecutionException e) {
                    throw new IllegalStateException(e);
                }
                return ys;
            };
            java.util.function.DoubleSupplier objective = () -> {
                Tensor[] ys = forward.get();
                double s = 0, abs = 0;
                for (int r = 0; r < k; r++) for (int i = 0; i < ys[r].numel(); i++) s += (double) rs.get(r).data[i] * ys[r].data[i];
                return s;
            };
            Tensor[] ys = forward.get();
            double absSum = 0;
            for (int r = 0; r < k; r++) for (int i = 0; i < ys[r].numel(); i++) absSum += Math.abs((double) rs.get(r).data[i] * ys[r].data[i]);
            double e = GradCheck.ROUNDINGS * 0x1p-24 * absSum;
            List<Future<Tensor>> bs = new ArrayList<>();
            for (int r = 0; r < k; r++) {
                int rr = r;
                bs.add(pool.submit(() -> layers.get(rr).backward(rs.get(rr))));
            }
            List<Tensor> dxs = new ArrayList<>();
            for (Future<Tensor> f : bs) dxs.add(f.get().copy());
            Tensor dg = Tensor.zeros(3), db = Tensor.zeros(3);
            for (SyncBatchNorm l : layers) {
                for (int c = 0; c < 3; c++) {
                    dg.data[c] += l.weight.grad.data[c];
                    db.data[c] += l.bias.grad.data[c];
                }
            }
            for (int r = 0; r < k; r++) {
                if (n[r] > 0) GradCheck.checkScalar("rank " + r + " dx", xs.get(r), dxs.get(r), objective, e, GradCheck.TOL);
            }
            GradCheck.Result rg = GradCheck.checkScalar("dγ", layers.get(0).weight.value, dg, objective, e, GradCheck.TOL);
            GradCheck.checkScalar("dβ", layers.get(0).bias.value, db, objective, e, GradCheck.TOL);
            assertTrue(rg.relErr() < 1e-4, rg.toString());

            // one BatchNorm on the concatenated batch: the same output, dx, dγ, dβ
            Tensor all = Tensor.zeros(5, 3, 2), rAll = Tensor.zeros(5, 3, 2);
            int o = 0;
            for (int r = 0; r < k; r++) {
                System.arraycopy(xs.get(r).data, 0, all.data, o, xs.get(r).numel());
                System.arraycopy(rs.get(r).data, 0, rAll.data, o, xs.get(r).numel());
                o += xs.get(r).numel();
            }
            BatchNorm1d bn = new BatchNorm1d(3);
            bn.weight.value.copyFrom(layers.get(0).weight.value);
            bn.bias.value.copyFrom(layers.get(0).bias.value);
            Tensor y = bn.forward(all);
            Tensor dx = bn.backward(rAll);
            ys = forward.get();
            o = 0;
            for (int r = 0; r < k; r++) {
                for (int i = 0; i < ys[r].numel(); i++) {
                    assertEquals(y.data[o + i], ys[r].data[i], TOL, "output");
                    assertEquals(dx.data[o + i], dxs.get(r).data[i], TOL, "dx");
                }
                o += ys[r].numel();
            }
            assertArrayEquals(bn.weight.grad.data, dg.data, (float) TOL);
            assertArrayEquals(bn.bias.grad.data, db.data, (float) TOL);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void groupOfOneIsBatchNormBitForBit() {
        Tensor x = slices(new int[] {6}, 3).get(0), r = slices(new int[] {6}, 4).get(0);
        SyncBatchNorm s = layer();
        BatchNorm1d bn = new BatchNorm1d(3);
        bn.weight.value.copyFrom(s.weight.value);
        bn.bias.value.copyFrom(s.bias.value);
        assertArrayEquals(bn.forward(x).data, s.forward(x).data);
        assertArrayEquals(bn.backward(r).data, s.backward(r).data);
        assertArrayEquals(bn.runningVar.data, s.runningVar.data);
        assertArrayEquals(bn.weight.grad.data, s.weight.grad.data);
    }

    @Test
    void mergedStatisticsAreChansNotRawSums() throws Exception {
        // a channel with mean 1e4 and spread 1e-2 split over two replicas: Σx² − (Σx)²/n would lose every digit
        float[][] parts = {{10000.01f, 9999.99f, 10000.02f}, {9999.98f, 10000.00f}};
        List<double[]> stats = onRanks(2, 60_000, c -> {
            SyncBatchNorm s = new SyncBatchNorm(1, 1e-5, 0.1, false, true).setCollective(c);
            float[] p = parts[c.rank()];
            s.forward(Tensor.of(p.clone(), p.length, 1));
            return new double[] {s.runningMean.data[0], s.runningVar.data[0]};
        });
        double mean = 0, m2 = 0;
        int n = 0;
        for (float[] p : parts) for (float v : p) { mean += v; n++; }
        mean /= n;
        for (float[] p : parts) for (float v : p) m2 += (v - mean) * (v - mean);
        double expectVar = 0.9 + 0.1 * m2 / (n - 1), expectMean = 0.1 * mean;
        for (double[] st : stats) {
            assertEquals(expectMean, st[0], 1e-3);
            assertEquals(expectVar, st[1], 1e-7 + 1e-3 * 0.1 * m2 / (n - 1));
        }
    }

    @Test
    void mismatchedChannelsFailOnEveryRankWithOneLine() {
        ExecutionException e = assertThrows(ExecutionException.class, () -> onRanks(2, 60_000, c -> {
            int ch = c.rank() == 0 ? 3 : 4;
            SyncBatchNorm s = new SyncBatchNorm(ch).setCollective(c);
            return s.forward(Tensor.zeros(4, ch));
        }));
        String m = e.getCause().getMessage();
        assertTrue(e.getCause() instanceof ShapeException, m);
        assertTrue(m.contains("SyncBatchNorm") && m.contains("replica 1 has 4 channels") && m.contains("has 3"), m);
        assertFalse(m.contains("\n"), m);
    }

    @Test
    void tooFewValuesOverAllReplicasFails() {
        ExecutionException e = assertThrows(ExecutionException.class, () -> onRanks(2, 60_000, c ->
                new SyncBatchNorm(2).setCollective(c).forward(Tensor.zeros(c.rank() == 0 ? 1 : 0, 2))));
        assertTrue(e.getCause().getMessage().contains("expected more than 1 value per channel when training, got 1 over 2 replica(s)"),
                e.getCause().getMessage());
        // but one value on each of two replicas is enough
        assertThrowsNothing(() -> onRanks(2, 60_000, c -> new SyncBatchNorm(2).setCollective(c).forward(Tensor.of(new float[] {c.rank(), 1}, 1, 2))));
    }

    interface Action {
        void run() throws Exception;
    }

    static void assertThrowsNothing(Action a) {
        try {
            a.run();
        } catch (Exception ex) {
            throw new AssertionError("unexpected: " + ex, ex);
        }
    }

    @Test
    void aMissingRankTimesOutNamingIt() {
        List<ThreadCollective> g = ThreadCollective.group(3, 300);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<?> a = pool.submit(() -> g.get(0).allReduceSum(new double[2]));
            Future<?> b = pool.submit(() -> g.get(2).allReduceSum(new double[2]));
            for (Future<?> f : List.of(a, b)) {
                ExecutionException e = assertThrows(ExecutionException.class, f::get);
                String m = e.getCause().getMessage();
                assertTrue(e.getCause() instanceof CollectiveException, m);
                assertTrue(m.contains("timed out after 300 ms waiting for rank(s) [1]"), m);
                assertFalse(m.contains("\n"), m);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aFailedReplicaEndsTheStepWithItsOwnError() {
        Sequential model = MnistMlp.build(true, 1.0, new Rng(2));
        try (DataParallel dp = new DataParallel(model, 2, ps -> new SGD(ps, 0.1), 60_000)) {
            Tensor x = Tensor.zeros(6, 784);
            int[] y = {0, 1, 2, 3, 4, 12}; // label 12 is on replica 1
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> dp.step(x, y));
            assertTrue(e.getMessage().startsWith("CrossEntropyLoss: label 12 at row 2 outside [0, 10)"), e.getMessage());
            IllegalArgumentException s = assertThrows(IllegalArgumentException.class, () -> dp.step(x, new int[6], new int[] {2, 3}));
            assertEquals("DataParallel: slice sizes add up to 5, the batch has 6 rows", s.getMessage());
        }
    }

    @Test
    void layersThatCannotBeSynchronizedAreRefused() {
        IllegalArgumentException g = assertThrows(IllegalArgumentException.class, () -> new DataParallel(
                new Sequential(new normlab.nn.Linear(4, 4, new Rng(1)), new normlab.norm.GhostBatchNorm(4, 2)), 2, ps -> new SGD(ps, 0.1), 1000));
        assertEquals("DataParallel: GhostBatchNorm '1' keeps per-replica batch statistics; only BatchNorm is synchronized (SyncBatchNorm)", g.getMessage());
        IllegalArgumentException n = assertThrows(IllegalArgumentException.class, () -> new DataParallel(
                new Sequential(new normlab.norm.BatchNorm2d(3, normlab.nn.Layout.NHWC)), 2, ps -> new SGD(ps, 0.1), 1000));
        assertTrue(n.getMessage().startsWith("DataParallel: BatchNorm2d '0' is channels-last (NHWC)"), n.getMessage());
        IllegalArgumentException k = assertThrows(IllegalArgumentException.class, () -> new DataParallel(
                new Sequential(), 0, ps -> new SGD(ps, 0.1), 1000));
        assertEquals("DataParallel: replicas must be >= 1, got 0", k.getMessage());
    }

    @Test
    void mismatchedCallsFail() {
        ExecutionException e = assertThrows(ExecutionException.class, () -> onRanks(2, 60_000, c -> {
            c.allReduceSum(new double[c.rank() == 0 ? 2 : 3]);
            return null;
        }));
        assertTrue(e.getCause().getMessage().startsWith("collective mismatch: rank 0 called allReduceSum(double[2]), rank 1 called allReduceSum(double[3])"),
                e.getCause().getMessage());
    }

    @Test
    void reductionsAreInRankOrderAndIdenticalOnEveryRank() throws Exception {
        // 1 + 1e-16 + ... in rank order: (((1e16 + 1) + 1) − 1e16) = 0 in double, whatever order the threads arrive in
        double[] parts = {1e16, 1, 1, -1e16};
        List<double[]> out = onRanks(4, 60_000, c -> {
            double[] d = {parts[c.rank()]};
            c.allReduceSum(d);
            return d;
        });
        for (double[] d : out) assertEquals(0.0, d[0]);
        List<double[][]> gathered = onRanks(3, 60_000, c -> c.allGather(new double[c.rank()]));
        for (double[][] g : gathered) {
            assertEquals(3, g.length);
            for (int r = 0; r < 3; r++) assertEquals(r, g[r].length);
        }
    }

    @Test
    void syncBatchNormRoundTripsAsBatchNormState() {
        SyncBatchNorm s = layer();
        s.forward(slices(new int[] {4}, 1).get(0));
        Module c = LayerTypes.copy(s);
        assertTrue(c instanceof SyncBatchNorm);
        assertEquals(List.of("weight", "bias", "running_mean", "running_var", "num_batches_tracked"), List.copyOf(c.stateDict().keySet()));
        assertEquals(new BatchNorm1d(3).stateDict().keySet(), c.stateDict().keySet());
        assertArrayEquals(s.runningVar.data, ((SyncBatchNorm) c).runningVar.data);
    }
}
