package normlab.norm;

import java.util.LinkedHashMap;
import java.util.Map;
import normlab.nn.Layout;
import normlab.tensor.Tensor;

/**
 * BatchNorm with everything frozen, as torchvision's {@code FrozenBatchNorm2d}: four buffers (weight, bias,
 * running_mean, running_var; no parameters, no num_batches_tracked) define a fixed per-channel affine, the same in
 * training and evaluation — the usual way to fine-tune a pretrained network with tiny per-device batches.
 * <pre>
 *   scale = weight / √(running_var + ε),   shift = bias − running_mean·scale,   y = x·scale + shift
 *   dx = dy·scale   (nothing is learned)
 * </pre>
 * Defaults as torchvision: ε 1e-5, weight 1, bias 0, running_mean 0, running_var 1. Input (N, C, H, W).
 *
 * <p>Small batches: nothing depends on the batch, so batch size 1 and 2 (and one value per channel) work in both modes.
 *
 * <p>As a {@link RunningStatsNorm} its statistics are not estimates ({@code estimated} false): recalibration leaves
 * them alone.
 */
public final class FrozenBatchNorm2d extends Normalization implements RunningStatsNorm {
    public final int numFeatures;
    public final double eps;
    public final Tensor weight, bias, runningMean, runningVar;
    private float[] scale;
    private int[] inShape;

    public FrozenBatchNorm2d(int numFeatures) {
        this(numFeatures, 1e-5);
    }

    public FrozenBatchNorm2d(int numFeatures, double eps) {
        BatchStatsNorm.requirePositiveFeatures("FrozenBatchNorm2d", numFeatures);
        if (!(eps >= 0)) throw new IllegalArgumentException("FrozenBatchNorm2d: eps must be >= 0, got " + eps);
        this.numFeatures = numFeatures;
        this.eps = eps;
        this.weight = Tensor.full(1f, numFeatures);
        this.bias = Tensor.zeros(numFeatures);
        this.runningMean = Tensor.zeros(numFeatures);
        this.runningVar = Tensor.full(1f, numFeatures);
    }

    @Override
    public RunningAffine runningAffine() {
        return new RunningAffine(weight, bias, runningMean, runningVar, eps, Layout.NCHW, false);
    }

    @Override
    protected Map<String, Tensor> ownBuffers() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("weight", weight);
        m.put("bias", bias);
        m.put("running_mean", runningMean);
        m.put("running_var", runningVar);
        return m;
    }

    /** Copies the affine of a trained BatchNorm (its γ, β and running statistics) into this layer. */
    public static FrozenBatchNorm2d from(BatchNorm bn) {
        if (!bn.trackRunningStats) throw new IllegalArgumentException(bn.label() + ": cannot freeze a BatchNorm without running statistics");
        FrozenBatchNorm2d f = new FrozenBatchNorm2d(bn.numFeatures, bn.eps);
        if (bn.affine) {
            f.weight.copyFrom(bn.weight.value);
            f.bias.copyFrom(bn.bias.value);
        }
        f.runningMean.copyFrom(bn.runningMean);
        f.runningVar.copyFrom(bn.runningVar);
        return f;
    }

    @Override
    public Tensor forward(Tensor x) {
        requireRank(x, 4);
        requireDim(x, 1, numFeatures, "channels");
        int n = x.dim(0), c = numFeatures, s = x.dim(2) * x.dim(3);
        float[] scale = new float[c];
        float[] shift = new float[c];
        for (int ch = 0; ch < c; ch++) {
            // scale = w/√(rv+ε), shift = b − rm·scale (torchvision's order of operations, in float)
            scale[ch] = (float) (weight.data[ch] / Math.sqrt(runningVar.data[ch] + eps));
            shift[ch] = bias.data[ch] - runningMean.data[ch] * scale[ch];
        }
        Tensor y = outputTensor(0, x.shape()); // every element written below
        for (int i = 0; i < n; i++) {
            for (int ch = 0; ch < c; ch++) {
                int o = (i * c + ch) * s;
                float a = scale[ch], b = shift[ch];
                for (int j = 0; j < s; j++) y.data[o + j] = x.data[o + j] * a + b;
            }
        }
        // Saved for backward only after y is computed from locals: concurrent eval forwards share no scratch.
        this.scale = scale;
        inShape = x.shape();
        return y;
    }

    @Override
    public Tensor backward(Tensor dy) {
        requireForward(inShape, this);
        Tensor.requireShape(label() + " backward", dy, inShape);
        int n = inShape[0], c = numFeatures, s = inShape[2] * inShape[3];
        Tensor dx = outputTensor(1, inShape); // every element written below
        for (int i = 0; i < n; i++) {
            for (int ch = 0; ch < c; ch++) {
                int o = (i * c + ch) * s;
                for (int j = 0; j < s; j++) dx.data[o + j] = dy.data[o + j] * scale[ch];
            }
        }
        return dx;
    }
}
