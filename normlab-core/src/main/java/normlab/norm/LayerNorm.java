package normlab.norm;

import java.util.Arrays;
import java.util.List;
import normlab.kernels.GroupKernels;
import normlab.kernels.GroupView;
import normlab.kernels.Kernels;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.tensor.Tensor;

/**
 * Layer Normalization (Ba, Kiros &amp; Hinton 2016) as PyTorch's {@code nn.LayerNorm}: each sample is normalized over
 * its last k dimensions ({@code normalizedShape}, D values), then an elementwise affine of that shape is applied.
 * <pre>
 *   μ = (1/D) Σ x,  σ² = (1/D) Σ (x − μ)²,  y = (x − μ)/√(σ² + ε) · γ + β
 * </pre>
 * Defaults as PyTorch: ε 1e-5, elementwise affine on (γ = 1, β = 0), bias optional (PyTorch 2.1's {@code bias=False}).
 * No running statistics: training and evaluation compute the same function. The statistics come from
 * {@link GroupKernels} with the view (A, P, G, Q) = (rows, 1, 1, D).
 *
 * <p>Small batches: statistics are per sample, so batch size 1 and 2 behave exactly like any other batch size (each
 * row is normalized on its own). A normalized shape of a single value (D = 1) gives x̂ = 0, y = β, as PyTorch.
 */
public final class LayerNorm extends Module {
    public final int[] normalizedShape;
    public final double eps;
    public final Parameter weight; // null unless elementwise affine
    public final Parameter bias;   // null unless elementwise affine with bias
    private final int d;

    private Tensor x;
    private double[] mean, rstd;

    /** LayerNorm over the given trailing shape with PyTorch's defaults (ε 1e-5, affine with bias). */
    public LayerNorm(int... normalizedShape) {
        this(normalizedShape, 1e-5, true, true);
    }

    public LayerNorm(int[] normalizedShape, double eps, boolean elementwiseAffine, boolean bias) {
        if (normalizedShape.length == 0) throw new IllegalArgumentException("LayerNorm: normalizedShape must have at least one dimension");
        long n = 1;
        for (int s : normalizedShape) {
            if (s <= 0) throw new IllegalArgumentException("LayerNorm: normalizedShape " + Arrays.toString(normalizedShape) + " has a non-positive size");
            n *= s;
        }
        if (!(eps > 0)) throw new IllegalArgumentException("LayerNorm: eps must be > 0, got " + eps);
        this.normalizedShape = normalizedShape.clone();
        this.d = Math.toIntExact(n);
        this.eps = eps;
        this.weight = elementwiseAffine ? new Parameter("weight", Tensor.full(1f, normalizedShape), Parameter.Kind.NORM) : null;
        this.bias = elementwiseAffine && bias ? new Parameter("bias", Tensor.zeros(normalizedShape), Parameter.Kind.NORM) : null;
    }

    @Override
    protected List<Parameter> ownParameters() {
        if (weight == null) return List.of();
        return bias == null ? List.of(weight) : List.of(weight, bias);
    }

    @Override
    public Tensor forward(Tensor x) {
        requireTrailingShape(x, normalizedShape);
        int rows = x.numel() / d;
        double[] mean = new double[rows], rstd = new double[rows];
        double[] var = new double[rows];
        Kernels.group().moments(mean, var, x.data, GroupView.rows(rows, d));
        GroupKernels.rstd(rstd, var, eps, rows);
        Tensor y = outputTensor(0, x.shape()); // every element written below
        Kernels.group().normalize(y.data, x.data, mean, rstd, weight == null ? null : weight.value.data,
                bias == null ? null : bias.value.data, GroupView.rows(rows, d));
        // Saved for backward only after y is computed from locals: concurrent eval forwards share no scratch.
        this.mean = mean;
        this.rstd = rstd;
        this.x = x;
        return y;
    }

    /** dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) per row with ĝ = dy·γ; dγ = Σ dy·x̂, dβ = Σ dy over rows. */
    @Override
    public Tensor backward(Tensor dy) {
        requireForward(x, this);
        Tensor.requireShape(label() + " backward", dy, x.shape());
        int rows = x.numel() / d;
        Tensor dx = outputTensor(1, x.shape()); // every element written below
        Kernels.group().backward(dx.data, weight == null ? null : weight.grad.data, bias == null ? null : bias.grad.data,
                dy.data, x.data, mean, rstd, weight == null ? null : weight.value.data, GroupView.rows(rows, d));
        return dx;
    }
}
