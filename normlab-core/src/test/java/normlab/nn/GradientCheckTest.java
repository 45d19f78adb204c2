package normlab.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import normlab.norm.BatchNorm;
import normlab.norm.BatchNorm1d;
import normlab.norm.BatchNorm2d;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.testing.GradCheck;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Finite-difference checks (central, fourth order, objective in double; see {@link GradCheck} for the step, the rounding
 * allowance and the tolerance 1e-3 relative to max|numeric|) of dx and every parameter gradient of each layer, BatchNorm
 * in training and evaluation mode with and without affine parameters, and of the cross-entropy loss.
 */
class GradientCheckTest {
    private static Tensor gaussian(Rng rng, double std, int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) t.data[i] = (float) (std * rng.nextGaussian());
        return t;
    }

    private static void assertAllPass(List<GradCheck.Result> results, int expectedTensors) {
        assertEquals(expectedTensors, results.size(), "tensors checked: " + results);
        for (GradCheck.Result r : results) {
            assertTrue(r.scale() > 0, "gradient identically zero, check proves nothing: " + r);
            // The rounding allowance must be small next to the gradient, or a wrong gradient could hide in it.
            assertTrue(r.noise() < 0.01 * r.scale(), "rounding allowance too large for a meaningful check: " + r);
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void linear(boolean bias) {
        Rng rng = new Rng(11);
        Linear lin = new Linear(4, 3, bias, rng);
        assertAllPass(GradCheck.check(lin, gaussian(rng, 1, 5, 4), GradCheck.TOL), bias ? 3 : 2);
    }

    @Test
    void sigmoid() {
        assertAllPass(GradCheck.check(new Activation.Sigmoid(), gaussian(new Rng(12), 2, 4, 6), GradCheck.TOL), 1);
    }

    @Test
    void tanh() {
        assertAllPass(GradCheck.check(new Activation.Tanh(), gaussian(new Rng(13), 1.5, 4, 6), GradCheck.TOL), 1);
    }

    @Test
    void relu() {
        // Away from the kink: |x| ≥ 0.25, several times the step 2h.
        Tensor x = gaussian(new Rng(14), 1, 4, 6);
        for (int i = 0; i < x.numel(); i++) if (Math.abs(x.data[i]) < 0.25f) x.data[i] = Math.copySign(0.25f + Math.abs(x.data[i]), x.data[i]);
        assertAllPass(GradCheck.check(new Activation.ReLU(), x, GradCheck.TOL), 1);
    }

    private static BatchNorm batchNorm(int dims, int c, boolean affine, boolean track, Rng rng) {
        BatchNorm bn = dims == 1 ? new BatchNorm1d(c, 1e-5, 0.1, affine, track) : new BatchNorm2d(c, 1e-5, 0.1, affine, track);
        if (affine) {
            for (int i = 0; i < c; i++) {
                bn.weight.value.data[i] = (float) (0.5 + rng.nextDouble());
                bn.bias.value.data[i] = (float) rng.nextGaussian();
            }
        }
        if (track) {
            for (int i = 0; i < c; i++) {
                bn.runningMean.data[i] = (float) (0.3 * rng.nextGaussian());
                bn.runningVar.data[i] = (float) (0.5 + rng.nextDouble());
            }
        }
        return bn;
    }

    @ParameterizedTest(name = "{0} affine={1} train={2} track={3}")
    @CsvSource({
        "'8,3', true, true, true", "'8,3', false, true, true", "'8,3', true, false, true", "'8,3', false, false, true",
        "'4,3,5', true, true, true", "'4,3,5', false, false, true", "'4,3,5', true, false, false",
        "'3,2,3,3', true, true, true", "'3,2,3,3', false, true, true", "'3,2,3,3', true, false, true",
        "'3,2,3,3', false, false, false", "'6,3,1,1', true, true, true", "'6,3,1,1', true, false, true",
        "'3,2,1,1', false, true, true"
    })
    void batchNorm(String shapeText, boolean affine, boolean train, boolean track) {
        String[] parts = shapeText.split(",");
        int[] shape = new int[parts.length];
        for (int i = 0; i < parts.length; i++) shape[i] = Integer.parseInt(parts[i].trim());
        Rng rng = new Rng(21 + shape.length);
        BatchNorm bn = batchNorm(shape.length == 4 ? 2 : 1, shape[1], affine, track, rng);
        bn.setTraining(train);
        Tensor x = gaussian(rng, 1, shape);
        Tensor rmBefore = track ? bn.runningMean.copy() : null;
        assertAllPass(GradCheck.check(bn, x, GradCheck.TOL), affine ? 3 : 1);
        if (track) assertEquals(0, normlab.testing.Golden.err(bn.runningMean, rmBefore), "GradCheck restores buffers");
    }

    @Test
    void smallNetwork() {
        Rng rng = new Rng(31);
        Sequential net = new Sequential(new Linear(5, 4, false, rng), batchNorm(1, 4, true, true, rng), new Activation.Sigmoid(),
                new Linear(4, 3, true, rng), new Activation.Tanh());
        assertAllPass(GradCheck.check(net, gaussian(rng, 1, 6, 5), GradCheck.TOL), 6);
    }

    @Test
    void convolutionalShapedNetwork() {
        // BatchNorm2d → Tanh → Flatten → Linear: Flatten's backward must restore (N, C, H, W).
        Rng rng = new Rng(32);
        Sequential net = new Sequential(batchNorm(2, 2, true, true, rng), new Activation.Tanh(), new Flatten(),
                new Linear(2 * 3 * 2, 3, true, rng));
        assertAllPass(GradCheck.check(net, gaussian(rng, 1, 4, 2, 3, 2), GradCheck.TOL), 5);
    }

    @ParameterizedTest
    @ValueSource(doubles = {1, 8})
    void crossEntropy(double logitScale) {
        Rng rng = new Rng(41);
        Tensor z = gaussian(rng, logitScale, 6, 5);
        int[] labels = new int[6];
        for (int i = 0; i < labels.length; i++) labels[i] = rng.nextInt(5);
        CrossEntropyLoss ce = new CrossEntropyLoss();
        float loss = ce.forward(z, labels);
        Tensor g = ce.backward().copy();
        // The loss is summed in double and rounded once to float: off by at most a few ulps of |L|.
        double e = 4 * 0x1p-24 * Math.abs(loss);
        GradCheck.Result r = GradCheck.checkScalar("CrossEntropyLoss dlogits", z, g, () -> ce.forward(z, labels), e, GradCheck.TOL);
        assertAllPass(List.of(r), 1);
    }
}
