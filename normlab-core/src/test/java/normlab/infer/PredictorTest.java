package normlab.infer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import normlab.kernels.Parallel;
import normlab.models.MnistMlp;
import normlab.models.SmallCnn;
import normlab.nn.Activation;
import normlab.nn.Dropout;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm;
import normlab.norm.BatchNorm1d;
import normlab.tensor.Rng;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;
import normlab.testing.KernelSwitches;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@link Predictor}: its outputs against {@code model.eval().forward(x)} (within 1e-6 of max(1, |y|)) for MLPs with
 * BN folded and not, random layer sizes and every batch from 1 to 70, and a CNN; the same bits at 1 and 2 kernel threads
 * and from 4 threads sharing one Predictor; one-line errors for wrong input shapes.
 */
@ExtendWith(KernelSwitches.class)
class PredictorTest {
    static Tensor input(Rng r, int... shape) {
        Tensor x = Tensor.zeros(shape);
        for (int i = 0; i < x.numel(); i++) x.data[i] = (float) r.nextGaussian();
        return x;
    }

    /** Running statistics and affine parameters away from their defaults, so folding changes the weights. */
    static void randomStats(Module m, Rng r) {
        for (Module c : m.children().values()) randomStats(c, r);
        if (m instanceof BatchNorm bn) {
            for (int i = 0; i < bn.runningMean.numel(); i++) {
                bn.runningMean.data[i] = (float) (0.3 * r.nextGaussian());
                bn.runningVar.data[i] = (float) (0.5 + r.nextDouble());
            }
            for (var p : bn.parameters()) for (int i = 0; i < p.value.numel(); i++) p.value.data[i] += (float) (0.2 * r.nextGaussian());
        }
    }

    static double maxErr(Tensor got, Tensor want) {
        assertArrayEquals(want.shape(), got.shape());
        double e = 0;
        for (int i = 0; i < want.numel(); i++) e = Math.max(e, Math.abs(got.data[i] - want.data[i]) / Math.max(1, Math.abs(want.data[i])));
        return e;
    }

    /** A random MLP: widths from rng, BN after some Linears, a mix of activations, Dropout. */
    static Sequential randomMlp(Rng r, int in) {
        List<Module> l = new ArrayList<>();
        int w = in, depth = 1 + r.nextInt(3);
        for (int d = 0; d < depth; d++) {
            int out = 1 + r.nextInt(140);
            l.add(new Linear(w, out, r.nextInt(2) == 0, r));
            if (r.nextInt(3) > 0) l.add(new BatchNorm1d(out));
            int a = r.nextInt(4);
            l.add(a == 0 ? new Activation.Sigmoid() : a == 1 ? new Activation.ReLU() : a == 2 ? new Activation.Tanh() : new Dropout(0.3, new Rng(1)));
            w = out;
        }
        l.add(new Linear(w, 1 + r.nextInt(12), r));
        return new Sequential(l);
    }

    @Test
    void paperMlpMatchesEvalForwardAtEveryBatchFrom1To70FoldedAndNot() {
        Rng r = new Rng(1);
        Sequential m = MnistMlp.build(true, 0.1, r);
        randomStats(m, r);
        m.eval();
        Predictor folded = Predictor.of(m, new int[] {784}, 32, true), plain = Predictor.of(m, new int[] {784}, 64, false);
        assertTrue(folded.describe().contains("Linear 784→100 + SIGMOID"), folded.describe());
        for (int n = 1; n <= 70; n++) {
            Tensor x = input(r, n, 784), want = m.forward(x);
            double ef = maxErr(folded.predict(x), want), ep = maxErr(plain.predict(x), want);
            assertTrue(ef <= 1e-6, "folded, batch " + n + ": " + ef);
            assertTrue(ep <= 1e-6, "unfolded, batch " + n + ": " + ep);
        }
    }

    @Test
    void randomMlpsMatchEvalForward() {
        for (int seed = 0; seed < 12; seed++) {
            Rng r = new Rng(100 + seed);
            int in = 1 + r.nextInt(300);
            Sequential m = randomMlp(r, in);
            randomStats(m, r);
            m.eval();
            Predictor p = Predictor.of(m, new int[] {in}, 1 + r.nextInt(40), seed % 2 == 0);
            for (int n : new int[] {1, 2, 3, 8, 17, 50}) {
                Tensor x = input(r, n, in);
                double e = maxErr(p.predict(x), m.forward(x));
                assertTrue(e <= 1e-6, "seed " + seed + " " + m + " batch " + n + ": " + e);
            }
        }
    }

    @Test
    void cnnMatchesEvalForward() {
        Rng r = new Rng(7);
        Sequential m = SmallCnn.build(SmallCnn.Norm.BN, 4, 8, r);
        randomStats(m, r);
        m.eval();
        Predictor p = Predictor.of(m, 1, 28, 28);
        // both convolutions take their ReLU and 2×2 max-pool as fused epilogues
        assertTrue(p.describe().split("MaxPool 2x2 \\(fused conv\\)", -1).length == 3, p.describe());
        for (int n : new int[] {1, 5}) {
            Tensor x = input(r, n, 1, 28, 28);
            double e = maxErr(p.predict(x), m.forward(x));
            assertTrue(e <= 1e-6, "batch " + n + ": " + e);
        }
    }

    @Test
    void sameBitsAtOneAndTwoKernelThreadsAndFromConcurrentCallers() throws Exception {
        Rng r = new Rng(3);
        Sequential m = MnistMlp.build(true, 0.1, r);
        randomStats(m, r);
        Predictor p = Predictor.of(m, 784);
        List<Tensor> xs = new ArrayList<>();
        for (int n : new int[] {1, 4, 16, 64, 70}) xs.add(input(r, n, 784));
        Parallel.setThreads(1);
        List<float[]> one = new ArrayList<>();
        for (Tensor x : xs) one.add(p.predict(x).data);
        Parallel.setThreads(2);
        for (int i = 0; i < xs.size(); i++) assertArrayEquals(one.get(i), p.predict(xs.get(i)).data, "2 threads, input " + i);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Boolean>> fs = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                fs.add(pool.submit(() -> {
                    for (int rep = 0; rep < 20; rep++) {
                        for (int i = 0; i < xs.size(); i++) if (!java.util.Arrays.equals(one.get(i), p.predict(xs.get(i)).data)) return false;
                    }
                    return true;
                }));
            }
            for (Future<Boolean> f : fs) assertTrue(f.get(), "a concurrent caller got different outputs");
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * Batches of 64 and more run in row slices, one per parallel task: the slices cover the batch exactly, on whole
     * register panels, and depend on the batch only; the outputs are the same bits at 1, 2 and 3 threads and with the
     * slicing off (one slice, the products parallel inside), for an MLP and a CNN, with a maxBatch that forces passes.
     */
    @Test
    void batchSlicesGiveTheSameBitsAtEveryThreadCount() {
        for (int batch : new int[] {1, 63, 64, 65, 100, 130, 257}) {
            for (int maxBatch : new int[] {64, 10}) {
                int slices = Predictor.slices(batch, maxBatch, 32);
                assertTrue(slices >= (batch + maxBatch - 1) / maxBatch && slices >= batch / 32, batch + " " + maxBatch);
                int prev = 0;
                for (int s = 0; s <= slices; s++) {
                    int b = Predictor.bound(batch, slices, s, 6);
                    assertTrue(b >= prev && b <= batch && (b % 6 == 0 || b == batch), "bound " + s + " of " + slices + " for batch " + batch);
                    prev = b;
                }
                assertEquals(0, Predictor.bound(batch, slices, 0, 6));
                assertEquals(batch, Predictor.bound(batch, slices, slices, 6));
            }
        }
        assertEquals(2, Predictor.slices(64, 64, 32));
        assertEquals(1, Predictor.slices(63, 64, 32));
        Rng r = new Rng(11);
        Sequential mlp = MnistMlp.build(true, 0.1, r), cnn = SmallCnn.build(SmallCnn.Norm.BN, 4, 8, r);
        randomStats(mlp, r);
        randomStats(cnn, r);
        mlp.eval();
        cnn.eval();
        int old = Predictor.setSliceRows(32);
        try {
            for (Sequential m : List.of(mlp, cnn)) {
                int[] shape = m == mlp ? new int[] {784} : new int[] {1, 28, 28};
                for (int maxBatch : new int[] {64, 20}) {
                    Predictor p = Predictor.of(m, shape, maxBatch, true);
                    for (int n : new int[] {64, 97}) {
                        int[] xs = new int[shape.length + 1];
                        xs[0] = n;
                        System.arraycopy(shape, 0, xs, 1, shape.length);
                        Tensor x = input(r, xs);
                        Parallel.setThreads(1);
                        Predictor.setSliceRows(Integer.MAX_VALUE);
                        float[] whole = p.predict(x).data;
                        Predictor.setSliceRows(32);
                        float[] one = p.predict(x).data;
                        assertArrayEquals(whole, one, "sliced vs one slice, batch " + n + " maxBatch " + maxBatch);
                        for (int t : new int[] {2, 3}) {
                            Parallel.setThreads(t);
                            assertArrayEquals(one, p.predict(x).data, t + " threads, batch " + n + " maxBatch " + maxBatch);
                        }
                        double e = maxErr(p.predict(x), m.forward(x));
                        assertTrue(e <= 1e-6, "batch " + n + ": " + e);
                    }
                }
            }
        } finally {
            Predictor.setSliceRows(old);
        }
    }

    @Test
    void isASnapshotOfTheModel() {
        Rng r = new Rng(4);
        Sequential m = new Sequential(new Linear(5, 3, r));
        m.eval();
        Predictor p = Predictor.of(m, 5);
        Tensor x = input(r, 2, 5), before = p.predict(x);
        ((Linear) m.get(0)).weight.value.data[0] += 1f;
        ((Linear) m.get(0)).weight.changed();
        assertArrayEquals(before.data, p.predict(x).data);
    }

    @Test
    void wrongInputsAreOneLineErrorsNamingTheShapes() {
        Rng r = new Rng(5);
        Sequential m = new Sequential(new Linear(6, 4, r), new Activation.ReLU(), new Linear(4, 2, r));
        ShapeException e = assertThrows(ShapeException.class, () -> Predictor.of(m, 5));
        assertTrue(e.getMessage().contains("Linear '0'") && e.getMessage().contains("6"), e.getMessage());
        Predictor p = Predictor.of(m, 6);
        e = assertThrows(ShapeException.class, () -> p.predict(Tensor.zeros(3, 5)));
        assertEquals("Predictor: expected input of shape [N, 6], got [3, 5]", e.getMessage());
        e = assertThrows(ShapeException.class, () -> p.predict(new float[10], 2));
        assertTrue(e.getMessage().startsWith("Predictor: expected 2 × 6 = 12 input values"), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"));
    }
}
