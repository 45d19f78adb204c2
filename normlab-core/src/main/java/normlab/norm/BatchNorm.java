package normlab.norm;

import normlab.kernels.ChannelKernels;
import normlab.nn.Layout;
import normlab.tensor.Tensor;

/**
 * Batch Normalization (Ioffe &amp; Szegedy 2015, Algorithms 1 and 2) with PyTorch's conventions. This file states
 * BatchNorm's algorithm; the options, buffers, folded affine and backward coefficients it shares with its descendants
 * are in {@link BatchStatsNorm}, the loops in {@link ChannelKernels}. {@link BatchNorm1d} and {@link BatchNorm2d} only
 * check input ranks.
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
public class BatchNorm extends BatchStatsNorm implements RunningStatsNorm {
    /** NCHW (channels at dim 1) or NHWC (channels last, read as (N·H·W, C, 1)). */
    public final Layout layout;

    private final double[] mean;  // μ used by the last forward (batch or running)
    private final double[] rstd;  // 1/√(σ²+ε) used by the last forward

    /** BatchNorm with PyTorch's defaults: eps 1e-5, momentum 0.1, affine, tracking running statistics. */
    public BatchNorm(int numFeatures) {
        this(numFeatures, 1e-5, 0.1, true, true);
    }

    /** PyTorch's defaults with the given layout. */
    public BatchNorm(int numFeatures, Layout layout) {
        this(numFeatures, 1e-5, 0.1, true, true, layout);
    }

    public BatchNorm(int numFeatures, double eps, Double momentum, boolean affine, boolean trackRunningStats) {
        this(numFeatures, eps, momentum, affine, trackRunningStats, Layout.NCHW);
    }

    public BatchNorm(int numFeatures, double eps, Double momentum, boolean affine, boolean trackRunningStats, Layout layout) {
        super(numFeatures, eps, momentum, true, affine, trackRunningStats);
        this.layout = layout;
        this.mean = new double[numFeatures];
        this.rstd = new double[numFeatures];
    }

    @Override
    public RunningAffine runningAffine() {
        return estimatedAffine(layout);
    }

    /**
     * Training (or no running statistics): Algorithm 1, lines 1-2, the per-channel mean and biased variance, and the
     * running update; evaluation: Algorithm 2, the population estimates. Then lines 3-4 folded per channel,
     * y = (x − μ)·k + β with k = γ·rstd.
     */
    @Override
    public Tensor forward(Tensor x) {
        checkInput(x);
        checkBatch(x, layout.channelDim(x.rank()));
        return forwardWholeBatch(x, rows(x), mean, rstd);
    }

    /** The kernels' N: the batch size for NCHW, N·H·W rows (with S = 1) for NHWC. */
    private int rows(Tensor x) {
        return layout == Layout.NHWC ? x.numel() / numFeatures : x.dim(0);
    }

    /** BatchNorm scales its sums by 1/m (its descendants divide by m, which rounds differently): kept bit for bit. */
    @Override
    protected double perValue(double sum, double m) {
        return sum * (1.0 / m);
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
        // with reused buffers dx goes into the output's buffer (this backward reads x, not y, and a returned tensor is
        // valid only until the module's next call): one activation less in cache during a step
        return backwardWholeBatch(dy, mean, rstd, reusesOutputs() ? 0 : 1);
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
