package normlab.family;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import normlab.nn.AvgPool2d;
import normlab.nn.Conv2d;
import normlab.nn.Dropout;
import normlab.nn.GlobalAvgPool;
import normlab.nn.Layout;
import normlab.nn.MaxPool2d;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.norm.BatchNorm2d;
import normlab.norm.BatchRenorm;
import normlab.norm.FrozenBatchNorm2d;
import normlab.norm.GhostBatchNorm;
import normlab.norm.GroupNorm;
import normlab.norm.InstanceNorm1d;
import normlab.norm.InstanceNorm2d;
import normlab.norm.LayerNorm;
import normlab.norm.RMSNorm;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.testing.GradCheck;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Finite-difference checks ({@link GradCheck}: central fourth-order differences of Σ r·y, tolerance 1e-3 relative to
 * max|numeric| plus a rounding allowance) of dL/dx and every parameter gradient of each new layer, in training and
 * evaluation where they differ, and in both layouts where a layer has two (GroupNorm, BatchNorm2d).
 */
class FamilyGradCheckTest {
    private static Tensor gaussian(Rng rng, double std, int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) t.data[i] = (float) (std * rng.nextGaussian());
        return t;
    }

    /** Non-trivial affine parameters, so a γ or β left out of a formula shows. */
    private static void randomize(Module m, Rng rng) {
        for (Parameter p : m.parameters()) {
            for (int i = 0; i < p.value.numel(); i++) {
                p.value.data[i] = p.kind == Parameter.Kind.NORM && p.name.equals("weight")
                        ? (float) (0.5 + rng.nextDouble()) : (float) (0.5 * rng.nextGaussian());
            }
        }
    }

    private static void check(Module m, Tensor x, int expectedTensors) {
        List<GradCheck.Result> results = GradCheck.check(m, x, GradCheck.TOL);
        assertEquals(expectedTensors, results.size(), "tensors checked: " + results);
        for (GradCheck.Result r : results) {
            assertTrue(r.scale() > 0, "gradient identically zero, check proves nothing: " + r);
            assertTrue(r.noise() < 0.01 * r.scale(), "rounding allowance too large for a meaningful check: " + r);
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void layerNorm(boolean bias) {
        Rng rng = new Rng(101);
        LayerNorm ln = new LayerNorm(new int[] {3, 4}, 1e-5, true, bias);
        randomize(ln, rng);
        check(ln, gaussian(rng, 1.5, 2, 3, 4), bias ? 3 : 2);
    }

    @Test
    void layerNormWithoutAffine() {
        check(new LayerNorm(new int[] {5}, 1e-5, false, false), gaussian(new Rng(102), 1, 3, 5), 1);
    }

    @ParameterizedTest
    @EnumSource(Layout.class)
    void groupNorm(Layout layout) {
        Rng rng = new Rng(103);
        GroupNorm gn = new GroupNorm(2, 6, 1e-5, true, layout);
        randomize(gn, rng);
        check(gn, gaussian(rng, 2, 2, layout == Layout.NCHW ? 6 : 3, 3, layout == Layout.NCHW ? 3 : 6), 3);
    }

    @Test
    void groupNormBatchOneWithoutAffine() {
        check(new GroupNorm(3, 6, 1e-5, false, Layout.NCHW), gaussian(new Rng(104), 1, 1, 6, 2, 2), 1);
    }

    @Test
    void instanceNormTrainingAndEvaluation() {
        Rng rng = new Rng(105);
        InstanceNorm2d in = new InstanceNorm2d(3, 1e-5, 0.1, true, true);
        randomize(in, rng);
        for (int c = 0; c < 3; c++) {
            in.runningMean.data[c] = (float) (0.3 * rng.nextGaussian());
            in.runningVar.data[c] = (float) (0.5 + rng.nextDouble());
        }
        Tensor x = gaussian(rng, 1, 2, 3, 3, 3);
        check(in.train(), x, 3);
        check(in.eval(), x, 3);
        check(new InstanceNorm1d(2), gaussian(rng, 1, 3, 2, 5), 1);
    }

    @Test
    void rmsNorm() {
        Rng rng = new Rng(106);
        RMSNorm rms = new RMSNorm(4, 3);
        randomize(rms, rng);
        check(rms, gaussian(rng, 1, 2, 4, 3), 2);
        check(new RMSNorm(new int[] {6}, 1e-6, false), gaussian(rng, 1, 3, 6), 1);
    }

    @ParameterizedTest
    @ValueSource(strings = {"plain", "stride_pad_rect", "dilation", "groups"})
    void conv2d(String kind) {
        Rng rng = new Rng(107);
        Conv2d conv = switch (kind) {
            case "plain" -> new Conv2d(2, 3, 3, rng);
            case "stride_pad_rect" -> new Conv2d(2, 3, new int[] {3, 2}, new int[] {2, 1}, new int[] {1, 1}, new int[] {1, 1}, 1, true, rng);
            case "dilation" -> new Conv2d(2, 2, 3, 1, 2, 2, 1, false, rng);
            default -> new Conv2d(4, 6, 3, 1, 1, 1, 2, true, rng);
        };
        Tensor x = gaussian(rng, 1, 2, conv.inChannels, 5, 5);
        check(conv, x, conv.bias == null ? 2 : 3);
    }

    /** Inputs with distinct values spaced by 1 (so the maximum of a window never changes within the stencil's ±2h). */
    private static Tensor spaced(Rng rng, int... shape) {
        Tensor t = Tensor.zeros(shape);
        int[] perm = new int[t.numel()];
        for (int i = 0; i < perm.length; i++) perm[i] = i;
        rng.shuffle(perm);
        for (int i = 0; i < perm.length; i++) t.data[i] = perm[i] - perm.length / 2f;
        return t;
    }

    @Test
    void maxPool() {
        Rng rng = new Rng(108);
        check(new MaxPool2d(2), spaced(rng, 1, 2, 4, 4), 1);
        check(new MaxPool2d(3, 2, 1), spaced(rng, 1, 2, 5, 4), 1);
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void avgPool(boolean countIncludePad) {
        check(new AvgPool2d(3, 2, 1, countIncludePad), gaussian(new Rng(109), 1, 2, 2, 5, 4), 1);
    }

    @Test
    void globalAvgPool() {
        check(new GlobalAvgPool(), gaussian(new Rng(110), 1, 2, 3, 3, 2), 1);
    }

    @Test
    void dropoutWithFixedMask() {
        Rng rng = new Rng(111);
        Dropout d = new Dropout(0.4, rng);
        Tensor mask = Tensor.zeros(3, 5);
        for (int i = 0; i < mask.numel(); i++) mask.data[i] = i % 3 == 0 ? 0f : 1f;
        d.setMask(mask);
        check(d, gaussian(rng, 1, 3, 5), 1);
    }

    @ParameterizedTest
    @EnumSource(Layout.class)
    void batchNorm2dBothLayouts(Layout layout) {
        Rng rng = new Rng(112);
        BatchNorm2d bn = new BatchNorm2d(3, 1e-5, 0.1, true, true, layout);
        randomize(bn, rng);
        Tensor x = layout == Layout.NCHW ? gaussian(rng, 1, 2, 3, 2, 2) : gaussian(rng, 1, 2, 2, 2, 3);
        check(bn.train(), x, 3);
        for (int c = 0; c < 3; c++) bn.runningVar.data[c] = (float) (0.5 + rng.nextDouble());
        check(bn.eval(), x, 3);
    }

    /**
     * BatchRenorm treats r and d as constants in backward (the paper's stop-gradient), so its gradient is the true
     * derivative of the forward only where r and d are clipped — locally constant. Running statistics far from the
     * batch's put every channel there (r = 1/rmax, d = ±dmax), so the check sees r and d multiply and shift x̂.
     */
    @Test
    void batchRenormWithClippedCorrections() {
        Rng rng = new Rng(113);
        BatchRenorm brn = new BatchRenorm(3, 1e-5, 0.1, true, BatchRenorm.Schedule.constant(2, 0.5));
        randomize(brn, rng);
        for (int c = 0; c < 3; c++) {
            brn.runningVar.data[c] = 100f;              // σ = 10 ≫ σ_B ≈ 1: r = 1/rmax
            brn.runningMean.data[c] = c % 2 == 0 ? 20f : -20f; // |μ_B − μ|/σ ≈ 2 > dmax
        }
        Tensor x = gaussian(rng, 1, 4, 3, 2);
        check(brn.train(), x, 3);
        double[] r = brn.lastR(), d = brn.lastD();
        for (int c = 0; c < 3; c++) {
            assertEquals(0.5, r[c], 1e-12, "r clipped to 1/rmax");
            assertEquals(0.5, Math.abs(d[c]), 1e-12, "d clipped to ±dmax");
        }
        check(brn.eval(), x, 3);
    }

    @Test
    void ghostBatchNorm() {
        Rng rng = new Rng(114);
        GhostBatchNorm g = new GhostBatchNorm(2, 4);
        randomize(g, rng);
        check(g.train(), gaussian(rng, 1, 7, 2, 2), 3); // ghosts of 4 and 3 samples
        g.runningVar.data[0] = 0.7f;
        check(g.eval(), gaussian(rng, 1, 3, 2, 2), 3);
    }

    @Test
    void frozenBatchNorm() {
        Rng rng = new Rng(115);
        FrozenBatchNorm2d f = new FrozenBatchNorm2d(3);
        for (int c = 0; c < 3; c++) {
            f.weight.data[c] = (float) (0.5 + rng.nextDouble());
            f.bias.data[c] = (float) rng.nextGaussian();
            f.runningMean.data[c] = (float) rng.nextGaussian();
            f.runningVar.data[c] = (float) (0.5 + rng.nextDouble());
        }
        check(f, gaussian(rng, 1, 2, 3, 2, 2), 1);
    }
}
