package normlab.norm;

import java.util.Arrays;
import normlab.kernels.GroupKernels;
import normlab.kernels.GroupView;
import normlab.kernels.Kernels;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.tensor.Tensor;

/**
 * The root of this package's layers: what every normalization does the same way, so each layer states only its own
 * statistics. It owns the backward's preamble ({@link #checkBackward}) and, for the layers whose statistics are per
 * sample or group ({@link LayerNorm}, {@link GroupNorm}, {@link InstanceNorm}), the whole path through
 * {@link GroupKernels}: statistics over a {@link GroupView}, the normalization with its per-channel (or elementwise)
 * affine, what the forward leaves for the backward, and the backward.
 */
public abstract class Normalization extends Module {
    /** What the last group forward left for its backward: input, view, μ and 1/√(σ² + ε) per group. */
    private record GroupForward(Tensor x, GroupView view, double[] mean, double[] rstd) {}

    private GroupForward lastGroups;

    /** D, the number of values in {@code normalizedShape} (LayerNorm, RMSNorm); throws naming {@code layer} if it is empty or has a size ≤ 0. */
    static int normalizedSize(String layer, int[] normalizedShape) {
        if (normalizedShape.length == 0) throw new IllegalArgumentException(layer + ": normalizedShape must have at least one dimension");
        long n = 1;
        for (int s : normalizedShape) {
            if (s <= 0) throw new IllegalArgumentException(layer + ": normalizedShape " + Arrays.toString(normalizedShape) + " has a non-positive size");
            n *= s;
        }
        return Math.toIntExact(n);
    }

    /** Throws unless a forward has run ({@code saved} is its input) and {@code dy} has the input's shape. */
    protected final void checkBackward(Tensor saved, Tensor dy) {
        requireForward(saved, this);
        Tensor.requireShape(label() + " backward", dy, saved.shape());
    }

    /** y = (x − μ)·rstd·γ + β with this batch's statistics (fresh arrays for them), as the method below. */
    protected final Tensor normalizeGroups(Tensor x, GroupView v, double eps, Parameter gamma, Parameter beta) {
        double[] mean = new double[v.groups()], rstd = new double[v.groups()];
        return normalizeGroups(x, v, eps, gamma, beta, mean, new double[v.groups()], rstd);
    }

    /**
     * y = (x − μ)·rstd·γ + β with this batch's statistics, computed in the same call ({@link GroupKernels#momentsNormalize}:
     * group by group, x read from memory once), into {@code mean}, {@code var} (biased) and {@code rstd}; remembers x and
     * the statistics for {@link #backwardGroups}. Same results as
     * {@link GroupKernels#moments}, {@link GroupKernels#rstd} and {@link GroupKernels#normalize} one after the other.
     */
    protected final Tensor normalizeGroups(Tensor x, GroupView v, double eps, Parameter gamma, Parameter beta,
                                           double[] mean, double[] var, double[] rstd) {
        Tensor y = outputTensor(0, x.shape()); // every element written below
        Kernels.group().momentsNormalize(y.data, mean, var, rstd, x.data, eps, gamma == null ? null : gamma.value.data,
                beta == null ? null : beta.value.data, v);
        lastGroups = new GroupForward(x, v, mean, rstd);
        return y;
    }

    /**
     * y = (x − μ)·rstd·γ + β per group of view {@code v}, γ and β per affine index (null: 1 and 0); remembers x and the
     * statistics for {@link #backwardGroups}.
     */
    protected final Tensor normalizeGroups(Tensor x, GroupView v, double[] mean, double[] rstd, Parameter gamma,
                                           Parameter beta) {
        Tensor y = outputTensor(0, x.shape()); // every element written below
        Kernels.group().normalize(y.data, x.data, mean, rstd, gamma == null ? null : gamma.value.data,
                beta == null ? null : beta.value.data, v);
        // Saved for backward only after y is computed from locals: concurrent eval forwards share no scratch.
        lastGroups = new GroupForward(x, v, mean, rstd);
        return y;
    }

    /**
     * Backward of the last {@link #normalizeGroups}: with batch statistics, or ({@code fixedStatistics}) through the
     * fixed per-group affine. Adds dγ and dβ into the parameters' gradients (when present).
     */
    protected final Tensor backwardGroups(Tensor dy, Parameter gamma, Parameter beta, boolean fixedStatistics) {
        GroupForward f = lastGroups;
        checkBackward(f == null ? null : f.x, dy);
        Tensor dx = outputTensor(1, f.x.shape()); // every element written below
        float[] dg = gamma == null ? null : gamma.grad.data, db = beta == null ? null : beta.grad.data;
        float[] g = gamma == null ? null : gamma.value.data;
        if (fixedStatistics) Kernels.group().backwardFixed(dx.data, dg, db, dy.data, f.x.data, f.mean, f.rstd, g, f.view);
        else Kernels.group().backward(dx.data, dg, db, dy.data, f.x.data, f.mean, f.rstd, g, f.view);
        return dx;
    }
}
