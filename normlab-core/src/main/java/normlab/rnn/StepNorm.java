package normlab.rnn;

import normlab.kernels.ChannelKernels;
import normlab.kernels.GroupKernels;
import normlab.kernels.GroupView;
import normlab.kernels.Kernels;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * One normalization inside a recurrent cell, applied to an (N, C) block at each time step t, on normlab's
 * normalization kernels:
 * <ul>
 *   <li>layer: per sample over its C values, y = (x − μ_n)/√(σ²_n + ε)·γ + β — {@link GroupKernels} (LayerNorm's
 *       kernels) on GroupView.rows(N, C);</li>
 *   <li>batch: per unit over the N samples of step t, y = (x − μ_c)/√(σ²_c + ε)·γ_c + β_c — {@link ChannelKernels}
 *       (BatchNorm's kernels) on (N, C, S = 1), with
 *       running statistics in slot min(t, S − 1) of (S, C) buffers — S = T_max for per-step statistics (Cooijmans et
 *       al. 2017; steps beyond T_max use the last slot), S = 1 for the naive shared set (one BatchNorm1d called at
 *       every step: each call moves the same averages, PyTorch's update rule, unbiased variance). Evaluation uses
 *       the slot's running statistics, backward then is the fixed affine.</li>
 * </ul>
 * Forward keeps each step's input, μ and 1/σ for the backward of that step.
 */
final class StepNorm {
    final boolean batch;
    final int c, slots;
    final double eps, momentum;
    final Parameter gamma, beta; // beta may be null (BN on W·x and W·h: the cell's bias carries β)
    final Tensor runningMean, runningVar; // (slots, C), batch only
    private float[][] xs;
    private double[][] means, rstds;
    private boolean fixed;
    private int n;

    StepNorm(boolean batch, int c, int slots, double eps, double momentum, Parameter gamma, Parameter beta) {
        this.batch = batch;
        this.c = c;
        this.slots = slots;
        this.eps = eps;
        this.momentum = momentum;
        this.gamma = gamma;
        this.beta = beta;
        this.runningMean = batch ? Tensor.zeros(slots, c) : null;
        this.runningVar = batch ? Tensor.full(1f, slots, c) : null;
    }

    /** Starts a forward over t steps of n rows. */
    void begin(int t, int n, boolean training, Module owner) {
        if (batch && training && n < 2) {
            throw new ShapeException(owner.label() + ": batch normalization in training needs more than 1 sample per step, got N = " + n);
        }
        xs = new float[t][];
        means = new double[t][];
        rstds = new double[t][];
        fixed = batch && !training;
        this.n = n;
    }

    /** y = norm(x) at step t (x is kept for backward, not copied). */
    void forward(float[] y, float[] x, int t) {
        if (!batch) {
            GroupView v = GroupView.rows(n, c);
            double[] mean = new double[n], var = new double[n], rstd = new double[n];
            Kernels.group().moments(mean, var, x, v);
            GroupKernels.rstd(rstd, var, eps, n);
            Kernels.group().normalize(y, x, mean, rstd, gamma.value.data, beta == null ? null : beta.value.data, v);
            keep(t, x, mean, rstd);
            return;
        }
        int s = Math.min(t, slots - 1);
        double[] mean = new double[c], rstd = new double[c];
        if (fixed) {
            for (int j = 0; j < c; j++) {
                mean[j] = runningMean.data[s * c + j];
                rstd[j] = 1.0 / Math.sqrt(runningVar.data[s * c + j] + eps);
            }
        } else {
            double[] var = new double[c];
            Kernels.channel().channelStats(mean, var, x, n, c, 1);
            GroupKernels.rstd(rstd, var, eps, c);
            // running ← (1 − m)·running + m·batch statistic (variance unbiased: ·N/(N − 1))
            float[] rm = runningMean.data, rv = runningVar.data;
            for (int j = 0; j < c; j++) {
                rm[s * c + j] = (float) ((1 - momentum) * rm[s * c + j] + momentum * mean[j]);
                rv[s * c + j] = (float) ((1 - momentum) * rv[s * c + j] + momentum * var[j] * n / (n - 1));
            }
        }
        // y = ((x − μ_hi) − μ_lo)·k + b with k = γ·rstd, b = β (0 when none): the mean as a float pair cancels exactly
        float[] k = new float[c], b = new float[c], hi = new float[c], lo = new float[c];
        for (int j = 0; j < c; j++) {
            hi[j] = (float) mean[j];
            lo[j] = (float) (mean[j] - hi[j]);
            k[j] = (float) (gamma.value.data[j] * rstd[j]);
            b[j] = beta == null ? 0f : beta.value.data[j];
        }
        Kernels.channel().normalize(y, x, hi, lo, k, b, n, c, 1);
        keep(t, x, mean, rstd);
    }

    private void keep(int t, float[] x, double[] mean, double[] rstd) {
        xs[t] = x;
        means[t] = mean;
        rstds[t] = rstd;
    }

    /**
     * dx of step t's normalization; accumulates dγ (and dβ). Batch statistics, per unit with x̂ = (x − μ)·rstd:
     * dx = γ·rstd·(dy − Σdy/N − x̂·Σ(dy·x̂)/N) = a·dy − q·(x − μ) − p with a = γ·rstd, q = γ·rstd³·Σdy(x − μ)/N,
     * p = γ·rstd·Σdy/N; fixed (running) statistics: dx = a·dy. dγ += rstd·Σdy(x − μ), dβ += Σdy.
     */
    void backward(float[] dx, float[] dy, int t) {
        if (!batch) {
            GroupView v = GroupView.rows(n, c);
            Kernels.group().backward(dx, gamma.grad.data, beta == null ? null : beta.grad.data, dy, xs[t], means[t], rstds[t], gamma.value.data, v);
            return;
        }
        double[] mean = means[t], rstd = rstds[t], sumDy = new double[c], sumDyXmu = new double[c];
        float[] hi = new float[c], lo = new float[c], a = new float[c], q = new float[c], p = new float[c];
        for (int j = 0; j < c; j++) {
            hi[j] = (float) mean[j];
            lo[j] = (float) (mean[j] - hi[j]);
        }
        Kernels.channel().backwardSums(sumDy, sumDyXmu, dy, xs[t], hi, lo, n, c, 1);
        float[] g = gamma.value.data, dg = gamma.grad.data;
        for (int j = 0; j < c; j++) {
            double ga = g[j] * rstd[j];
            a[j] = (float) ga;
            if (!fixed) {
                q[j] = (float) (ga * rstd[j] * rstd[j] * sumDyXmu[j] / n);
                p[j] = (float) (ga * sumDy[j] / n);
            }
            dg[j] += (float) (rstd[j] * sumDyXmu[j]);
            if (beta != null) beta.grad.data[j] += (float) sumDy[j];
        }
        Kernels.channel().backwardDx(dx, dy, xs[t], hi, lo, a, q, p, n, c, 1);
    }

    /** Mean over units of the per-unit batch mean and of the per-unit batch variance of step t's input (from the last forward). */
    double[] batchMoments(int t) {
        double[] mean = new double[c], var = new double[c];
        Kernels.channel().channelStats(mean, var, xs[t], n, c, 1);
        double m = 0, s = 0;
        for (int j = 0; j < c; j++) {
            m += mean[j];
            s += var[j];
        }
        return new double[] {m / c, s / c};
    }
}
