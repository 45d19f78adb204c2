package normlab.norm;

import java.util.List;
import java.util.Map;
import normlab.kernels.Kernels;
import normlab.nn.Layout;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * Batch Normalization (Ioffe &amp; Szegedy 2015, Algorithms 1 and 2) with PyTorch's conventions. All of BatchNorm's
 * math is in this file; {@link BatchNorm1d} and {@link BatchNorm2d} only check input ranks.
 *
 * <p>Input is viewed as (N, C, S): N samples, C channels, S spatial positions (1 for (N, C), L for (N, C, L), H·W for
 * (N, C, H, W)). Every statistic is per channel over the m = N·S values of that channel.
 *
 * <pre>
 * Training (Algorithm 1), per channel:
 *   μ_B  = (1/m) Σ xᵢ                          mini-batch mean
 *   σ²_B = (1/m) Σ (xᵢ − μ_B)²                 mini-batch variance (biased)
 *   x̂ᵢ   = (xᵢ − μ_B) / √(σ²_B + ε)            normalize
 *   yᵢ   = γ·x̂ᵢ + β                            scale and shift
 *   running_mean ← (1−f)·running_mean + f·μ_B
 *   running_var  ← (1−f)·running_var  + f·σ²_B·m/(m−1)     (unbiased, as Algorithm 2 step 10)
 *   f = momentum, or 1/num_batches_tracked when momentum is null (cumulative average)
 * Evaluation (Algorithm 2): the fixed affine y = γ/√(rv+ε)·x + (β − γ·rm/√(rv+ε)).
 * </pre>
 *
 * <p>Options as PyTorch: {@code eps} 1e-5, {@code momentum} 0.1 or null, {@code affine} (γ, β present and learnable),
 * {@code trackRunningStats} (false: batch statistics in both modes, no buffers). {@code layout} NHWC takes
 * channels-last input (N, H, W, C) in place: it is the kernels' S = 1 path with N·H·W rows of C contiguous channels.
 *
 * <p>Small batches: batch statistics need m = N·S ≥ 2, so training (and evaluation without running statistics) throws
 * otherwise (one value per channel has no variance, as PyTorch).
 * At N = 2 with S = 1 each x̂ is ±1 (or 0), so the layer erases all but the sign of the difference; it still trains.
 * In evaluation with running statistics any N ≥ 1 works.
 *
 * <p>Numerics: the statistics accumulate in double around a shift (the channel's first value), so a channel with mean
 * 1e4 and std 1e-2 still normalizes to unit variance (the textbook E[x²]−E[x]² would lose every digit). The mean is
 * kept as a float pair (hi + lo) and subtracted before scaling, y = ((x − μ_hi) − μ_lo)·k + β with k = γ/√(σ²+ε),
 * so large offsets cancel exactly instead of through a rounded α·x + b.
 */
public class BatchNorm extends Module {
    public final int numFeatures;
    public final double eps;
    /** Null means cumulative moving average (PyTorch's momentum=None). */
    public final Double momentum;
    public final boolean affine;
    public final boolean trackRunningStats;
    /** NCHW (channels at dim 1) or NHWC (channels last, read as (N·H·W, C, 1)). */
    public final Layout layout;

    public final Parameter weight; // γ, null unless affine
    public final Parameter bias;   // β, null unless affine
    public final Tensor runningMean; // null unless trackRunningStats
    public final Tensor runningVar;
    public final Tensor numBatchesTracked; // 0-d
    private final RunningStats running; // owns the three buffers above

    // Saved by forward for backward.
    private Tensor x;
    private final double[] mean;  // μ used by the last forward (batch or running)
    private final double[] rstd;  // 1/√(σ²+ε) used by the last forward
    private boolean usedBatchStats;

    /** BatchNorm with PyTorch's defaults: eps 1e-5, momentum 0.1, affine, tracking running statistics. */
    public BatchNorm(int numFeatures) {
        this(numFeatures, 1e-5, 0.1, true, true);
    }

    public BatchNorm(int numFeatures, double eps, Double momentum, boolean affine, boolean trackRunningStats) {
        this(numFeatures, eps, momentum, affine, trackRunningStats, Layout.NCHW);
    }

    public BatchNorm(int numFeatures, double eps, Double momentum, boolean affine, boolean trackRunningStats, Layout layout) {
        RunningStats.checkOptions(getClass().getSimpleName(), numFeatures, eps, momentum, true);
        this.numFeatures = numFeatures;
        this.eps = eps;
        this.momentum = momentum;
        this.affine = affine;
        this.trackRunningStats = trackRunningStats;
        this.layout = layout;
        this.weight = affine ? RunningStats.gamma(numFeatures) : null;
        this.bias = affine ? RunningStats.beta(numFeatures) : null;
        this.running = trackRunningStats ? new RunningStats(numFeatures) : null;
        this.runningMean = trackRunningStats ? running.mean : null;
        this.runningVar = trackRunningStats ? running.var : null;
        this.numBatchesTracked = trackRunningStats ? running.count : null;
        this.mean = new double[numFeatures];
        this.rstd = new double[numFeatures];
    }

    @Override
    protected List<Parameter> ownParameters() {
        return affine ? List.of(weight, bias) : List.of();
    }

    @Override
    protected Map<String, Tensor> ownBuffers() {
        return trackRunningStats ? running.buffers() : Map.of();
    }

    /** Checks the input's rank; subclasses narrow it. */
    protected void checkInput(Tensor x) {
        requireRank(x, 2, 3, 4);
    }

    /** Whether this forward normalizes with batch statistics (training, or no running statistics). */
    public boolean usesBatchStats() {
        return isTraining() || !trackRunningStats;
    }

    @Override
    public Tensor forward(Tensor x) {
        checkInput(x);
        requireDim(x, layout.channelDim(x.rank()), numFeatures, "channels");
        int c = numFeatures, n = rows(x), s = x.numel() / Math.max(1, n * c);
        if (x.dim(0) == 0) throw new ShapeException(label() + ": empty batch, input shape " + x.shapeString());
        long m = (long) n * s;
        usedBatchStats = usesBatchStats();
        if (usedBatchStats) {
            if (m < 2) {
                throw new ShapeException(label() + ": expected more than 1 value per channel when "
                        + (isTraining() ? "training" : "using batch statistics (trackRunningStats=false)") + ", got input shape "
                        + x.shapeString() + " (N·spatial = " + m + ")");
            }
            // Algorithm 1, lines 1-2: per-channel mean and biased variance.
            double[] var = new double[c];
            Kernels.channel().channelStats(mean, var, x.data, n, c, s);
            for (int ch = 0; ch < c; ch++) rstd[ch] = 1.0 / Math.sqrt(var[ch] + eps);
            if (isTraining() && trackRunningStats) updateRunning(var, m);
        } else {
            // Algorithm 2: inference uses the population estimates.
            for (int ch = 0; ch < c; ch++) {
                mean[ch] = runningMean.data[ch];
                rstd[ch] = 1.0 / Math.sqrt(runningVar.data[ch] + eps);
            }
        }
        // Algorithm 1, lines 3-4, folded per channel: y = (x − μ)·k + β with k = γ·rstd.
        Tensor y = outputTensor(0, x.shape()); // every element written below
        float[] muHi = new float[c], muLo = new float[c], k = new float[c], b = new float[c];
        for (int ch = 0; ch < c; ch++) {
            muHi[ch] = (float) mean[ch];
            muLo[ch] = (float) (mean[ch] - muHi[ch]);
            double g = affine ? weight.value.data[ch] : 1.0;
            k[ch] = (float) (g * rstd[ch]);
            b[ch] = affine ? bias.value.data[ch] : 0f;
        }
        Kernels.channel().normalize(y.data, x.data, muHi, muLo, k, b, n, c, s);
        this.x = x;
        return y;
    }

    /** The kernels' N: the batch size for NCHW, N·H·W rows (with S = 1) for NHWC. */
    private int rows(Tensor x) {
        return layout == Layout.NHWC ? x.numel() / numFeatures : x.dim(0);
    }

    /** running ← (1−f)·running + f·batch, with the unbiased variance; counts the batch. */
    private void updateRunning(double[] var, long m) {
        running.blend(running.countBatch(momentum), mean, var, (double) m / (m - 1));
    }

    /**
     * Backward. With batch statistics (x̂ depends on μ_B and σ_B):
     * <pre>
     *   dβ = Σ dy,   dγ = Σ dy·x̂,
     *   dx = γ·rstd · (dy − (1/m)Σdy − x̂·(1/m)Σ dy·x̂)
     * </pre>
     * With running statistics (a fixed affine): dx = γ·rstd·dy. One pass computes Σdy and Σdy·(x−μ); a second writes dx.
     */
    @Override
    public Tensor backward(Tensor dy) {
        requireForward(x, this);
        Tensor.requireShape(label() + " backward", dy, x.shape());
        int c = numFeatures, n = rows(x), s = x.numel() / (n * c);
        double invM = 1.0 / ((double) n * s);
        double[] sumDy = new double[c], sumDyXmu = new double[c];
        float[] muHi = new float[c], muLo = new float[c];
        for (int ch = 0; ch < c; ch++) {
            muHi[ch] = (float) mean[ch];
            muLo[ch] = (float) (mean[ch] - muHi[ch]);
        }
        Kernels.channel().backwardSums(sumDy, sumDyXmu, dy.data, x.data, muHi, muLo, n, c, s);
        // dx = a·dy − q·(x − μ) − p per channel.
        float[] a = new float[c], q = new float[c], p = new float[c];
        for (int ch = 0; ch < c; ch++) {
            double g = affine ? weight.value.data[ch] : 1.0;
            double kk = g * rstd[ch];
            a[ch] = (float) kk;
            if (usedBatchStats) {
                q[ch] = (float) (kk * rstd[ch] * rstd[ch] * sumDyXmu[ch] * invM);
                p[ch] = (float) (kk * sumDy[ch] * invM);
            }
            if (affine) {
                weight.grad.data[ch] += (float) (sumDyXmu[ch] * rstd[ch]);
                bias.grad.data[ch] += (float) sumDy[ch];
            }
        }
        // every element written below; with reused buffers into the output's buffer (this backward reads x, not y, and a
        // returned tensor is valid only until the module's next call): one activation less in cache during a step
        Tensor dx = outputTensor(reusesOutputs() ? 0 : 1, x.shape());
        Kernels.channel().backwardDx(dx.data, dy.data, x.data, muHi, muLo, a, q, p, n, c, s);
        return dx;
    }

    /** Mean used by the last forward, per channel. */
    public double[] lastMean() {
        return mean.clone();
    }

    /** 1/√(σ²+ε) used by the last forward, per channel. */
    public double[] lastRstd() {
        return rstd.clone();
    }
}
