package normlab.norm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * Identity recovery (Ioffe &amp; Szegedy 2015, §3): in training mode, γ = √(σ²_B + ε) and β = μ_B for a batch make BN
 * return that batch unchanged, y = γ·(x − μ_B)/√(σ²_B + ε) + β = x, so a BN layer can represent the identity and
 * normalization takes no function away. Checked on layers that were trained first (γ, β and the running statistics
 * moved), for (N, C) and (N, C, H, W) inputs whose channels have offsets and scales far from 0 and 1.
 */
class BatchNormIdentityTest {
    /** Per-channel offsets and scales, including a tiny and a large variance (where ε matters and where it does not). */
    private static final double[] MEAN = {0, 3, -20, 0.5}, STD = {1, 0.01, 40, 2e-3};

    private static Tensor batch(Rng rng, int n, int c, int s) {
        Tensor x = Tensor.zeros(s == 1 ? new int[] {n, c} : new int[] {n, c, s / 2, 2});
        for (int i = 0; i < n; i++) {
            for (int ch = 0; ch < c; ch++) {
                for (int k = 0; k < s; k++) x.data[(i * c + ch) * s + k] = (float) (MEAN[ch] + STD[ch] * rng.nextGaussian());
            }
        }
        return x;
    }

    /** Trains {@code bn} a few steps toward a random target (so γ, β and the running buffers are not their defaults). */
    private static void trainAFewSteps(BatchNorm bn, Rng rng, int c, int s) {
        for (int step = 0; step < 5; step++) {
            Tensor x = batch(rng, 8, c, s);
            Tensor y = bn.forward(x);
            Tensor dy = Tensor.zeros(y.shape());
            for (int i = 0; i < dy.numel(); i++) dy.data[i] = (float) rng.nextGaussian();
            bn.zeroGrad();
            bn.backward(dy);
            for (int ch = 0; ch < c; ch++) {
                bn.weight.value.data[ch] -= 0.1f * bn.weight.grad.data[ch];
                bn.bias.value.data[ch] -= 0.1f * bn.bias.grad.data[ch];
            }
        }
    }

    /**
     * Sets γ_c = √(σ²_c + ε), β_c = μ_c from {@code x} (μ and the biased σ² computed here in double, independently of
     * the layer), runs the layer in training mode on {@code x} and returns max |y − x| / max(1, |x|) over all elements.
     */
    private static double identityError(BatchNorm bn, Tensor x, int c, int s) {
        int n = x.dim(0);
        for (int ch = 0; ch < c; ch++) {
            double mu = 0, var = 0;
            for (int i = 0; i < n; i++) for (int k = 0; k < s; k++) mu += x.data[(i * c + ch) * s + k];
            mu /= (double) n * s;
            for (int i = 0; i < n; i++) for (int k = 0; k < s; k++) var += Math.pow(x.data[(i * c + ch) * s + k] - mu, 2);
            var /= (double) n * s;
            bn.weight.value.data[ch] = (float) Math.sqrt(var + bn.eps);
            bn.bias.value.data[ch] = (float) mu;
        }
        bn.train();
        Tensor y = bn.forward(x);
        double worst = 0;
        for (int i = 0; i < x.numel(); i++) worst = Math.max(worst, Math.abs(y.data[i] - x.data[i]) / Math.max(1, Math.abs(x.data[i])));
        return worst;
    }

    @Test
    void batchNorm1dRecoversItsInput() {
        Rng rng = new Rng(21);
        int c = MEAN.length;
        BatchNorm1d bn = new BatchNorm1d(c);
        trainAFewSteps(bn, rng, c, 1);
        assertTrue(Math.abs(bn.weight.value.data[0] - 1) > 1e-3, "the layer was trained first: γ moved");
        Tensor x = batch(rng, 32, c, 1);
        double err = identityError(bn, x, c, 1);
        // float rounding of (x − μ)·k + β: a few ulps of max(1, |x|) (ulp(1) = 1.2e-7)
        assertTrue(err <= 1e-6, "BatchNorm1d with γ = √(σ²+ε), β = μ must return its input, max relative error " + err);
        // The same γ, β on another batch are not the identity: the recovery is of this batch's statistics.
        Tensor other = batch(rng, 32, c, 1);
        for (int i = 0; i < other.numel(); i++) other.data[i] = 2 * other.data[i] + 1;
        Tensor y = bn.forward(other);
        double far = 0;
        for (int i = 0; i < y.numel(); i++) far = Math.max(far, Math.abs(y.data[i] - other.data[i]));
        assertTrue(far > 0.1, "a batch with other statistics is normalized, not passed through: " + far);
    }

    @Test
    void batchNorm2dRecoversItsInput() {
        Rng rng = new Rng(22);
        int c = MEAN.length, s = 6;
        BatchNorm2d bn = new BatchNorm2d(c);
        trainAFewSteps(bn, rng, c, s);
        assertEquals(5f, bn.numBatchesTracked.data[0]);
        Tensor x = batch(rng, 4, c, s);
        double err = identityError(bn, x, c, s);
        assertTrue(err <= 1e-6, "BatchNorm2d with γ = √(σ²+ε), β = μ must return its input, max relative error " + err);
    }
}
