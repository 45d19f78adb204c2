package normlab.norm;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import normlab.kernels.ChannelKernels;
import normlab.kernels.Kernels;
import normlab.nn.Layout;
import normlab.nn.Parameter;
import normlab.norm.RunningStatsNorm.RunningAffine;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * The base of the batch-statistics family ({@link BatchNorm}, {@link BatchRenorm}, {@link GhostBatchNorm},
 * {@link InstanceNorm}). It owns what they share, so each layer states only what differs:
 * <ul>
 *   <li>the options ({@code numFeatures}, {@code eps}, {@code momentum}, {@code affine}, {@code trackRunningStats}) and
 *       their checks;
 *   <li>γ ({@code weight}, ones) and β ({@code bias}, zeros), learnable, per channel, when {@code affine};
 *   <li>the running estimates, PyTorch's buffers {@code running_mean} (zeros), {@code running_var} (ones) and
 *       {@code num_batches_tracked}, when {@code trackRunningStats}, and their update
 *       <pre>   r ← (1 − f)·r + f·b,   f = momentum, or 1/num_batches_tracked when momentum is null (cumulative average)</pre>
 *       where b is the batch mean, or the batch variance made unbiased by the caller's factor m/(m−1);
 *   <li>the input checks all of them make;
 *   <li>for the per-channel layers, the forward's folded affine y = ((x − μ_hi) − μ_lo)·k + b and the backward's
 *       coefficients dx = a·dy − q·(x − μ) − p with dγ and dβ, through {@link ChannelKernels}. A layer changes them
 *       only through {@link #scale}, {@link #shift}, {@link #gammaGradient} and {@link #perValue} (BatchRenorm's r and d).
 * </ul>
 */
public abstract class BatchStatsNorm extends Normalization {
    public final int numFeatures;
    public final double eps;
    /** Null means cumulative moving average (PyTorch's momentum=None), for the layers that allow it. */
    public final Double momentum;
    public final boolean affine;
    /** False: batch statistics in both modes and no running buffers. */
    public final boolean trackRunningStats;
    public final Parameter weight; // γ, null unless affine
    public final Parameter bias;   // β, null unless affine
    public final Tensor runningMean; // null unless trackRunningStats
    public final Tensor runningVar;
    public final Tensor numBatchesTracked; // 0-d

    /**
     * Checks the options ({@code momentumMayBeNull}: whether PyTorch's cumulative average, momentum null, is allowed)
     * and creates γ, β and the running buffers as the options ask.
     */
    protected BatchStatsNorm(int numFeatures, double eps, Double momentum, boolean momentumMayBeNull, boolean affine,
                             boolean trackRunningStats) {
        String layer = getClass().getSimpleName();
        requirePositiveFeatures(layer, numFeatures);
        if (!(eps > 0)) throw new IllegalArgumentException(layer + ": eps must be > 0, got " + eps);
        if (momentum == null ? !momentumMayBeNull : !(momentum >= 0 && momentum <= 1)) {
            throw new IllegalArgumentException(layer + ": momentum must be in [0, 1]" + (momentumMayBeNull ? " or null" : "")
                    + ", got " + momentum);
        }
        this.numFeatures = numFeatures;
        this.eps = eps;
        this.momentum = momentum;
        this.affine = affine;
        this.trackRunningStats = trackRunningStats;
        this.weight = affine ? new Parameter("weight", Tensor.full(1f, numFeatures), Parameter.Kind.NORM) : null;
        this.bias = affine ? new Parameter("bias", Tensor.zeros(numFeatures), Parameter.Kind.NORM) : null;
        this.runningMean = trackRunningStats ? Tensor.zeros(numFeatures) : null;
        this.runningVar = trackRunningStats ? Tensor.full(1f, numFeatures) : null;
        this.numBatchesTracked = trackRunningStats ? Tensor.scalar(0f) : null;
    }

    static void requirePositiveFeatures(String layer, int numFeatures) {
        if (numFeatures <= 0) throw new IllegalArgumentException(layer + ": numFeatures must be positive, got " + numFeatures);
    }

    @Override
    protected final List<Parameter> ownParameters() {
        return affine ? List.of(weight, bias) : List.of();
    }

    /** The running buffers under PyTorch's names, in its order (live tensors); none without running statistics. */
    @Override
    protected final Map<String, Tensor> ownBuffers() {
        if (!trackRunningStats) return Map.of();
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("running_mean", runningMean);
        m.put("running_var", runningVar);
        m.put("num_batches_tracked", numBatchesTracked);
        return m;
    }

    /** Checks the input's rank; subclasses narrow it. */
    protected void checkInput(Tensor x) {
        requireRank(x, 2, 3, 4);
    }

    /** Throws unless {@code x} has {@code numFeatures} channels at {@code channelDim} and at least one sample. */
    protected final void checkBatch(Tensor x, int channelDim) {
        requireDim(x, channelDim, numFeatures, "channels");
        if (x.dim(0) == 0) throw new ShapeException(label() + ": empty batch, input shape " + x.shapeString());
    }

    /** Throws unless the batch has m ≥ 2 values per channel (one value has no variance, as PyTorch). */
    protected final void requireValuesPerChannel(Tensor x, long m) {
        if (m < 2) {
            throw new ShapeException(label() + ": expected more than 1 value per channel when "
                    + (isTraining() ? "training" : "using batch statistics (trackRunningStats=false)") + ", got input shape "
                    + x.shapeString() + " (N·spatial = " + m + ")");
        }
    }

    /** Whether this forward normalizes with batch statistics (training, or no running statistics). */
    public boolean usesBatchStats() {
        return isTraining() || !trackRunningStats;
    }

    /** The answer of {@link RunningStatsNorm#runningAffine()} for a layer of this family: null without running statistics. */
    protected final RunningAffine estimatedAffine(Layout layout) {
        if (!trackRunningStats) return null;
        return new RunningAffine(affine ? weight.value : null, affine ? bias.value : null, runningMean, runningVar, eps,
                layout, true);
    }

    // --- Running statistics -------------------------------------------------------------------------------------

    /** Counts one training batch and updates the running statistics with f from momentum (null: 1/count). */
    protected final void updateRunning(double[] batchMean, double[] batchVar, double varScale) {
        numBatchesTracked.data[0] += 1f;
        blendRunning(momentum != null ? momentum : 1.0 / numBatchesTracked.data[0], batchMean, batchVar, varScale);
    }

    /** r ← (1 − f)·r + f·b for the mean and for the variance times {@code varScale} (the unbiasing factor). */
    protected final void blendRunning(double f, double[] batchMean, double[] batchVar, double varScale) {
        for (int ch = 0; ch < numFeatures; ch++) {
            runningMean.data[ch] = (float) ((1 - f) * runningMean.data[ch] + f * batchMean[ch]);
            runningVar.data[ch] = (float) ((1 - f) * runningVar.data[ch] + f * batchVar[ch] * varScale);
        }
    }

    /** Evaluation with running statistics, per channel: μ = running_mean, rstd = 1/√(running_var + ε). */
    protected final void runningStatistics(double[] mean, double[] rstd) {
        for (int ch = 0; ch < numFeatures; ch++) {
            mean[ch] = runningMean.data[ch];
            rstd[ch] = 1.0 / Math.sqrt(runningVar.data[ch] + eps);
        }
    }

    // --- Per-channel statistics over (N, C, S) -------------------------------------------------------------------

    /** Per-channel mean and biased variance of (n, C, s) {@code x}, and rstd = 1/√(σ² + ε); returns σ². */
    protected final double[] batchStatistics(double[] mean, double[] rstd, float[] x, int n, int s) {
        double[] var = new double[numFeatures];
        Kernels.channel().channelStats(mean, var, x, n, numFeatures, s);
        for (int ch = 0; ch < numFeatures; ch++) rstd[ch] = 1.0 / Math.sqrt(var[ch] + eps);
        return var;
    }

    /** γ of a channel (1 without affine). */
    protected final double gamma(int ch) {
        return affine ? weight.value.data[ch] : 1.0;
    }

    /** The forward's scale k (and the backward's a) of a channel: γ·rstd. */
    protected double scale(int ch, double gamma, double rstd) {
        return gamma * rstd;
    }

    /** The forward's shift b of a channel: β (0 without affine). */
    protected float shift(int ch, double gamma) {
        return affine ? bias.value.data[ch] : 0f;
    }

    /** dγ of a channel from Σdy and Σdy·(x − μ): Σ dy·x̂ = rstd·Σdy(x − μ). */
    protected double gammaGradient(int ch, double rstd, double sumDy, double sumDyXmu) {
        return sumDyXmu * rstd;
    }

    /** A sum over the m values of a channel made a mean: sum/m. */
    protected double perValue(double sum, double m) {
        return sum / m;
    }

    /** μ as a float pair, μ_hi = (float) μ and μ_lo = (float) (μ − μ_hi): the kernels subtract both before scaling. */
    private static void splitMean(float[] muHi, float[] muLo, double[] mean) {
        for (int ch = 0; ch < muHi.length; ch++) {
            muHi[ch] = (float) mean[ch];
            muLo[ch] = (float) (mean[ch] - muHi[ch]);
        }
    }

    /** y = ((x − μ_hi) − μ_lo)·k + b per channel of (n, C, s) arrays, k = {@link #scale}, b = {@link #shift}. */
    protected final void normalizeChannels(float[] y, float[] x, double[] mean, double[] rstd, int n, int s) {
        int c = numFeatures;
        float[] muHi = new float[c], muLo = new float[c], k = new float[c], b = new float[c];
        splitMean(muHi, muLo, mean);
        for (int ch = 0; ch < c; ch++) {
            double g = gamma(ch);
            k[ch] = (float) scale(ch, g, rstd[ch]);
            b[ch] = shift(ch, g);
        }
        Kernels.channel().normalize(y, x, muHi, muLo, k, b, n, c, s);
    }

    /**
     * The backward of {@link #normalizeChannels} on (n, C, s) arrays, up to dx: one pass for Σdy and Σdy·(x − μ) per
     * channel, then per channel dx = a·dy − q·(x − μ) − p with
     * <pre>
     *   a = k,   q = k·rstd²·Σdy(x−μ)/m,   p = k·Σdy/m     (q = p = 0 with fixed statistics)
     *   dγ += {@link #gammaGradient},   dβ += Σdy
     * </pre>
     * dγ and dβ are added here; {@link ChannelGradient#writeDx} then writes dx (the caller picks dx's buffer after).
     */
    protected final ChannelGradient channelGradient(float[] dy, float[] x, double[] mean, double[] rstd,
                                                    boolean batchStats, int n, int s) {
        int c = numFeatures;
        double m = (double) n * s;
        double[] sumDy = new double[c], sumDyXmu = new double[c];
        float[] muHi = new float[c], muLo = new float[c];
        splitMean(muHi, muLo, mean);
        if (n > 0) Kernels.channel().backwardSums(sumDy, sumDyXmu, dy, x, muHi, muLo, n, c, s);
        for (int ch = 0; ch < c; ch++) addParameterGradients(ch, rstd[ch], sumDy[ch], sumDyXmu[ch]);
        if (batchStats) m = reduceBackwardSums(sumDy, sumDyXmu, m);
        float[] a = new float[c], q = new float[c], p = new float[c];
        for (int ch = 0; ch < c; ch++) coefficients(ch, rstd[ch], sumDy[ch], sumDyXmu[ch], batchStats, m, a, q, p);
        return new ChannelGradient(dy, x, muHi, muLo, a, q, p, n, s);
    }

    /** dγ += {@link #gammaGradient}, dβ += Σdy of one channel (with affine). */
    private void addParameterGradients(int ch, double rstd, double sumDy, double sumDyXmu) {
        if (!affine) return;
        weight.grad.data[ch] += (float) gammaGradient(ch, rstd, sumDy, sumDyXmu);
        bias.grad.data[ch] += (float) sumDy;
    }

    /** One channel's a = k, q = k·rstd²·Σdy(x−μ)/m, p = k·Σdy/m (q = p = 0 with fixed statistics). */
    private void coefficients(int ch, double rs, double sumDy, double sumDyXmu, boolean batchStats, double m, float[] a,
                              float[] q, float[] p) {
        double kk = scale(ch, gamma(ch), rs);
        a[ch] = (float) kk;
        if (batchStats) {
            q[ch] = (float) perValue(kk * rs * rs * sumDyXmu, m);
            p[ch] = (float) perValue(kk * sumDy, m);
        }
    }

    /**
     * The backward's hook between this batch's sums and the coefficients q and p, with batch statistics: a layer whose
     * statistics span more than this batch ({@code SyncBatchNorm}) replaces Σdy and Σdy·(x − μ) by their sums over
     * every replica and returns the number of values per channel they cover. dγ and dβ were already taken from this
     * batch's sums (a data-parallel trainer adds the replicas' parameter gradients itself). Default: this batch, m.
     */
    protected double reduceBackwardSums(double[] sumDy, double[] sumDyXmu, double m) {
        return m;
    }

    // --- The whole batch per channel (BatchNorm, BatchRenorm) ----------------------------------------------------

    /** Input, the kernels' N and the statistics mode of the last {@link #forwardWholeBatch}. */
    private Tensor lastInput;
    private int lastRows;
    private boolean lastBatchStats;

    /**
     * The forward of a layer that normalizes its whole batch per channel, (n, C, s) with n the kernels' N: this
     * batch's statistics into {@code mean} and {@code rstd} when {@link #usesBatchStats()} (then
     * {@link #batchStatisticsUsed}), else the running ones (then {@link #runningStatisticsUsed}); then
     * y = ((x − μ_hi) − μ_lo)·k + b.
     */
    protected final Tensor forwardWholeBatch(Tensor x, int n, double[] mean, double[] rstd) {
        int s = x.numel() / Math.max(1, n * numFeatures);
        long m = (long) n * s;
        lastBatchStats = usesBatchStats();
        if (lastBatchStats && affineFromStatisticsAlone()) {
            // statistics, k and b, and y in one kernel call (channel by channel where it can), then the running update
            requireValuesPerChannel(x, m);
            int c = numFeatures;
            double[] var = new double[c];
            float[] muHi = new float[c], muLo = new float[c], k = new float[c], b = new float[c];
            Tensor y = outputTensor(0, x.shape()); // every element written below
            Kernels.channel().statsNormalize(y.data, mean, var, x.data, (ch, mu, v) -> {
                rstd[ch] = 1.0 / Math.sqrt(v + eps);
                muHi[ch] = (float) mu;
                muLo[ch] = (float) (mu - muHi[ch]);
                double g = gamma(ch);
                k[ch] = (float) scale(ch, g, rstd[ch]);
                b[ch] = shift(ch, g);
            }, muHi, muLo, k, b, n, c, s);
            batchStatisticsUsed(mean, var, m);
            lastInput = x;
            lastRows = n;
            return y;
        }
        if (lastBatchStats) {
            requireValuesPerChannel(x, m);
            double[] var = batchStatistics(mean, rstd, x.data, n, s);
            batchStatisticsUsed(mean, var, m);
        } else {
            runningStatistics(mean, rstd);
            runningStatisticsUsed();
        }
        Tensor y = outputTensor(0, x.shape()); // every element written below
        normalizeChannels(y.data, x.data, mean, rstd, n, s);
        lastInput = x;
        lastRows = n;
        return y;
    }

    /**
     * Whether a channel's k and b ({@link #scale}, {@link #shift}) follow from its batch statistics and the parameters
     * alone, so the training forward may compute them channel by channel inside the kernel (before
     * {@link #batchStatisticsUsed}). BatchRenorm's depend on r and d, which batchStatisticsUsed computes: false there.
     */
    protected boolean affineFromStatisticsAlone() {
        return true;
    }

    /** After this batch's statistics (m values per channel): training updates the running statistics, unbiased. */
    protected void batchStatisticsUsed(double[] mean, double[] var, long m) {
        if (isTraining() && trackRunningStats) updateRunning(mean, var, (double) m / (m - 1));
    }

    /** After the running statistics were taken for this forward. */
    protected void runningStatisticsUsed() {}

    /**
     * The backward of the last {@link #forwardWholeBatch} (with the same {@code mean}, {@code rstd}), dx in
     * {@code dxSlot}: {@link #channelGradient}'s formulas in one kernel call ({@link ChannelKernels#backward}, which may
     * go channel by channel so that dy and x are read from memory once). For layers whose sums are this batch's alone
     * ({@link #reduceBackwardSums} is not consulted: SyncBatchNorm uses channelGradient).
     */
    protected final Tensor backwardWholeBatch(Tensor dy, double[] mean, double[] rstd, int dxSlot) {
        checkBackward(lastInput, dy);
        Tensor x = lastInput;
        int n = lastRows, c = numFeatures, s = x.numel() / (n * c);
        double m = (double) n * s;
        boolean batchStats = lastBatchStats;
        float[] muHi = new float[c], muLo = new float[c], a = new float[c], q = new float[c], p = new float[c];
        splitMean(muHi, muLo, mean);
        double[] sumDy = new double[c], sumDyXmu = new double[c];
        Tensor dx = outputTensor(dxSlot, x.shape()); // every element written below
        // dx[i] is written after dy[i] and x[i] are read, so dx may share dy's buffer
        Kernels.channel().backward(dx.data, sumDy, sumDyXmu, dy.data, x.data, muHi, muLo, (ch, sDy, sDyXmu) -> {
            addParameterGradients(ch, rstd[ch], sDy, sDyXmu);
            coefficients(ch, rstd[ch], sDy, sDyXmu, batchStats, m, a, q, p);
        }, a, q, p, n, c, s);
        return dx;
    }

    /** What {@link #channelGradient} computed for dx = a·dy − q·((x − μ_hi) − μ_lo) − p. */
    protected record ChannelGradient(float[] dy, float[] x, float[] muHi, float[] muLo, float[] a, float[] q, float[] p,
                                     int n, int s) {
        /** Writes every element of dx. */
        public void writeDx(float[] dx) {
            Kernels.channel().backwardDx(dx, dy, x, muHi, muLo, a, q, p, n, a.length, s);
        }
    }
}
