package normlab.norm;

import java.util.LinkedHashMap;
import java.util.Map;
import normlab.nn.Parameter;
import normlab.tensor.Tensor;

/**
 * What the batch-statistics layers (BatchNorm, BatchRenorm, GhostBatchNorm, InstanceNorm) share: option checks, the
 * per-channel affine parameters γ (ones) and β (zeros), and the running estimates kept as PyTorch's buffers
 * {@code running_mean} (zeros), {@code running_var} (ones) and {@code num_batches_tracked}, with their update
 * <pre>   r ← (1 − f)·r + f·b,   f = momentum, or 1/num_batches_tracked when momentum is null (cumulative average)</pre>
 * where b is the batch mean, or the batch variance made unbiased by the caller's factor m/(m−1).
 */
final class RunningStats {
    final Tensor mean;
    final Tensor var;
    final Tensor count; // 0-d

    RunningStats(int numFeatures) {
        mean = Tensor.zeros(numFeatures);
        var = Tensor.full(1f, numFeatures);
        count = Tensor.scalar(0f);
    }

    /** The buffers under PyTorch's names, in its order (live tensors). */
    Map<String, Tensor> buffers() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("running_mean", mean);
        m.put("running_var", var);
        m.put("num_batches_tracked", count);
        return m;
    }

    /** Counts one training batch and returns the update factor f for {@code momentum} (null: cumulative average). */
    double countBatch(Double momentum) {
        count.data[0] += 1f;
        return momentum != null ? momentum : 1.0 / count.data[0];
    }

    /** r ← (1 − f)·r + f·b for the mean and for the variance times {@code varScale} (the unbiasing factor). */
    void blend(double f, double[] batchMean, double[] batchVar, double varScale) {
        for (int ch = 0; ch < mean.numel(); ch++) {
            mean.data[ch] = (float) ((1 - f) * mean.data[ch] + f * batchMean[ch]);
            var.data[ch] = (float) ((1 - f) * var.data[ch] + f * batchVar[ch] * varScale);
        }
    }

    /** Throws an {@link IllegalArgumentException} naming {@code layer} for a non-positive size or eps, or a momentum outside [0, 1]. */
    static void checkOptions(String layer, int numFeatures, double eps, Double momentum, boolean momentumMayBeNull) {
        if (numFeatures <= 0) throw new IllegalArgumentException(layer + ": numFeatures must be positive, got " + numFeatures);
        if (!(eps > 0)) throw new IllegalArgumentException(layer + ": eps must be > 0, got " + eps);
        if (momentum == null ? !momentumMayBeNull : !(momentum >= 0 && momentum <= 1)) {
            throw new IllegalArgumentException(layer + ": momentum must be in [0, 1]" + (momentumMayBeNull ? " or null" : "")
                    + ", got " + momentum);
        }
    }

    /** γ: learnable per-channel scale, initialized to ones. */
    static Parameter gamma(int numFeatures) {
        return new Parameter("weight", Tensor.full(1f, numFeatures), Parameter.Kind.NORM);
    }

    /** β: learnable per-channel shift, initialized to zeros. */
    static Parameter beta(int numFeatures) {
        return new Parameter("bias", Tensor.zeros(numFeatures), Parameter.Kind.NORM);
    }
}
