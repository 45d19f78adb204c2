package normlab.norm;

import normlab.dist.Collective;
import normlab.kernels.Kernels;
import normlab.nn.Layout;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * BatchNorm whose training statistics span every replica of a data-parallel group, as PyTorch's
 * {@code nn.SyncBatchNorm}: K replicas, each with its own slice of the global batch, normalize with the statistics of
 * the whole global batch, so K replicas × B/K samples compute what one process computes with B samples.
 *
 * <pre>
 * Forward (training), per channel, through the replica group's {@link Collective}:
 *   each replica r: n_r = N_r·S values, mean μ_r and biased variance σ²_r of its slice (BatchNorm's statistics kernel)
 *   all-gather (n_r, μ_r, σ²_r) and merge in rank order by Chan's parallel update, M2 = σ²·n:
 *     δ = μ_b − μ_a,  n = n_a + n_b,  μ = μ_a + δ·n_b/n,  M2 = M2_a + M2_b + δ²·n_a·n_b/n
 *   (never from raw Σx and Σx², whose difference cancels catastrophically);  σ² = M2/n
 *   y = (x − μ)·γ/√(σ² + ε) + β                       as {@link BatchNorm}
 *   running_mean ← (1−f)·running_mean + f·μ,  running_var ← (1−f)·running_var + f·σ²·n/(n−1)   (global, unbiased)
 * Backward, per channel: this slice's Σdy and Σdy·(x − μ) are all-reduced (summed in rank order) and
 *   dx = γ·rstd·(dy − Σdy/n − (x − μ)·rstd²·Σdy(x − μ)/n)      with the global sums and n
 *   dγ = rstd·Σdy(x − μ), dβ = Σdy over this slice only: the trainer all-reduces parameter gradients itself.
 * </pre>
 *
 * <p>Uneven slices are weighted by their counts; a replica with an empty slice (N_r = 0) contributes n_r = 0 and still
 * takes part in both collectives. Training needs n ≥ 2 values per channel over all replicas together (one replica may
 * have a single sample). Evaluation with running statistics is plain BatchNorm (no collective); without running
 * statistics, evaluation uses this replica's own batch statistics, as PyTorch (which synchronizes only in training).
 *
 * <p>With no collective set ({@link Collective#SINGLE}) the layer is BatchNorm. The collective is not state: a model
 * file stores this layer's options and PyTorch's BatchNorm state names ({@code weight}, {@code bias},
 * {@code running_mean}, {@code running_var}, {@code num_batches_tracked}), so a loaded layer starts as a group of one.
 * Input (N, C), (N, C, L) or (N, C, H, W), channels at dim 1. Every rank must call forward and backward of its
 * SyncBatchNorm layers in the same order; mismatched channel counts across replicas throw on every rank.
 */
public class SyncBatchNorm extends BatchStatsNorm implements RunningStatsNorm {
    private Collective collective = Collective.SINGLE;
    private final double[] mean;
    private final double[] rstd;
    private Tensor lastInput;
    private boolean lastBatchStats;
    private Collective lastGroup;
    private double lastCount;

    /** PyTorch's defaults: eps 1e-5, momentum 0.1, affine, tracking running statistics. */
    public SyncBatchNorm(int numFeatures) {
        this(numFeatures, 1e-5, 0.1, true, true);
    }

    public SyncBatchNorm(int numFeatures, double eps, Double momentum, boolean affine, boolean trackRunningStats) {
        super(numFeatures, eps, momentum, true, affine, trackRunningStats);
        this.mean = new double[numFeatures];
        this.rstd = new double[numFeatures];
    }

    /** Sets the replica group this layer synchronizes over (this replica's handle); returns this. */
    public SyncBatchNorm setCollective(Collective c) {
        if (c == null) throw new IllegalArgumentException(label() + ": collective must not be null");
        this.collective = c;
        return this;
    }

    /** The replica group this layer synchronizes over ({@link Collective#SINGLE} unless set). */
    public Collective collective() {
        return collective;
    }

    @Override
    public RunningAffine runningAffine() {
        return estimatedAffine(Layout.NCHW);
    }

    @Override
    public Tensor forward(Tensor x) {
        checkInput(x);
        requireDim(x, 1, numFeatures, "channels");
        int n = x.dim(0), c = numFeatures;
        int s = 1;
        for (int d = 2; d < x.rank(); d++) s *= x.dim(d);
        lastBatchStats = usesBatchStats();
        if (lastBatchStats) {
            Collective group = isTraining() ? collective : Collective.SINGLE;
            long m = (long) n * s;
            double[] var = new double[c];
            if (m > 0) Kernels.channel().channelStats(mean, var, x.data, n, c, s);
            double[] local = new double[1 + 2 * c];
            local[0] = m;
            System.arraycopy(mean, 0, local, 1, c);
            System.arraycopy(var, 0, local, 1 + c, c);
            double count = merge(group.allGather(local), group, mean, var);
            if (count < 2) {
                throw new ShapeException(label() + ": expected more than 1 value per channel when "
                        + (isTraining() ? "training" : "using batch statistics (trackRunningStats=false)") + ", got "
                        + (long) count + " over " + group.size() + " replica(s) (this replica's input shape " + x.shapeString() + ")");
            }
            for (int ch = 0; ch < c; ch++) rstd[ch] = 1.0 / Math.sqrt(var[ch] + eps);
            if (isTraining() && trackRunningStats) updateRunning(mean, var, count / (count - 1));
            lastGroup = group;
            lastCount = count;
        } else {
            runningStatistics(mean, rstd);
            lastGroup = null;
        }
        Tensor y = outputTensor(0, x.shape()); // every element written below
        if (n > 0) normalizeChannels(y.data, x.data, mean, rstd, n, s);
        lastInput = x;
        return y;
    }

    /**
     * Merges the gathered (n_r, μ_r, σ²_r) in rank order into {@code mean} and {@code var} (biased); returns n. A single
     * non-empty replica's statistics are taken as they are (so a group of one is BatchNorm bit for bit).
     */
    private double merge(double[][] all, Collective group, double[] mean, double[] var) {
        int c = numFeatures;
        for (int r = 0; r < all.length; r++) {
            if (all[r].length != 1 + 2 * c) {
                throw new ShapeException(label() + ": replica " + r + " has " + (all[r].length - 1) / 2 + " channels, replica "
                        + group.rank() + " has " + c + " (every replica's layer must have the same numFeatures)");
            }
        }
        double n = 0;
        double[] m2 = new double[c];
        for (double[] st : all) {
            double nb = st[0];
            if (nb == 0) continue;
            if (n == 0) {
                for (int ch = 0; ch < c; ch++) {
                    mean[ch] = st[1 + ch];
                    var[ch] = st[1 + c + ch];
                    m2[ch] = var[ch] * nb;
                }
                n = nb;
                continue;
            }
            double na = n;
            n = na + nb;
            for (int ch = 0; ch < c; ch++) {
                // Chan et al.: δ = μ_b − μ_a, μ = μ_a + δ·n_b/n, M2 = M2_a + M2_b + δ²·n_a·n_b/n
                double delta = st[1 + ch] - mean[ch];
                mean[ch] += delta * nb / n;
                m2[ch] += st[1 + c + ch] * nb + delta * delta * na * nb / n;
                var[ch] = m2[ch] / n;
            }
        }
        return n;
    }

    /** Scales sums by 1/m as {@link BatchNorm} does, so a group of one is BatchNorm bit for bit. */
    @Override
    protected double perValue(double sum, double m) {
        return sum * (1.0 / m);
    }

    /** All-reduces Σdy and Σdy·(x − μ) over the group of the last training forward; returns the global count. */
    @Override
    protected double reduceBackwardSums(double[] sumDy, double[] sumDyXmu, double m) {
        if (lastGroup == null || lastGroup.size() == 1) return m;
        int c = numFeatures;
        double[] buf = new double[2 * c];
        System.arraycopy(sumDy, 0, buf, 0, c);
        System.arraycopy(sumDyXmu, 0, buf, c, c);
        lastGroup.allReduceSum(buf);
        System.arraycopy(buf, 0, sumDy, 0, c);
        System.arraycopy(buf, c, sumDyXmu, 0, c);
        return lastCount;
    }

    @Override
    public Tensor backward(Tensor dy) {
        checkBackward(lastInput, dy);
        Tensor x = lastInput;
        int n = x.dim(0), s = n == 0 ? 1 : x.numel() / (n * numFeatures);
        ChannelGradient g = channelGradient(dy.data, x.data, mean, rstd, lastBatchStats, n, s);
        Tensor dx = outputTensor(1, x.shape()); // every element written below
        if (n > 0) g.writeDx(dx.data);
        return dx;
    }
}
