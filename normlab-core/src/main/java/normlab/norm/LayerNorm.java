package normlab.norm;

import java.util.List;
import normlab.kernels.GroupKernels;
import normlab.kernels.GroupView;
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
public final class LayerNorm extends Normalization {
    public final int[] normalizedShape;
    public final double eps;
    public final Parameter weight; // null unless elementwise affine
    public final Parameter bias;   // null unless elementwise affine with bias
    private final int d;

    /** LayerNorm over the given trailing shape with PyTorch's defaults (ε 1e-5, affine with bias). */
    public LayerNorm(int... normalizedShape) {
        this(normalizedShape, 1e-5, true, true);
    }

    public LayerNorm(int[] normalizedShape, double eps, boolean elementwiseAffine, boolean bias) {
        int size = normalizedSize(getClass().getSimpleName(), normalizedShape);
        if (!(eps > 0)) throw new IllegalArgumentException("LayerNorm: eps must be > 0, got " + eps);
        this.normalizedShape = normalizedShape.clone();
        this.d = size;
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
        return normalizeGroups(x, GroupView.rows(x.numel() / d, d), eps, weight, bias);
    }

    /** dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) per row with ĝ = dy·γ; dγ = Σ dy·x̂, dβ = Σ dy over rows. */
    @Override
    public Tensor backward(Tensor dy) {
        return backwardGroups(dy, weight, bias, false);
    }
}
