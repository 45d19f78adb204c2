package normlab.norm;

import normlab.nn.Layout;
import normlab.tensor.Tensor;

/**
 * A normalization whose inference function, once it keeps running statistics, is BatchNorm's fixed per-channel affine
 * <pre>   y = γ·(x − running_mean)/√(running_var + ε) + β  =  k·x + s,   k = γ/√(rv + ε),   s = β − rm·k</pre>
 * (BatchNorm1d/2d, BatchRenorm, GhostBatchNorm, FrozenBatchNorm2d). Folding, recalibration and ONNX export ask a layer
 * this one question instead of testing its class.
 */
public interface RunningStatsNorm {
    /**
     * The statistics and affine this layer's evaluation uses (live tensors), or null when it keeps no running
     * statistics ({@code track_running_stats=false}: it normalizes with batch statistics even in eval mode).
     */
    RunningAffine runningAffine();

    /**
     * What {@link #runningAffine()} answers: γ and β (null when the layer has none: 1 and 0), the running statistics,
     * ε, the layout of the channels, and whether the statistics are estimates that recalibration may replace (false for
     * FrozenBatchNorm2d, whose statistics are fixed by definition).
     */
    record RunningAffine(Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, double eps, Layout layout,
                         boolean estimated) {
        /** Number of channels. */
        public int channels() {
            return runningMean.numel();
        }

        /** {k, s} per channel, in double: k = γ/√(rv + ε), s = β − rm·k (γ = 1 and β = 0 when absent). */
        public double[][] scaleShift() {
            int c = channels();
            double[] k = new double[c], s = new double[c];
            for (int ch = 0; ch < c; ch++) {
                double g = gamma != null ? gamma.data[ch] : 1.0, b = beta != null ? beta.data[ch] : 0.0;
                k[ch] = g / Math.sqrt(runningVar.data[ch] + eps);
                s[ch] = b - runningMean.data[ch] * k[ch];
            }
            return new double[][] {k, s};
        }
    }
}
