package normlab.infer;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import normlab.nn.Activation;
import normlab.nn.Flatten;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm;
import normlab.norm.BatchNorm1d;
import normlab.norm.BatchNorm2d;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * PreciseBN recalibration. Statistics are compared with a direct two-pass computation in double over the
 * concatenated samples: |got − ref| ≤ 1e-6·max(1, |ref|) per channel.
 */
class RecalibrateTest {
    private static Sequential mlp(Rng r) {
        return new Sequential(new Linear(20, 32, r), new BatchNorm1d(32), new Activation.ReLU(),
                new Linear(32, 16, false, r), new BatchNorm1d(16), new Activation.ReLU(), new Linear(16, 5, r));
    }

    /** Exact per-channel mean and unbiased variance of (N, C, S) data, two passes in double. */
    private static double[][] direct(Tensor x) {
        int n = x.dim(0), c = x.dim(1), s = x.numel() / (n * c);
        double[] mean = new double[c], var = new double[c];
        double m = (double) n * s;
        for (int ch = 0; ch < c; ch++) {
            double sum = 0;
            for (int i = 0; i < n; i++) for (int j = 0; j < s; j++) sum += x.data[(i * c + ch) * s + j];
            mean[ch] = sum / m;
            double sq = 0;
            for (int i = 0; i < n; i++) for (int j = 0; j < s; j++) {
                double d = x.data[(i * c + ch) * s + j] - mean[ch];
                sq += d * d;
            }
            var[ch] = sq / (m - 1);
        }
        return new double[][] {mean, var};
    }

    private static void assertStats(BatchNorm bn, double[][] ref) {
        for (int ch = 0; ch < bn.numFeatures; ch++) {
            assertEquals(ref[0][ch], bn.runningMean.data[ch], 1e-6 * Math.max(1, Math.abs(ref[0][ch])), bn.label() + " mean ch " + ch);
            assertEquals(ref[1][ch], bn.runningVar.data[ch], 1e-6 * Math.max(1, Math.abs(ref[1][ch])), bn.label() + " var ch " + ch);
        }
    }

    private static Tensor concat(List<Tensor> bs) {
        int total = 0;
        for (Tensor b : bs) total += b.numel();
        float[] all = new float[total];
        int o = 0, rows = 0;
        for (Tensor b : bs) {
            System.arraycopy(b.data, 0, all, o, b.numel());
            o += b.numel();
            rows += b.dim(0);
        }
        int[] shape = bs.get(0).shape();
        shape[0] = rows;
        return Tensor.of(all, shape);
    }

    @Test
    void recalibratedStatsEqualDirectStatisticsLayerByLayer() {
        Toy.Data train = Toy.blobs(1, 2, 1500, 20, 5), held = Toy.blobs(1, 4, 700, 20, 5);
        Sequential m = mlp(new Rng(9));
        Toy.train(m, train, 2, 50, 0.05);
        // Unequal batch sizes: the means must be weighted by count.
        List<Tensor> batches = List.of(held.batch(0, 100), held.batch(100, 137), held.batch(137, 450), held.batch(450, 700));
        float nbt = ((BatchNorm) m.get(1)).numBatchesTracked.data[0];
        Map<String, Tensor> params = new java.util.LinkedHashMap<>();
        m.namedParameters().forEach((k, p) -> params.put(k, p.value.copy()));
        List<Recalibrate.LayerStats> stats = Recalibrate.run(m, batches);
        assertEquals(2, stats.size());
        assertEquals(700, stats.get(0).count());
        Tensor all = concat(batches);
        // Layer 1 sees Linear 0's output; layer 4 sees the eval-mode prefix with layer 1's new statistics.
        assertStats((BatchNorm) m.get(1), direct(m.get(0).forward(all)));
        Tensor h = all;
        for (int i = 0; i < 4; i++) h = m.get(i).forward(h);
        assertStats((BatchNorm) m.get(4), direct(h));
        assertEquals(nbt, ((BatchNorm) m.get(1)).numBatchesTracked.data[0], "num_batches_tracked untouched");
        m.namedParameters().forEach((k, p) -> assertArrayEquals(params.get(k).data, p.value.data, k + " untouched"));
        assertTrue(stats.get(0).maxMeanChange() > 0, "training's moving average differs from the exact mean");
    }

    @Test
    void bn2dCountsEveryPosition() {
        Rng r = new Rng(10);
        Module m = new Sequential(new BatchNorm2d(3), new Flatten());
        List<Tensor> batches = new ArrayList<>();
        for (int n : new int[] {2, 5, 1}) {
            Tensor t = Toy.randn(r, n, 3, 4, 5);
            for (int i = 0; i < t.data.length; i++) t.data[i] = t.data[i] * 3 + 1000; // a large offset: the shift matters
            batches.add(t);
        }
        m.train();
        List<Recalibrate.LayerStats> stats = Recalibrate.run(m, batches);
        assertEquals(8 * 20, stats.get(0).count());
        assertStats((BatchNorm) ((Sequential) m).get(0), direct(concat(batches)));
        assertTrue(m.isTraining() && ((Sequential) m).get(0).isTraining(), "modes untouched");
    }

    @Test
    void channelsLastCountsEveryPosition() {
        Rng r = new Rng(17);
        BatchNorm2d bn = new BatchNorm2d(3, normlab.nn.Layout.NHWC);
        List<Tensor> batches = List.of(Toy.randn(r, 2, 4, 5, 3), Toy.randn(r, 3, 4, 5, 3));
        Recalibrate.run(new Sequential(bn), batches);
        // Direct statistics: NHWC (N, H, W, C) is (N·H·W, C) rows.
        Tensor all = concat(batches);
        assertStats(bn, direct(all.view(all.numel() / 3, 3)));
    }

    @Test
    void corruptedStatisticsRecover() {
        Toy.Data train = Toy.blobs(21, 22, 2000, 20, 5), held = Toy.blobs(21, 23, 1000, 20, 5), test = Toy.blobs(21, 24, 1000, 20, 5);
        Sequential m = mlp(new Rng(12));
        Toy.train(m, train, 3, 50, 0.05);
        double clean = Toy.accuracy(m, test);
        Rng r = new Rng(13);
        for (int i : new int[] {1, 4}) {
            BatchNorm bn = (BatchNorm) m.get(i);
            for (int c = 0; c < bn.numFeatures; c++) {
                bn.runningMean.data[c] += (float) (3 * r.nextGaussian());
                bn.runningVar.data[c] *= (float) Math.exp(3 * r.nextGaussian());
            }
        }
        double corrupted = Toy.accuracy(m, test);
        Recalibrate.run(m, held.batches(100));
        double recovered = Toy.accuracy(m, test);
        System.out.printf("corrupted stats: clean %.3f, corrupted %.3f, recalibrated %.3f%n", clean, corrupted, recovered);
        assertTrue(clean > 0.8, "trained: " + clean);
        assertTrue(corrupted < clean - 0.2, "corruption hurts: " + corrupted + " vs " + clean);
        assertTrue(recovered >= clean - 0.02, "recalibration recovers: " + recovered + " vs " + clean);
    }

    @Test
    void shiftedInputsRecover() {
        Toy.Data train = Toy.blobs(31, 32, 2000, 20, 5), held = Toy.blobs(31, 33, 1000, 20, 5), test = Toy.blobs(31, 34, 1000, 20, 5);
        Sequential m = mlp(new Rng(14));
        Toy.train(m, train, 3, 50, 0.05);
        double clean = Toy.accuracy(m, test);
        // Deployment shift: every input moved by a fixed random offset and scaled by 1.5 (a miscalibrated sensor).
        Rng r = new Rng(15);
        float[] offset = new float[20];
        for (int j = 0; j < 20; j++) offset[j] = (float) (10 * r.nextGaussian());
        Toy.Data heldShift = shift(held, offset), testShift = shift(test, offset);
        double shifted = Toy.accuracy(m, testShift);
        Recalibrate.run(m, heldShift.batches(100));
        double recovered = Toy.accuracy(m, testShift);
        System.out.printf("shifted inputs: clean %.3f, shifted %.3f, recalibrated %.3f%n", clean, shifted, recovered);
        assertTrue(shifted < clean - 0.2, "the shift hurts: " + shifted + " vs " + clean);
        assertTrue(recovered >= clean - 0.05, "recalibration recovers: " + recovered + " vs " + clean);
    }

    private static Toy.Data shift(Toy.Data d, float[] offset) {
        Tensor x = d.x().copy();
        int dim = offset.length;
        for (int i = 0; i < x.data.length; i++) x.data[i] = 1.5f * x.data[i] + offset[i % dim];
        return new Toy.Data(x, d.y());
    }

    @Test
    void errorsNameTheLayer() {
        Sequential m = mlp(new Rng(16));
        assertThrows(IllegalArgumentException.class, () -> Recalibrate.run(m, List.of()));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Recalibrate.run(m, List.of(Toy.randn(new Rng(1), 1, 20))));
        assertTrue(e.getMessage().startsWith("BatchNorm1d '1': 1 value(s) per channel"), e.getMessage());
        assertThrows(normlab.tensor.ShapeException.class, () -> Recalibrate.run(m, List.of(Toy.randn(new Rng(1), 4, 21))));
    }
}
