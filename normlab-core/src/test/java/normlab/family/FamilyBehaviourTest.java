package normlab.family;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import normlab.nn.Dropout;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.models.SmallCnn;
import normlab.norm.BatchNorm2d;
import normlab.norm.BatchRenorm;
import normlab.norm.FrozenBatchNorm2d;
import normlab.norm.GhostBatchNorm;
import normlab.norm.GroupNorm;
import normlab.norm.InstanceNorm2d;
import normlab.norm.LayerNorm;
import normlab.norm.RMSNorm;
import normlab.tensor.Rng;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;
import normlab.testing.Golden;
import org.junit.jupiter.api.Test;

/**
 * Identities between family members (GroupNorm G = 1 / G = C against LayerNorm / InstanceNorm, BatchRenorm with
 * rmax = 1, dmax = 0 and GhostBatchNorm with v ≥ N against BatchNorm), Keras's ghost-batch assignment, the paper's
 * BatchRenorm schedule, FrozenBatchNorm2d's torchvision state keys, the shared kernel's precision at large offsets,
 * RMSNorm's default ε, Dropout's seeded masks, and error messages that name the layer. Comparisons use
 * {@link Golden#err} (max abs difference over max abs reference).
 */
class FamilyBehaviourTest {
    private static Tensor gaussian(Rng rng, double std, double mean, int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) t.data[i] = (float) (mean + std * rng.nextGaussian());
        return t;
    }

    private static void close(String what, Tensor a, Tensor b, double tol) {
        assertArrayEquals(b.shape(), a.shape(), what + " shape");
        double e = Golden.err(a, b);
        assertTrue(e <= tol, what + ": err " + e + " > " + tol);
    }

    @Test
    void groupNormWithOneGroupHasLayerNormStatistics() {
        Rng rng = new Rng(1);
        Tensor x = gaussian(rng, 2, 1, 3, 4, 3, 2), dy = gaussian(rng, 1, 0, 3, 4, 3, 2);
        GroupNorm gn = new GroupNorm(1, 4, 1e-5, false, normlab.nn.Layout.NCHW);
        LayerNorm ln = new LayerNorm(new int[] {4, 3, 2}, 1e-5, false, false);
        close("y", gn.forward(x), ln.forward(x), 1e-6);
        close("dx", gn.backward(dy), ln.backward(dy), 1e-6);
    }

    @Test
    void groupNormWithOneChannelPerGroupIsInstanceNorm() {
        Rng rng = new Rng(2);
        Tensor x = gaussian(rng, 2, -1, 2, 3, 4, 4), dy = gaussian(rng, 1, 0, 2, 3, 4, 4);
        GroupNorm gn = new GroupNorm(3, 3);
        InstanceNorm2d in = new InstanceNorm2d(3, 1e-5, 0.1, true, false);
        for (int c = 0; c < 3; c++) {
            gn.weight.value.data[c] = in.weight.value.data[c] = 0.5f + c;
            gn.bias.value.data[c] = in.bias.value.data[c] = c - 1f;
        }
        close("y", gn.forward(x), in.forward(x), 1e-6);
        close("dx", gn.backward(dy), in.backward(dy), 1e-6);
        close("dweight", gn.weight.grad, in.weight.grad, 1e-6);
        close("dbias", gn.bias.grad, in.bias.grad, 1e-6);
    }

    /** With rmax = 1 and dmax = 0 (the paper's first 5k steps) r = 1 and d = 0: BatchRenorm is BatchNorm. */
    @Test
    void batchRenormDuringWarmupIsBatchNorm() {
        Rng rng = new Rng(3);
        BatchRenorm brn = new BatchRenorm(3);
        BatchNorm2d bn = new BatchNorm2d(3);
        for (int step = 0; step < 3; step++) {
            Tensor x = gaussian(rng, 2, 1, 4, 3, 2, 2), dy = gaussian(rng, 1, 0, 4, 3, 2, 2);
            close("y", brn.forward(x), bn.forward(x), 1e-6);
            close("dx", brn.backward(dy), bn.backward(dy), 1e-6);
            close("dweight", brn.weight.grad, bn.weight.grad, 1e-6);
            close("running_var", brn.runningVar, bn.runningVar, 1e-7);
            close("running_mean", brn.runningMean, bn.runningMean, 1e-7);
        }
        assertEquals(3f, brn.numBatchesTracked.data[0]);
        assertEquals(List.copyOf(bn.stateDict().keySet()), List.copyOf(brn.stateDict().keySet()), "BatchNorm's state keys");
    }

    @Test
    void batchRenormScheduleIsThePapers() {
        BatchRenorm.Schedule s = BatchRenorm.Schedule.PAPER;
        assertEquals(1.0, s.rmax(0));
        assertEquals(0.0, s.dmax(4999));
        assertEquals(1.0, s.rmax(5000));
        assertEquals(2.0, s.rmax(22500), 1e-12);
        assertEquals(3.0, s.rmax(40000));
        assertEquals(3.0, s.rmax(1_000_000));
        assertEquals(2.5, s.dmax(15000), 1e-12);
        assertEquals(5.0, s.dmax(25000));
        assertEquals(5.0, s.dmax(30000));
    }

    @Test
    void batchRenormUsesTheStepCounter() {
        // After the warmup step, r = clip(σ_B/σ) is active: a batch with twice the running std gets r = rmax = 1.5.
        BatchRenorm brn = new BatchRenorm(1, 1e-5, 0.1, false, new BatchRenorm.Schedule(1, 1.5, 1, 0.5, 1));
        Tensor x = Tensor.of(new float[] {-2, 2, -2, 2}, 4, 1);
        brn.forward(x);
        assertEquals(1.0, brn.lastR()[0], 0, "step 0 is warmup");
        brn.runningVar.data[0] = 1f;
        brn.runningMean.data[0] = 0f;
        Tensor y = brn.forward(x);
        assertEquals(1.5, brn.lastR()[0], 0, "step 1: σ_B/σ = 2 clipped to rmax");
        assertEquals(1.5, y.data[1], 1e-4, "x̂ = r·(x − μ_B)/σ_B + d = 1.5");
    }

    /** A virtual batch at least as large as the batch is one ghost batch: BatchNorm exactly. */
    @Test
    void ghostBatchNormWithLargeVirtualBatchIsBatchNorm() {
        Rng rng = new Rng(4);
        GhostBatchNorm g = new GhostBatchNorm(3, 8);
        BatchNorm2d bn = new BatchNorm2d(3);
        for (int step = 0; step < 2; step++) {
            Tensor x = gaussian(rng, 2, 1, 5, 3, 2, 2), dy = gaussian(rng, 1, 0, 5, 3, 2, 2);
            close("y", g.forward(x), bn.forward(x), 1e-6);
            close("dx", g.backward(dy), bn.backward(dy), 1e-6);
            close("dweight", g.weight.grad, bn.weight.grad, 1e-6);
            close("running_var", g.runningVar, bn.runningVar, 1e-7);
        }
        g.eval();
        bn.eval();
        Tensor x = gaussian(rng, 1, 0, 2, 3, 2, 2);
        close("eval y", g.forward(x), bn.forward(x), 1e-6);
    }

    /** Keras reshapes (N, …) to (v, N/v, …): ghost j holds samples j, j + G, j + 2G, … */
    @Test
    void ghostBatchesInterleaveAsKeras() {
        assertArrayEquals(new int[][] {{0, 4}, {1, 5}, {2, 6}, {3, 7}}, GhostBatchNorm.ghostBatches(8, 2));
        assertArrayEquals(new int[][] {{0, 3, 6, 9}, {1, 4, 7}, {2, 5, 8}}, GhostBatchNorm.ghostBatches(10, 4));
        assertArrayEquals(new int[][] {{0, 1, 2}}, GhostBatchNorm.ghostBatches(3, 8));
        // Ghost batches are normalized separately: samples 0 and 4 of 8 with v = 2 are a pair normalized to ±1.
        GhostBatchNorm g = new GhostBatchNorm(1, 2);
        Tensor x = Tensor.of(new float[] {5, 0, 0, 0, 7, 0, 1, 0}, 8, 1);
        Tensor y = g.forward(x);
        assertEquals(-1.0, y.data[0], 1e-4);
        assertEquals(1.0, y.data[4], 1e-4);
    }

    @Test
    void frozenBatchNormHasTorchvisionStateAndIsBatchNormInEvaluation() {
        FrozenBatchNorm2d f = new FrozenBatchNorm2d(3);
        assertEquals(List.of("weight", "bias", "running_mean", "running_var"), List.copyOf(f.stateDict().keySet()));
        assertTrue(f.parameters().isEmpty(), "frozen: nothing to learn");
        Rng rng = new Rng(5);
        BatchNorm2d bn = new BatchNorm2d(3);
        for (int s = 0; s < 3; s++) bn.forward(gaussian(rng, 2, 1, 4, 3, 2, 2));
        for (int c = 0; c < 3; c++) {
            bn.weight.value.data[c] = 0.5f + c;
            bn.bias.value.data[c] = c;
        }
        bn.eval();
        FrozenBatchNorm2d fb = FrozenBatchNorm2d.from(bn);
        Tensor x = gaussian(rng, 1, 0, 2, 3, 2, 2);
        Tensor yTrain = fb.train().forward(x);
        close("frozen vs BatchNorm eval", yTrain, bn.forward(x), 1e-6);
        close("same in train and eval", fb.eval().forward(x), yTrain, 0);
    }

    /** Values around 1e4 with spread 1e-2: shifted double sums keep the variance; the output is unit-variance. */
    @Test
    void sharedKernelSurvivesLargeOffsets() {
        int d = 64;
        Tensor x = Tensor.zeros(2, d);
        for (int i = 0; i < x.numel(); i++) x.data[i] = 10000f + ((i * 37) % 23 - 11) * 0.0078125f; // exact in float32
        Tensor y = new LayerNorm(d).forward(x);
        for (int r = 0; r < 2; r++) {
            double m = 0, v = 0;
            for (int j = 0; j < d; j++) m += y.data[r * d + j];
            m /= d;
            for (int j = 0; j < d; j++) v += (y.data[r * d + j] - m) * (y.data[r * d + j] - m);
            v /= d;
            assertEquals(0, m, 1e-5, "row " + r + " mean");
            // var(x) ≈ 6.6e-3 ≫ ε would make this 1 − ε/var ≈ 0.9985; check against that exactly.
            double varX = 0, mx = 0;
            for (int j = 0; j < d; j++) mx += x.data[r * d + j];
            mx /= d;
            for (int j = 0; j < d; j++) varX += (x.data[r * d + j] - mx) * (x.data[r * d + j] - mx);
            varX /= d;
            assertEquals(varX / (varX + 1e-5), v, 1e-5, "row " + r + " variance");
        }
    }

    @Test
    void rmsNormDefaultEpsIsFloatMachineEpsilon() {
        RMSNorm r = new RMSNorm(4);
        assertEquals(Math.pow(2, -23), r.eps);
        assertEquals(List.of("weight"), List.copyOf(r.stateDict().keySet()));
        Tensor y = r.forward(Tensor.zeros(2, 4));
        for (float v : y.data) assertEquals(0f, v, "zeros stay zeros");
        Tensor z = r.forward(Tensor.of(new float[] {3, 4, 0, 0}, 1, 4)); // rms = 2.5
        assertEquals(1.2f, z.data[0], 1e-6f);
        assertEquals(1.6f, z.data[1], 1e-6f);
    }

    @Test
    void dropoutMasksAreSeededScaledAndOffInEvaluation() {
        Tensor x = Tensor.full(2f, 100, 100);
        Dropout a = new Dropout(0.3, new Rng(6)), b = new Dropout(0.3, new Rng(6));
        Tensor ya = a.forward(x), yb = b.forward(x);
        assertArrayEquals(ya.data, yb.data, "same seed, same mask");
        int kept = 0;
        for (float v : ya.data) {
            if (v != 0f) {
                kept++;
                assertEquals(2f / 0.7f, v, 1e-6f, "kept values scaled by 1/(1−p)");
            }
        }
        // Binomial(10000, 0.7): mean 7000, sd ≈ 46; 5 sd either side.
        assertTrue(Math.abs(kept - 7000) < 230, "kept " + kept + " of 10000");
        Tensor g = a.backward(Tensor.full(1f, 100, 100));
        for (int i = 0; i < g.numel(); i++) assertEquals(ya.data[i] / 2f, g.data[i], 1e-6f, "backward uses the forward's mask");
        assertNotEquals(Golden.err(a.forward(x), ya), 0.0, "a new mask each training forward");
        a.eval();
        assertArrayEquals(x.data, a.forward(x).data, "identity in evaluation");
        Dropout all = new Dropout(1.0, new Rng(7));
        for (float v : all.forward(x).data) assertEquals(0f, v, "p = 1 drops everything");
    }

    @Test
    void errorsNameTheLayerAndShapes() {
        Sequential net = new Sequential(new Linear(4, 6, new Rng(8)), new GroupNorm(2, 8));
        ShapeException e = assertThrows(ShapeException.class, () -> net.forward(Tensor.zeros(3, 4)));
        assertTrue(e.getMessage().contains("GroupNorm '1'") && e.getMessage().contains("[3, 6]") && e.getMessage().contains("8"), e.getMessage());
        Module ln = new LayerNorm(5);
        e = assertThrows(ShapeException.class, () -> ln.forward(Tensor.zeros(2, 4)));
        assertTrue(e.getMessage().contains("LayerNorm") && e.getMessage().contains("[2, 4]") && e.getMessage().contains("5"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new GroupNorm(3, 8));
    }

    @Test
    void smallCnnStateKeysArePyTorchs() {
        Sequential bn = SmallCnn.build(SmallCnn.Norm.BN, 4, 8, new Rng(9));
        assertEquals(List.of("0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked",
                "4.weight", "5.weight", "5.bias", "5.running_mean", "5.running_var", "5.num_batches_tracked",
                "9.weight", "9.bias"), List.copyOf(bn.stateDict().keySet()));
        Sequential none = SmallCnn.build(SmallCnn.Norm.NONE, 4, 8, new Rng(9));
        assertEquals(List.of("0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias"), List.copyOf(none.stateDict().keySet()));
    }
}
