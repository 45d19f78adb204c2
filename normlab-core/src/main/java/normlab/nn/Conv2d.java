package normlab.nn;

import java.util.Arrays;
import java.util.List;
import normlab.kernels.Gemm;
import normlab.kernels.Im2col;
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
 * Computed per sample and group as im2col ({@link Im2col}) then one GEMM: with col of shape (OH·OW, K), K = (C/groups)·kh·kw,
 * y_g = W_g·colᵀ ({@link Gemm#matmulNT}). Backward: dW_g += dy_g·col ({@link Gemm#matmulNN}), dcol = dy_gᵀ·W_g
 * ({@link Gemm#matmulTNAcc}) folded back by col2im, db = Σ dy.
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
        int cg = inChannels / groups, og = outChannels / groups, k = cg * kh * kw, p = oh * ow;
        Tensor y = Tensor.zeros(n, outChannels, oh, ow);
        float[] col = new float[p * k], yg = new float[og * p];
        for (int g = 0; g < groups; g++) {
            float[] wg = groupWeight(weight.value.data, g, og * k);
            for (int i = 0; i < n; i++) {
                Im2col.im2col(col, x.data, (i * inChannels + g * cg) * h * w, cg, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow);
                // y_g (og × P) = W_g (og × K) · colᵀ (K × P)
                Gemm.matmulNT(yg, wg, col, og, k, p);
                int yo = (i * outChannels + g * og) * p;
                System.arraycopy(yg, 0, y.data, yo, og * p);
                if (bias != null) {
                    for (int o = 0; o < og; o++) {
                        float b = bias.value.data[g * og + o];
                        for (int j = 0; j < p; j++) y.data[yo + o * p + j] += b;
                    }
                }
            }
        }
        this.x = x;
        return y;
    }

    private float[] groupWeight(float[] w, int g, int len) {
        return groups == 1 ? w : Arrays.copyOfRange(w, g * len, (g + 1) * len);
    }

    @Override
    public Tensor backward(Tensor dy) {
        requireForward(x, this);
        int n = x.dim(0), h = x.dim(2), w = x.dim(3);
        int oh = outSize(h, kh, sh, ph, dh), ow = outSize(w, kw, sw, pw, dw);
        Tensor.requireShape(label() + " backward", dy, n, outChannels, oh, ow);
        int cg = inChannels / groups, og = outChannels / groups, k = cg * kh * kw, p = oh * ow;
        Tensor dx = Tensor.zeros(x.shape());
        float[] col = new float[p * k], dcol = new float[p * k], dyg = new float[og * p], dwTmp = new float[og * k];
        for (int g = 0; g < groups; g++) {
            float[] wg = groupWeight(weight.value.data, g, og * k);
            float[] dwg = new float[og * k];
            for (int i = 0; i < n; i++) {
                int yo = (i * outChannels + g * og) * p;
                System.arraycopy(dy.data, yo, dyg, 0, og * p);
                Im2col.im2col(col, x.data, (i * inChannels + g * cg) * h * w, cg, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow);
                // dW_g (og × K) += dy_g (og × P) · col (P × K)
                Gemm.matmulNN(dwTmp, dyg, col, og, p, k);
                for (int j = 0; j < og * k; j++) dwg[j] += dwTmp[j];
                // dcol (P × K) = dy_gᵀ · W_g, then folded back onto dx
                Arrays.fill(dcol, 0f);
                Gemm.matmulTNAcc(dcol, dyg, wg, og, p, k);
                Im2col.col2im(dx.data, (i * inChannels + g * cg) * h * w, dcol, cg, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow);
                if (bias != null) {
                    for (int o = 0; o < og; o++) {
                        double s = 0;
                        for (int j = 0; j < p; j++) s += dyg[o * p + j];
                        bias.grad.data[g * og + o] += (float) s;
                    }
                }
            }
            float[] gw = weight.grad.data;
            for (int j = 0; j < og * k; j++) gw[g * og * k + j] += dwg[j];
        }
        return dx;
    }
}
