package normlab.rnn;

import normlab.kernels.GroupKernels;
import normlab.kernels.GroupView;
import normlab.kernels.Kernels;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * One normalization inside a recurrent cell, applied to an (N, C) block at each time step t, on normlab's
 * {@link GroupKernels} (the LayerNorm / GroupNorm kernels):
 * <ul>
 *   <li>layer: per sample over its C values (GroupView.rows(N, C)), y = (x − μ_n)/√(σ²_n + ε)·γ + β;</li>
 *   <li>batch: per unit over the N samples of step t (the view (A=1, P=N, G=C, Q=1): one group per column), with
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

    private GroupView view() {
        return batch ? new GroupView(1, n, c, 1, 1) : GroupView.rows(n, c);
    }

    /** y = norm(x) at step t (x is kept for backward, not copied). */
    void forward(float[] y, float[] x, int t) {
        GroupView v = view();
        double[] mean = new double[v.groups()], rstd = new double[v.groups()];
        if (fixed) {
            int s = Math.min(t, slots - 1);
            for (int j = 0; j < c; j++) {
                mean[j] = runningMean.data[s * c + j];
                rstd[j] = 1.0 / Math.sqrt(runningVar.data[s * c + j] + eps);
            }
        } else {
            double[] var = new double[v.groups()];
            Kernels.group().moments(mean, var, x, v);
            GroupKernels.rstd(rstd, var, eps, v.groups());
            if (batch) {
                // running ← (1 − m)·running + m·batch statistic (variance unbiased: ·N/(N − 1))
                int s = Math.min(t, slots - 1);
                float[] rm = runningMean.data, rv = runningVar.data;
                for (int j = 0; j < c; j++) {
                    rm[s * c + j] = (float) ((1 - momentum) * rm[s * c + j] + momentum * mean[j]);
                    rv[s * c + j] = (float) ((1 - momentum) * rv[s * c + j] + momentum * var[j] * n / (n - 1));
                }
            }
        }
        Kernels.group().normalize(y, x, mean, rstd, gamma.value.data, beta == null ? null : beta.value.data, v);
        xs[t] = x;
        means[t] = mean;
        rstds[t] = rstd;
    }

    /** dx of step t's normalization; accumulates dγ (and dβ). */
    void backward(float[] dx, float[] dy, int t) {
        GroupView v = view();
        float[] db = beta == null ? null : beta.grad.data;
        if (fixed) Kernels.group().backwardFixed(dx, gamma.grad.data, db, dy, xs[t], means[t], rstds[t], gamma.value.data, v);
        else Kernels.group().backward(dx, gamma.grad.data, db, dy, xs[t], means[t], rstds[t], gamma.value.data, v);
    }

    /** Mean over units of the per-unit batch mean and of the per-unit batch variance of step t's input (from the last forward). */
    double[] batchMoments(int t) {
        GroupView v = new GroupView(1, n, c, 1, 1);
        double[] mean = new double[c], var = new double[c];
        Kernels.group().moments(mean, var, xs[t], v);
        double m = 0, s = 0;
        for (int j = 0; j < c; j++) {
            m += mean[j];
            s += var[j];
        }
        return new double[] {m / c, s / c};
    }
}
