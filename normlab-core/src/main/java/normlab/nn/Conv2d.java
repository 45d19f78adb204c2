package normlab.nn;

import java.util.Arrays;
import java.util.List;
import normlab.kernels.Gemm;
import normlab.kernels.Im2col;
import normlab.kernels.Parallel;
import normlab.tensor.Rng;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * 2-D convolution (cross-correlation) as PyTorch's {@code nn.Conv2d}: input (N, C, H, W), weight (O, C/groups, kh, kw),
 * optional bias (O), output (N, O, OH, OW), zero padding.
 * <pre>
 *   y[n, o, a, b] = bias[o] + Σ_{c ∈ group(o)} Σ_{i,j} w[o, c, i, j] · x[n, c, a·sh − ph + i·dh, b·sw − pw + j·dw]
 *   OH = ⌊(H + 2ph − dh·(kh−1) − 1)/sh⌋ + 1
 * </pre>
 * Computed per group as im2col ({@link Im2col}) over the whole batch then one GEMM: with col of shape (K, N·OH·OW),
 * K = (C/groups)·kh·kw, y_g = W_g·col ({@link Gemm#matmulNN}). Backward: dW_g += dy_g·colᵀ ({@link Gemm#matmulNT}),
 * dcol = W_gᵀ·dy_g ({@link Gemm#matmulTNAcc}) folded back by col2im, db = Σ dy. The patches are kept from forward to
 * backward (K·N·OH·OW floats per group).
 *
 * <p>Default initialization is PyTorch's: kaiming_uniform with a = √5, i.e. W and b uniform in ±1/√fan_in with
 * fan_in = (C/groups)·kh·kw. Only zero padding (padding_mode "zeros") is provided.
 *
 * <p>Small batches: samples are independent, so batch size 1 and 2 behave like any other.
 */
public final class Conv2d extends Module {
    public final int inChannels, outChannels, groups;
    public final int kh, kw, sh, sw, ph, pw, dh, dw;
    public final Parameter weight;
    public final Parameter bias; // null when bias=false

    private Tensor x;
    private float[][] cols; // per group, the (K × N·P) patches of the last forward

    /** Square kernel, stride 1, no padding, bias, PyTorch init. */
    public Conv2d(int in, int out, int kernel, Rng rng) {
        this(in, out, kernel, 1, 0, 1, 1, true, rng);
    }

    /** Square kernel/stride/padding/dilation. */
    public Conv2d(int in, int out, int kernel, int stride, int padding, int dilation, int groups, boolean bias, Rng rng) {
        this(in, out, new int[] {kernel, kernel}, new int[] {stride, stride}, new int[] {padding, padding},
                new int[] {dilation, dilation}, groups, bias, rng);
    }

    /** Full form: each of kernel, stride, padding, dilation is {height, width}. rng null leaves the weights zero. */
    public Conv2d(int in, int out, int[] kernel, int[] stride, int[] padding, int[] dilation, int groups, boolean bias, Rng rng) {
        if (in <= 0 || out <= 0 || groups <= 0 || in % groups != 0 || out % groups != 0) {
            throw new IllegalArgumentException("Conv2d: in (" + in + ") and out (" + out + ") channels must be positive multiples of groups (" + groups + ")");
        }
        if (kernel[0] <= 0 || kernel[1] <= 0 || stride[0] <= 0 || stride[1] <= 0 || dilation[0] <= 0 || dilation[1] <= 0
                || padding[0] < 0 || padding[1] < 0) {
            throw new IllegalArgumentException("Conv2d: need kernel, stride, dilation > 0 and padding >= 0, got kernel "
                    + Arrays.toString(kernel) + " stride " + Arrays.toString(stride) + " padding " + Arrays.toString(padding)
                    + " dilation " + Arrays.toString(dilation));
        }
        this.inChannels = in;
        this.outChannels = out;
        this.groups = groups;
        this.kh = kernel[0];
        this.kw = kernel[1];
        this.sh = stride[0];
        this.sw = stride[1];
        this.ph = padding[0];
        this.pw = padding[1];
        this.dh = dilation[0];
        this.dw = dilation[1];
        this.weight = new Parameter("weight", Tensor.zeros(out, in / groups, kh, kw), Parameter.Kind.WEIGHT);
        this.bias = bias ? new Parameter("bias", Tensor.zeros(out), Parameter.Kind.BIAS) : null;
        if (rng != null) {
            double bound = 1.0 / Math.sqrt((double) (in / groups) * kh * kw);
            Init.uniform(weight.value, -bound, bound, rng);
            if (this.bias != null) Init.uniform(this.bias.value, -bound, bound, rng);
        }
    }

    @Override
    protected List<Parameter> ownParameters() {
        return bias == null ? List.of(weight) : List.of(weight, bias);
    }

    /** Output spatial size for an input size along one axis. */
    static int outSize(int in, int k, int s, int p, int d) {
        return (in + 2 * p - d * (k - 1) - 1) / s + 1;
    }

    /** Output shape for an input of shape (N, C, H, W). */
    public int[] outputShape(int[] in) {
        return new int[] {in[0], outChannels, outSize(in[2], kh, sh, ph, dh), outSize(in[3], kw, sw, pw, dw)};
    }

    @Override
    public Tensor forward(Tensor x) {
        requireRank(x, 4);
        requireDim(x, 1, inChannels, "channels");
        int n = x.dim(0), h = x.dim(2), w = x.dim(3);
        int oh = outSize(h, kh, sh, ph, dh), ow = outSize(w, kw, sw, pw, dw);
        if (oh <= 0 || ow <= 0) {
            throw new ShapeException(label() + ": input " + x.shapeString() + " is smaller than the dilated kernel ("
                    + (dh * (kh - 1) + 1) + "x" + (dw * (kw - 1) + 1) + " with padding " + ph + "x" + pw + ")");
        }
        int cg = inChannels / groups, og = outChannels / groups, k = cg * kh * kw, p = oh * ow, np = n * p;
        // Output, the product y_g and the patches of every group in buffer slots (reused when asked, every element
        // written here): 0 = y, 2 = y_g, 6 + g = patches of group g (1 = dx, 3-5 = backward workspaces).
        Tensor y = buffer(0, n, outChannels, oh, ow);
        float[][] cs = new float[groups][];
        float[] yg = buffer(2, og, np).data;
        for (int g = 0; g < groups; g++) {
            // col (K × N·P): one row per kernel tap, one column per output position of every sample; samples in parallel
            float[] col = buffer(6 + g, k, np).data;
            int gg = g;
            Parallel.forRange(n, Math.max(1, (1 << 15) / Math.max(1, k * p)), (lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    Im2col.im2col(col, i * p, np, x.data, (i * inChannels + gg * cg) * h * w, cg, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow);
                }
            });
            cs[g] = col;
            // y_g (og × N·P) = W_g (og × K) · col (K × N·P), then y[n, g·og + o, ·] = y_g[o, n·P + ·] + b
            Gemm.matmulNN(yg, groupWeight(weight.value.data, g, og * k), col, og, k, np);
            for (int o = 0; o < og; o++) {
                float b = bias == null ? 0f : bias.value.data[g * og + o];
                for (int i = 0; i < n; i++) {
                    int src = o * np + i * p, dst = (i * outChannels + g * og + o) * p;
                    for (int j = 0; j < p; j++) y.data[dst + j] = yg[src + j] + b;
                }
            }
        }
        cols = cs;
        this.x = x;
        return y;
    }

    private float[] groupWeight(float[] w, int g, int len) {
        return groups == 1 ? w : Arrays.copyOfRange(w, g * len, (g + 1) * len);
    }

    /**
     * Per group, with dy_g (og × N·P) gathered from dy: dW_g += dy_g·colᵀ, dcol = W_gᵀ·dy_g folded back onto dx by
     * col2im, db = row sums of dy_g. The patches saved by forward are reused.
     */
    @Override
    public Tensor backward(Tensor dy) {
        requireForward(x, this);
        int n = x.dim(0), h = x.dim(2), w = x.dim(3);
        int oh = outSize(h, kh, sh, ph, dh), ow = outSize(w, kw, sw, pw, dw);
        Tensor.requireShape(label() + " backward", dy, n, outChannels, oh, ow);
        int cg = inChannels / groups, og = outChannels / groups, k = cg * kh * kw, p = oh * ow, np = n * p;
        boolean inputGrad = !paramsOnly;
        Tensor dx = inputGrad ? buffer(1, x.shape()) : null;
        if (dx != null) Arrays.fill(dx.data, 0f); // col2im accumulates; a reused buffer holds old values
        float[] dyg = buffer(3, og, np).data, dwg = buffer(4, og, k).data; // overwritten below
        float[] dcol = inputGrad ? buffer(5, k, np).data : null;
        for (int g = 0; g < groups; g++) {
            for (int o = 0; o < og; o++) {
                double sb = 0;
                for (int i = 0; i < n; i++) {
                    int src = (i * outChannels + g * og + o) * p, dst = o * np + i * p;
                    System.arraycopy(dy.data, src, dyg, dst, p);
                    for (int j = 0; j < p; j++) sb += dyg[dst + j];
                }
                if (bias != null) bias.grad.data[g * og + o] += (float) sb;
            }
            // dW_g (og × K) += dy_g (og × N·P) · colᵀ (N·P × K)
            Gemm.matmulNT(dwg, dyg, cols[g], og, np, k);
            float[] gw = weight.grad.data;
            for (int j = 0; j < og * k; j++) gw[g * og * k + j] += dwg[j];
            if (!inputGrad) continue;
            // dcol (K × N·P) = W_gᵀ · dy_g, folded back onto each sample's input block (samples in parallel: disjoint dx)
            Gemm.matmulTN(dcol, groupWeight(weight.value.data, g, og * k), dyg, og, k, np);
            int gg = g;
            Parallel.forRange(n, Math.max(1, (1 << 15) / Math.max(1, k * p)), (lo, hi) -> {
                for (int i = lo; i < hi; i++) {
                    Im2col.col2im(dx.data, (i * inChannels + gg * cg) * h * w, dcol, i * p, np, cg, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow);
                }
            });
        }
        return dx;
    }

    /** dW and db only (the first layer: its input needs no gradient): skips dcol = Wᵀ·dy and col2im. */
    @Override
    public void backwardParams(Tensor dy) {
        paramsOnly = true;
        try {
            backward(dy);
        } finally {
            paramsOnly = false;
        }
    }

    private boolean paramsOnly;
}
