package normlab.norm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import normlab.nn.Linear;
import normlab.nn.Sequential;
import normlab.tensor.Rng;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** BatchNorm's algebra: the eval-mode affine, large offsets, batches of one, the cumulative average, no tracking. */
class BatchNormAlgebraTest {
    private static Tensor gaussian(Rng rng, double mean, double std, int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) t.data[i] = (float) (mean + std * rng.nextGaussian());
        return t;
    }

    /** Algorithm 2: in evaluation y = γ/√(var+ε)·x + (β − γ·mean/√(var+ε)), per channel, with the running statistics. */
    @Test
    void evalIsTheFixedAffine() {
        Rng rng = new Rng(5);
        int c = 3;
        BatchNorm2d bn = new BatchNorm2d(c, 1e-3, 0.1, true, true);
        for (int i = 0; i < c; i++) {
            bn.weight.value.data[i] = (float) (0.5 + rng.nextDouble());
            bn.bias.value.data[i] = (float) rng.nextGaussian();
        }
        bn.train();
        for (int k = 0; k < 3; k++) bn.forward(gaussian(rng, 2, 3, 4, c, 3, 3)); // moves the running statistics
        bn.eval();
        Tensor x = gaussian(rng, 1, 2, 5, c, 4, 2);
        Tensor y = bn.forward(x);
        int s = 8;
        for (int i = 0; i < x.numel(); i++) {
            int ch = (i / s) % c;
            double g = bn.weight.value.data[ch], b = bn.bias.value.data[ch];
            double rm = bn.runningMean.data[ch], rv = bn.runningVar.data[ch];
            double k = g / Math.sqrt(rv + 1e-3);
            double expected = k * x.data[i] + (b - g * rm / Math.sqrt(rv + 1e-3));
            assertEquals(expected, y.data[i], 2e-6 * Math.max(1, Math.abs(expected)), "element " + i);
        }
        // Evaluation leaves the buffers alone.
        Tensor rm = bn.runningMean.copy();
        bn.forward(x);
        assertArrayEquals(rm.data, bn.runningMean.data);
        assertEquals(3f, bn.numBatchesTracked.data[0]);
    }

    /** A channel with mean 1e4 and std 1e-2 normalizes to unit variance; the textbook E[x²]−E[x]² would lose every digit. */
    @Test
    void largeOffsetNormalizesToUnitVariance() {
        Rng rng = new Rng(6);
        int n = 64, c = 2;
        Tensor x = Tensor.zeros(n, c);
        for (int i = 0; i < n; i++) {
            x.data[i * c] = (float) rng.nextGaussian();
            x.data[i * c + 1] = (float) (1e4 + 1e-2 * rng.nextGaussian());
        }
        // ε far below the variance 1e-4, so that unit variance is the exact answer (ε = 1e-5 would give 1e-4/1.1e-4).
        BatchNorm1d bn = new BatchNorm1d(c, 1e-12, 0.1, false, true);
        Tensor y = bn.forward(x);
        for (int ch = 0; ch < c; ch++) {
            double mean = 0, sq = 0;
            for (int i = 0; i < n; i++) mean += y.data[i * c + ch];
            mean /= n;
            for (int i = 0; i < n; i++) sq += Math.pow(y.data[i * c + ch] - mean, 2);
            assertEquals(0, mean, 1e-3, "channel " + ch + " mean");
            assertEquals(1, sq / n, 1e-3, "channel " + ch + " variance");
        }
        // The statistics themselves, against a double two-pass computation over the same float inputs.
        double mu = 0, var = 0;
        for (int i = 0; i < n; i++) mu += x.data[i * c + 1];
        mu /= n;
        for (int i = 0; i < n; i++) var += Math.pow(x.data[i * c + 1] - mu, 2);
        var /= n;
        assertEquals(mu, bn.lastMean()[1], 1e-9 * mu);
        assertEquals(1 / Math.sqrt(var + 1e-12), bn.lastRstd()[1], 1e-6 / Math.sqrt(var));
        assertEquals((float) (0.9 * 0 + 0.1 * mu), bn.runningMean.data[1], 1e-3);
    }

    /** Training with one value per channel (N·spatial = 1) has no variance and throws, naming the layer and the shape. */
    @Test
    void batchOfOneThrows() {
        Sequential net = new Sequential(new Linear(4, 3, new Rng(1)), new BatchNorm1d(3));
        ShapeException e = assertThrows(ShapeException.class, () -> net.forward(Tensor.zeros(1, 4)));
        assertTrue(e.getMessage().contains("BatchNorm1d '1'"), e.getMessage());
        assertTrue(e.getMessage().contains("[1, 3]"), e.getMessage());
        assertTrue(e.getMessage().contains("more than 1 value per channel"), e.getMessage());

        BatchNorm2d bn2 = new BatchNorm2d(3);
        ShapeException e2 = assertThrows(ShapeException.class, () -> bn2.forward(Tensor.zeros(1, 3, 1, 1)));
        assertTrue(e2.getMessage().contains("BatchNorm2d") && e2.getMessage().contains("[1, 3, 1, 1]"), e2.getMessage());
        assertEquals(0f, bn2.numBatchesTracked.data[0], "a rejected batch is not counted");

        // One sample with spatial extent is fine (m = H·W), and so is N = 1 in evaluation with running statistics.
        bn2.forward(gaussian(new Rng(2), 0, 1, 1, 3, 2, 2));
        bn2.eval();
        Tensor y = bn2.forward(Tensor.full(1f, 1, 3, 1, 1));
        assertEquals(3, y.numel());

        // Without running statistics evaluation also uses batch statistics, so it throws too (as PyTorch).
        BatchNorm1d free = new BatchNorm1d(3, 1e-5, 0.1, true, false);
        free.eval();
        assertThrows(ShapeException.class, () -> free.forward(Tensor.zeros(1, 3)));
    }

    /** momentum = null: the running statistics are the plain average of every batch's mean and unbiased variance. */
    @Test
    void nullMomentumIsCumulativeAverage() {
        Rng rng = new Rng(7);
        int n = 5, c = 2, batches = 4;
        BatchNorm1d bn = new BatchNorm1d(c, 1e-5, null, true, true);
        double[] sumMean = new double[c], sumVar = new double[c];
        for (int k = 0; k < batches; k++) {
            Tensor x = gaussian(rng, k, 1 + k, n, c);
            bn.forward(x);
            for (int ch = 0; ch < c; ch++) {
                double mu = 0, v = 0;
                for (int i = 0; i < n; i++) mu += x.data[i * c + ch];
                mu /= n;
                for (int i = 0; i < n; i++) v += Math.pow(x.data[i * c + ch] - mu, 2);
                sumMean[ch] += mu;
                sumVar[ch] += v / (n - 1);
            }
        }
        assertEquals(batches, bn.numBatchesTracked.data[0]);
        for (int ch = 0; ch < c; ch++) {
            assertEquals(sumMean[ch] / batches, bn.runningMean.data[ch], 1e-5 * Math.max(1, Math.abs(sumMean[ch] / batches)));
            assertEquals(sumVar[ch] / batches, bn.runningVar.data[ch], 1e-5 * (sumVar[ch] / batches));
        }
    }

    /** momentum = 0.1: running ← 0.9·running + 0.1·batch with the unbiased variance, starting from (0, 1). */
    @Test
    void momentumUpdateUsesUnbiasedVariance() {
        Tensor x = Tensor.of(new float[] {1, 10, 3, 20, 8, 30}, 3, 2);
        BatchNorm1d bn = new BatchNorm1d(2);
        bn.forward(x);
        assertEquals(0.1 * 4, bn.runningMean.data[0], 1e-6);
        assertEquals(0.1 * 20, bn.runningMean.data[1], 1e-6);
        // Channel 0: values 1, 3, 8: Σ(x−4)² = 9 + 1 + 16 = 26, unbiased 13; channel 1: 100 + 0 + 100 = 200, unbiased 100.
        assertEquals(0.9 + 0.1 * 13, bn.runningVar.data[0], 1e-5);
        assertEquals(0.9 + 0.1 * 100, bn.runningVar.data[1], 1e-5);
        assertEquals(1f, bn.numBatchesTracked.data[0]);
    }

    /** trackRunningStats = false: no buffers at all, and evaluation normalizes with the batch's own statistics. */
    @Test
    void noTrackingUsesBatchStatisticsInEval() {
        Rng rng = new Rng(8);
        BatchNorm2d bn = new BatchNorm2d(3, 1e-5, 0.1, true, false);
        assertNull(bn.runningMean);
        assertNull(bn.runningVar);
        assertNull(bn.numBatchesTracked);
        assertEquals(List.of("weight", "bias"), List.copyOf(bn.stateDict().keySet()));
        Tensor x = gaussian(rng, 3, 2, 4, 3, 2, 2);
        Tensor yTrain = bn.forward(x);
        bn.eval();
        assertTrue(bn.usesBatchStats());
        Tensor yEval = bn.forward(x);
        assertArrayEquals(yTrain.data, yEval.data, "eval without tracking must equal the training-mode output");
    }

    /** State-dict keys follow PyTorch: own parameters, own buffers, then children by index. */
    @Test
    void stateDictKeysFollowPyTorch() {
        Sequential net = new Sequential(new Linear(4, 3, false, new Rng(1)), new BatchNorm1d(3), new Linear(3, 2, new Rng(2)));
        assertEquals(List.of("0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked",
                "2.weight", "2.bias"), List.copyOf(net.stateDict().keySet()));
        assertEquals(0, net.stateDict().get("1.num_batches_tracked").rank(), "num_batches_tracked is a 0-d tensor");
        assertEquals(List.of("0.weight", "1.weight", "1.bias", "2.weight", "2.bias"), List.copyOf(net.namedParameters().keySet()));
        assertEquals("BatchNorm1d '1'", net.get(1).label());
    }

    /** Strict loading reports missing, unexpected and wrongly shaped keys together, and changes nothing on failure. */
    @Test
    void strictLoadReportsEverythingAndChangesNothing() {
        Sequential net = new Sequential(new Linear(4, 3, false, new Rng(1)), new BatchNorm1d(3));
        Map<String, Tensor> before = net.stateDict();
        Map<String, Tensor> bad = new java.util.LinkedHashMap<>(net.stateDict());
        for (Tensor t : bad.values()) java.util.Arrays.fill(t.data, 7f);
        bad.remove("1.running_var");
        bad.put("1.weight", Tensor.full(7f, 4));
        bad.put("2.weight", Tensor.zeros(1));
        normlab.nn.StateDictException e = assertThrows(normlab.nn.StateDictException.class, () -> net.loadStateDict(bad));
        assertEquals(List.of("1.running_var"), e.missing);
        assertEquals(List.of("2.weight"), e.unexpected);
        assertEquals(1, e.wrongShape.size());
        assertTrue(e.wrongShape.get(0).contains("1.weight") && e.wrongShape.get(0).contains("[4]") && e.wrongShape.get(0).contains("[3]"),
                e.wrongShape.toString());
        assertTrue(e.getMessage().contains("missing") && e.getMessage().contains("unexpected") && e.getMessage().contains("size mismatch"),
                e.getMessage());
        for (Map.Entry<String, Tensor> en : net.stateDict().entrySet()) {
            assertArrayEquals(before.get(en.getKey()).data, en.getValue().data, en.getKey() + " changed by a failed load");
        }
        // A correct dict loads every value, buffers included.
        Map<String, Tensor> good = net.stateDict();
        for (Tensor t : good.values()) java.util.Arrays.fill(t.data, 2f);
        net.loadStateDict(good);
        assertEquals(2f, ((BatchNorm) net.get(1)).numBatchesTracked.data[0]);
        assertEquals(2f, ((Linear) net.get(0)).weight.value.data[5]);
    }

    /** Wrong ranks and channel counts name the layer, the shape seen and what was expected. */
    @Test
    void shapeErrorsNameLayerAndShapes() {
        BatchNorm1d bn1 = new BatchNorm1d(3);
        ShapeException e = assertThrows(ShapeException.class, () -> bn1.forward(Tensor.zeros(2, 3, 4, 5)));
        assertTrue(e.getMessage().contains("BatchNorm1d") && e.getMessage().contains("[2, 3, 4, 5]"), e.getMessage());
        ShapeException e2 = assertThrows(ShapeException.class, () -> new BatchNorm2d(3).forward(Tensor.zeros(2, 4, 2, 2)));
        assertTrue(e2.getMessage().contains("3") && e2.getMessage().contains("[2, 4, 2, 2]") && e2.getMessage().contains("4"), e2.getMessage());
        BatchNorm1d bn = new BatchNorm1d(3);
        bn.forward(Tensor.zeros(4, 3));
        ShapeException e3 = assertThrows(ShapeException.class, () -> bn.backward(Tensor.zeros(4, 2)));
        assertTrue(e3.getMessage().contains("[4, 2]") && e3.getMessage().contains("[4, 3]"), e3.getMessage());
        assertThrows(IllegalStateException.class, () -> new BatchNorm1d(3).backward(Tensor.zeros(4, 3)));
    }
}
