package normlab.norm;

import java.util.List;
import java.util.Map;
import normlab.kernels.GroupKernels;
import normlab.kernels.GroupView;
import normlab.kernels.Kernels;
import normlab.nn.Module;
import normlab.nn.Parameter;
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
 * momentum must be a number (PyTorch's None is not supported by instance_norm either).
 *
 * <p>Small batches: statistics are per sample, so batch size 1 and 2 work. Batch statistics need S ≥ 2: a (N, C, 1)
 * or (N, C, 1, 1) input throws, as PyTorch's "Expected more than 1 spatial element", whenever batch statistics are
 * used (training, or evaluation without running statistics).
 */
public abstract class InstanceNorm extends Module {
    public final int numFeatures;
    public final double eps;
    public final double momentum;
    public final boolean affine;
    public final boolean trackRunningStats;
    public final Parameter weight; // null unless affine
    public final Parameter bias;
    public final Tensor runningMean; // null unless trackRunningStats
    public final Tensor runningVar;
    public final Tensor numBatchesTracked;
    private final RunningStats running; // owns the three buffers above

    private Tensor x;
    private double[] mean, rstd;
    private boolean usedBatchStats;

    protected InstanceNorm(int numFeatures, double eps, double momentum, boolean affine, boolean trackRunningStats) {
        String name = getClass().getSimpleName();
        RunningStats.checkOptions(name, numFeatures, eps, momentum, false);
        this.numFeatures = numFeatures;
        this.eps = eps;
        this.momentum = momentum;
        this.affine = affine;
        this.trackRunningStats = trackRunningStats;
        this.weight = affine ? RunningStats.gamma(numFeatures) : null;
        this.bias = affine ? RunningStats.beta(numFeatures) : null;
        this.running = trackRunningStats ? new RunningStats(numFeatures) : null;
        this.runningMean = trackRunningStats ? running.mean : null;
        this.runningVar = trackRunningStats ? running.var : null;
        this.numBatchesTracked = trackRunningStats ? running.count : null;
    }

    /** Checks the input's rank (3 for 1d, 4 for 2d). */
    protected abstract void checkInput(Tensor x);

    @Override
    protected List<Parameter> ownParameters() {
        return affine ? List.of(weight, bias) : List.of();
    }

    @Override
    protected Map<String, Tensor> ownBuffers() {
        return trackRunningStats ? running.buffers() : Map.of();
    }

    @Override
    public Tensor forward(Tensor x) {
        checkInput(x);
        requireDim(x, 1, numFeatures, "channels");
        int n = x.dim(0), c = numFeatures, s = x.numel() / Math.max(1, n * c);
        if (n == 0 || s == 0) throw new ShapeException(label() + ": empty input of shape " + x.shapeString());
        usedBatchStats = isTraining() || !trackRunningStats;
        double[] mean = new double[n * c], rstd = new double[n * c];
        if (usedBatchStats) {
            if (s < 2) {
                throw new ShapeException(label() + ": expected more than 1 spatial element when using batch statistics, got input shape "
                        + x.shapeString());
            }
            double[] var = new double[n * c];
            Kernels.group().moments(mean, var, x.data, GroupView.instances(n, c, s));
            GroupKernels.rstd(rstd, var, eps, n * c);
            if (isTraining() && trackRunningStats) updateRunning(mean, var, n, s);
        } else {
            // Evaluation with running statistics: the same fixed (μ_c, rstd_c) for every sample.
            for (int i = 0; i < n; i++) {
                for (int ch = 0; ch < c; ch++) {
                    mean[i * c + ch] = runningMean.data[ch];
                    rstd[i * c + ch] = 1.0 / Math.sqrt(runningVar.data[ch] + eps);
                }
            }
        }
        Tensor y = outputTensor(0, x.shape()); // every element written below
        Kernels.group().normalize(y.data, x.data, mean, rstd, affine ? weight.value.data : null,
                affine ? bias.value.data : null, GroupView.instances(n, c, s));
        // Saved for backward only after y is computed from locals: concurrent eval forwards share no scratch.
        this.mean = mean;
        this.rstd = rstd;
        this.x = x;
        return y;
    }

    /** running ← (1−m)·running + m·mean over samples of (μ_nc, σ²_nc·S/(S−1)). */
    private void updateRunning(double[] mean, double[] var, int n, int s) {
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
        running.blend(momentum, mu, v, (double) s / (s - 1));
    }

    /**
     * With batch statistics, per (n, c): dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), ĝ = dy·γ_c. With running statistics:
     * dx = γ_c·rstd_c·dy. Both: dγ_c = Σ dy·x̂, dβ_c = Σ dy.
     */
    @Override
    public Tensor backward(Tensor dy) {
        requireForward(x, this);
        Tensor.requireShape(label() + " backward", dy, x.shape());
        int n = x.dim(0), c = numFeatures, s = x.numel() / (n * c);
        Tensor dx = outputTensor(1, x.shape()); // every element written below
        float[] dg = affine ? weight.grad.data : null, db = affine ? bias.grad.data : null, g = affine ? weight.value.data : null;
        if (usedBatchStats) Kernels.group().backward(dx.data, dg, db, dy.data, x.data, mean, rstd, g, GroupView.instances(n, c, s));
        else Kernels.group().backwardFixed(dx.data, dg, db, dy.data, x.data, mean, rstd, g, GroupView.instances(n, c, s));
        return dx;
    }
}
