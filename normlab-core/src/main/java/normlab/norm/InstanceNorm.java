package normlab.norm;

import normlab.kernels.GroupKernels;
import normlab.kernels.GroupView;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * Instance Normalization (Ulyanov, Vedaldi &amp; Lempitsky 2016) as PyTorch's {@code nn.InstanceNorm1d/2d}: each
 * (sample, channel) plane of S values is normalized on its own — GroupNorm with G = C, through the same
 * {@link GroupKernels} with the view (A, P, G, Q) = (N, 1, C, S).
 * <pre>
 *   μ_nc = (1/S) Σ x,  σ²_nc = (1/S) Σ (x − μ_nc)²,  y = (x − μ_nc)/√(σ²_nc + ε) · γ_c + β_c
 * </pre>
 * Defaults as PyTorch: ε 1e-5, momentum 0.1, affine off, running statistics off. With {@code trackRunningStats},
 * training updates, as PyTorch does (through batch_norm on the (1, N·C, S) view), per channel
 * {@code running_mean ← (1−m)·running_mean + m·mean_n(μ_nc)} and
 * {@code running_var ← (1−m)·running_var + m·mean_n(σ²_nc·S/(S−1))}, and evaluation then normalizes with them (a
 * fixed affine). {@code num_batches_tracked} is kept for the state-dict keys and, as in PyTorch, never incremented.
 * momentum must be a number (PyTorch's None is not supported by instance_norm either). Options, γ, β and the running
 * buffers are {@link BatchStatsNorm}'s; the statistics and the normalization go through {@link Normalization}'s group
 * path. Its running statistics are not BatchNorm's population estimates, so it is no {@link RunningStatsNorm}: fold
 * and recalibration leave it alone.
 *
 * <p>Small batches: statistics are per sample, so batch size 1 and 2 work. Batch statistics need S ≥ 2: a (N, C, 1)
 * or (N, C, 1, 1) input throws, as PyTorch's "Expected more than 1 spatial element", whenever batch statistics are
 * used (training, or evaluation without running statistics).
 */
public abstract class InstanceNorm extends BatchStatsNorm {
    private final int rank;
    private boolean usedBatchStats;

    /** @param rank the input's rank: 3 for InstanceNorm1d, 4 for InstanceNorm2d */
    protected InstanceNorm(int rank, int numFeatures, double eps, Double momentum, boolean affine, boolean trackRunningStats) {
        super(numFeatures, eps, momentum, false, affine, trackRunningStats);
        this.rank = rank;
    }

    @Override
    protected final void checkInput(Tensor x) {
        requireRank(x, rank);
    }

    @Override
    public Tensor forward(Tensor x) {
        checkInput(x);
        requireDim(x, 1, numFeatures, "channels");
        int n = x.dim(0), c = numFeatures, s = x.numel() / Math.max(1, n * c);
        if (n == 0 || s == 0) throw new ShapeException(label() + ": empty input of shape " + x.shapeString());
        usedBatchStats = usesBatchStats();
        GroupView v = GroupView.instances(n, c, s);
        double[] mean = new double[n * c], rstd = new double[n * c];
        if (usedBatchStats) {
            if (s < 2) {
                throw new ShapeException(label() + ": expected more than 1 spatial element when using batch statistics, got input shape "
                        + x.shapeString());
            }
            double[] var = new double[n * c];
            Tensor y = normalizeGroups(x, v, eps, weight, bias, mean, var, rstd);
            if (isTraining() && trackRunningStats) updateRunningPerSample(mean, var, n, s);
            return y;
        } else {
            // Evaluation with running statistics: the same fixed (μ_c, rstd_c) for every sample.
            double[] mu = new double[c], rs = new double[c];
            runningStatistics(mu, rs);
            for (int i = 0; i < n; i++) {
                System.arraycopy(mu, 0, mean, i * c, c);
                System.arraycopy(rs, 0, rstd, i * c, c);
            }
        }
        return normalizeGroups(x, v, mean, rstd, weight, bias);
    }

    /** running ← (1−m)·running + m·mean over samples of (μ_nc, σ²_nc·S/(S−1)). */
    private void updateRunningPerSample(double[] mean, double[] var, int n, int s) {
        double[] mu = new double[numFeatures], v = new double[numFeatures];
        for (int ch = 0; ch < numFeatures; ch++) {
            for (int i = 0; i < n; i++) {
                mu[ch] += mean[i * numFeatures + ch];
                v[ch] += var[i * numFeatures + ch];
            }
            mu[ch] /= n;
            v[ch] /= n;
        }
        // As PyTorch, instance norm never increments num_batches_tracked.
        blendRunning(momentum, mu, v, (double) s / (s - 1));
    }

    /**
     * With batch statistics, per (n, c): dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), ĝ = dy·γ_c. With running statistics:
     * dx = γ_c·rstd_c·dy. Both: dγ_c = Σ dy·x̂, dβ_c = Σ dy.
     */
    @Override
    public Tensor backward(Tensor dy) {
        return backwardGroups(dy, weight, bias, !usedBatchStats);
    }
}
