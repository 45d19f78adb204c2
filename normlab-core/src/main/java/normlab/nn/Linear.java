package normlab.nn;

import normlab.kernels.Epilogue;
import normlab.kernels.Gemm;
import normlab.kernels.Gemv;
import normlab.tensor.Tensor;

/**
 * Fully connected layer, as PyTorch's {@code nn.Linear}: {@code y = x·Wᵀ + b} with W of shape (out, in).
 * Input (N, in), output (N, out). Default initialization is PyTorch's: W and b uniform in ±1/√in.
 *
 * <p>Backward: {@code dW += dyᵀ·x}, {@code db += Σₙ dy}, {@code dx = dy·W}.
 *
 * <p>Eval mode ({@link #inferInto}): Wᵀ is packed once and kept until {@code weight.version()} moves (an optimizer
 * step, {@code loadStateDict}, a train/eval switch), so no product re-packs W; a single row (or a few of a long depth)
 * takes the dot-product kernel over W's rows ({@link Gemv}), which needs no packing at all. The training forward is
 * untouched, and the eval forward of more rows gives the training forward's bits (same depth blocks, same tiles).
 */
public final class Linear extends Module {
    public final int in;
    public final int out;
    public final Parameter weight;
    public final Parameter bias; // null when bias=false
    private Tensor x; // saved input
    /** Wᵀ packed for {@link Gemm#matmulNTPacked} and the weight version it was packed from; replaced, never mutated. */
    private volatile Packed packed;

    private record Packed(long version, float[] wt) {}

    public Linear(int in, int out, boolean bias, normlab.tensor.Rng rng) {
        if (in <= 0 || out <= 0) throw new IllegalArgumentException("Linear: sizes must be positive, got in=" + in + " out=" + out);
        this.in = in;
        this.out = out;
        this.weight = new Parameter("weight", Tensor.zeros(out, in), Parameter.Kind.WEIGHT);
        this.bias = bias ? new Parameter("bias", Tensor.zeros(out), Parameter.Kind.BIAS) : null;
        if (rng != null) {
            float bound = (float) (1.0 / Math.sqrt(in));
            Init.uniform(weight.value, -bound, bound, rng);
            if (this.bias != null) Init.uniform(this.bias.value, -bound, bound, rng);
        }
    }

    public Linear(int in, int out, normlab.tensor.Rng rng) {
        this(in, out, true, rng);
    }

    @Override
    protected java.util.List<Parameter> ownParameters() {
        return bias == null ? java.util.List.of(weight) : java.util.List.of(weight, bias);
    }

    @Override
    public Tensor forward(Tensor x) {
        requireRank(x, 2);
        requireDim(x, 1, in, "input features");
        this.x = x;
        int n = x.dim(0);
        Tensor y = outputTensor(0, n, out); // every element written by the product
        if (!isTraining()) {
            inferInto(y.data, x.data, n, Epilogue.IDENTITY);
            return y;
        }
        Gemm.matmulNT(y.data, x.data, weight.value.data, n, in, out);
        if (bias != null) {
            float[] b = bias.value.data, yd = y.data;
            for (int i = 0; i < n; i++) {
                int o = i * out;
                for (int j = 0; j < out; j++) yd[o + j] += b[j];
            }
        }
        return y;
    }

    /**
     * y[i, j] = f(Σ_p x[i, p]·W[j, p] + b[j]) for i &lt; n (rows of x {@code in} apart, of y {@code out} apart): the
     * inference product with bias and activation fused, from the cached Wᵀ (packed on first use and again whenever the
     * weight's version changed) or, for one row, straight from W. Safe to call from several threads at once while the
     * weights do not change.
     */
    public void inferInto(float[] y, float[] x, int n, Epilogue f) {
        float[] w = weight.value.data, b = bias == null ? null : bias.value.data;
        if (Gemv.preferred(n, in)) {
            Gemv.linear(y, out, x, in, w, b, n, in, out, f);
            return;
        }
        Gemm.matmulNTPacked(y, x, packedWeight(), w, n, in, out);
        for (int i = 0; i < n; i++) Gemv.epilogue(y, i * out, b, 0, out, f);
    }

    /** Wᵀ for {@link Gemm#matmulNTPacked}, rebuilt only when {@code weight.version()} moved since it was packed. */
    private float[] packedWeight() {
        Packed p = packed;
        long v = weight.version();
        if (p == null || p.version != v) {
            p = new Packed(v, Gemm.packNT(weight.value.data, in, out));
            packed = p;
            packs++;
        }
        return p.wt;
    }

    private int packs;

    /** How many times Wᵀ was packed (tests check that it is once per weight version, not once per call). */
    int packCount() {
        return packs;
    }

    @Override
    public Tensor backward(Tensor dy) {
        accumulateGrads(dy);
        Tensor dx = outputTensor(1, x.dim(0), in); // overwritten by the product
        Gemm.matmulNN(dx.data, dy.data, weight.value.data, x.dim(0), out, in);
        return dx;
    }

    /** dW and db only: the first layer of a network skips dx = dy·W (as many multiply-adds as the forward). */
    @Override
    public void backwardParams(Tensor dy) {
        accumulateGrads(dy);
    }

    private void accumulateGrads(Tensor dy) {
        requireForward(x, this);
        int n = x.dim(0);
        Tensor.requireShape(label() + " backward", dy, n, out);
        Gemm.matmulTNAcc(weight.grad.data, dy.data, x.data, n, out, in);
        if (bias != null) {
            float[] db = bias.grad.data, d = dy.data;
            for (int i = 0; i < n; i++) {
                int o = i * out;
                for (int j = 0; j < out; j++) db[j] += d[o + j];
            }
        }
    }
}
