package normlab.norm;

import java.util.List;
import normlab.kernels.Kernels;
import normlab.nn.Parameter;
import normlab.tensor.Tensor;

/**
 * Root-mean-square normalization (Zhang &amp; Sennrich 2019) as PyTorch 2.x's {@code nn.RMSNorm}: over the last k
 * dimensions (D values), without centring and without a bias.
 * <pre>
 *   y = x / √(mean(x²) + ε) · w
 * </pre>
 * Defaults as PyTorch: ε null means the machine epsilon of float32 (2⁻²³ ≈ 1.19e-7), elementwise weight on (w = 1).
 * State key {@code weight}. No running statistics; training and evaluation agree.
 *
 * <p>Small batches: each row is normalized on its own, so batch size 1 and 2 behave like any other. A row of zeros
 * maps to zeros (ε keeps the denominator positive).
 */
public final class RMSNorm extends Normalization {
    /** float32 machine epsilon, PyTorch's default when eps is None. */
    public static final double FLOAT_EPS = Math.ulp(1.0f);

    public final int[] normalizedShape;
    public final double eps;
    public final Parameter weight; // null unless elementwise affine
    private final int d;

    private Tensor x;
    private double[] rrms;

    /** RMSNorm over the given trailing shape with PyTorch's defaults (ε = float32 epsilon, learnable weight). */
    public RMSNorm(int... normalizedShape) {
        this(normalizedShape, null, true);
    }

    /** @param eps null for PyTorch's default (float32 machine epsilon) */
    public RMSNorm(int[] normalizedShape, Double eps, boolean elementwiseAffine) {
        int size = normalizedSize(getClass().getSimpleName(), normalizedShape);
        double e = eps == null ? FLOAT_EPS : eps;
        if (!(e > 0)) throw new IllegalArgumentException("RMSNorm: eps must be > 0, got " + e);
        this.normalizedShape = normalizedShape.clone();
        this.d = size;
        this.eps = e;
        this.weight = elementwiseAffine ? new Parameter("weight", Tensor.full(1f, normalizedShape), Parameter.Kind.NORM) : null;
    }

    @Override
    protected List<Parameter> ownParameters() {
        return weight == null ? List.of() : List.of(weight);
    }

    @Override
    public Tensor forward(Tensor x) {
        requireTrailingShape(x, normalizedShape);
        int rows = x.numel() / d;
        double[] rrms = new double[rows];
        Tensor y = outputTensor(0, x.shape()); // every element written below
        Kernels.group().rmsForward(y.data, rrms, x.data, eps, weight == null ? null : weight.value.data, rows, d);
        // Saved for backward only after y is computed from locals: concurrent eval forwards share no scratch.
        this.rrms = rrms;
        this.x = x;
        return y;
    }

    /** dx = rrms·(ĝ − x̂·mean(ĝ·x̂)) per row with x̂ = x·rrms, ĝ = dy·w; dw = Σ dy·x̂ over rows. */
    @Override
    public Tensor backward(Tensor dy) {
        checkBackward(x, dy);
        Tensor dx = outputTensor(1, x.shape()); // every element written below
        Kernels.group().rmsBackward(dx.data, weight == null ? null : weight.grad.data, dy.data, x.data, rrms,
                weight == null ? null : weight.value.data, x.numel() / d, d);
        return dx;
    }
}
