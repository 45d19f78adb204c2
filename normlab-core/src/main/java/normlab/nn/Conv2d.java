package normlab.nn;

import java.util.Arrays;
import java.util.List;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import normlab.kernels.ConvKernels;
import normlab.kernels.Epilogue;
import normlab.kernels.Gemm;
import normlab.kernels.Im2col;
import normlab.kernels.Kernels;
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
 * Computed one sample at a time (samples in parallel), per group as im2col ({@link Im2col}) then one GEMM: with the
 * sample's patches col of shape (K, pp), K = (C/groups)·kh·kw and pp = OH·OW rounded up to whole vectors (zero
 * columns past OH·OW), y_g = W_g·col ({@link Gemm#multiplyPacked}, W_g packed once per call). The patches live in a
 * per-thread workspace, so they are written and multiplied while in L2, and backward builds them again instead of
 * keeping N·K·pp floats. Backward per sample: dW_g += dy_g·colᵀ (dy_g packed, colᵀ built from x in channels-last
 * order), dcol = W_gᵀ·dy_g folded back by col2im, db = Σ dy.
 *
 * <p>With SIMD on, two of the three products run on the direct kernel of {@link ConvKernels} instead (issue #20 scope
 * 3, measured in docs/performance.md): the training forward when K is at least one block of output channels (the same
 * sums in the same order, so the same bits as the product above; no patch matrix), and the input gradient at unit
 * stride as a convolution of dy with the flipped, transposed filters (no dcol, no col2im; {@link #inputGradDirect}).
 * dW stays a product over the patches.
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
        int cg = inChannels / groups, og = outChannels / groups, k = cg * kh * kw, p = oh * ow, pp = padded(p);
        // Output in buffer slot 0 (reused when asked, every element written here; 1 = dx)
        Tensor y = outputTensor(0, n, outChannels, oh, ow);
        if (isTraining() && Kernels.simd() && k >= ConvKernels.OC) {
            // Training: the direct kernel (the same sums in the same order as the product below, so the same bits;
            // no K × P patch matrix written and read back): 20-24 % less time for the small CNN's conv2 in a same-JVM
            // A/B (docs/performance.md, issue #20 scope 3). Filters packed per call: they change every step.
            ConvKernels.Plan pl = plan(h, w, 1);
            int wps = ConvKernels.packedSize(groups, og, k);
            float[] wp = Kernels.workspace(WP, wps + groups * ConvKernels.blocks(og) * ConvKernels.OC);
            ConvKernels.packFilters(wp, wp, wps, weight.value.data, bias == null ? null : bias.value.data, groups, og, k);
            direct(y.data, x.data, n, pl, Epilogue.IDENTITY, wp, wp, wps);
            this.x = x;
            return y;
        }
        // W_g packed once for the register kernel, in the calling thread's workspace (concurrent eval forwards share
        // nothing; the pool's workers only read it while this call runs)
        int wps = Gemm.packedSize(og, k);
        float[] wp = isTraining() ? packTraining(wps) : packedEval(wps);
        float[] xd = x.data, yd = y.data, bd = bias == null ? null : bias.value.data;
        // One sample at a time, samples in parallel: its patches (K × pp) are written into a per-thread workspace and
        // multiplied while they are in L2 (backward builds them again rather than keeping N·K·pp floats)
        Parallel.forRange(n, 1, (lo, hi) -> {
            float[] yw = pp == p ? null : Kernels.workspace(YW, og * pp), col = Kernels.workspace(COL, k * pp);
            for (int i = lo; i < hi; i++) {
                for (int g = 0; g < groups; g++) {
                    patches(col, xd, i, g, h, w, oh, ow, pp);
                    int yo = (i * outChannels + g * og) * p;
                    // y[i, g·og + o, ·] = W_g (og × K) · col (K × P) + b
                    if (yw == null) Gemm.multiplyPacked(yd, yo, p, wp, g * wps, og, k, col, 0, pp, pp, false);
                    else Gemm.multiplyPacked(yw, 0, pp, wp, g * wps, og, k, col, 0, pp, pp, false);
                    for (int o = 0; o < og; o++) {
                        float b = bd == null ? 0f : bd[g * og + o];
                        int dst = yo + o * p;
                        if (yw != null) for (int j = 0; j < p; j++) yd[dst + j] = yw[o * pp + j] + b;
                        else if (b != 0f) for (int j = 0; j < p; j++) yd[dst + j] += b;
                    }
                }
            }
        });
        this.x = x;
        return y;
    }

    /** W_g packed for this call in the calling thread's workspace (training: the weights change every step). */
    private float[] packTraining(int wps) {
        int og = outChannels / groups, k = weight.value.numel() / outChannels;
        float[] wp = Kernels.workspace(WP, groups * wps);
        for (int g = 0; g < groups; g++) Gemm.packA(wp, g * wps, weight.value.data, g * og * k, k, 1, og, k);
        return wp;
    }

    /** Derived forms of the weights kept for evaluation, valid while the parameters' versions are unchanged. */
    private record Packed(long weightVersion, long biasVersion, boolean simd, int panelRows, float[] data, float[] bias) {
        boolean current(Parameter weight, Parameter bias, boolean simd) {
            return weightVersion == weight.version() && biasVersion == (bias == null ? 0 : bias.version()) && this.simd == simd
                    && panelRows == Gemm.panelRows();
        }
    }

    /** W_g packed for {@link Gemm#multiplyPacked} (eval forward), and for {@link ConvKernels} (inferInto). */
    private volatile Packed gemmPacked, directPacked;

    /** The eval forward's packed W_g (the same floats the training path packs per call), rebuilt when W changed. */
    private float[] packedEval(int wps) {
        Packed p = gemmPacked;
        if (p == null || !p.current(weight, null, true)) {
            int og = outChannels / groups, k = weight.value.numel() / outChannels;
            float[] wp = new float[groups * wps];
            for (int g = 0; g < groups; g++) Gemm.packA(wp, g * wps, weight.value.data, g * og * k, k, 1, og, k);
            gemmPacked = p = new Packed(weight.version(), 0, true, Gemm.panelRows(), wp, null);
        }
        return p.data;
    }

    /** Filters and bias in {@link ConvKernels}' blocked layout, rebuilt when W or b changed (or the SIMD switch moved). */
    private Packed packedDirect() {
        Packed p = directPacked;
        boolean simd = Kernels.simd();
        if (p == null || !p.current(weight, bias, simd)) {
            int og = outChannels / groups, k = weight.value.numel() / outChannels;
            float[] wp = new float[ConvKernels.packedSize(groups, og, k)], bp = new float[groups * ConvKernels.blocks(og) * ConvKernels.OC];
            ConvKernels.packFilters(wp, bp, 0, weight.value.data, bias == null ? null : bias.value.data, groups, og, k);
            directPacked = p = new Packed(weight.version(), bias == null ? 0 : bias.version(), simd, Gemm.panelRows(), wp, bp);
        }
        return p;
    }

    /**
     * Inference: y = f(conv(x) + bias) for an NCHW input x of n samples of (C, h, w), written to y as NCHW (n, O, OH,
     * OW); the same values as {@code forward} followed by the activation layer f stands for (bit-identical on this
     * machine's SIMD and scalar paths; the tests allow 1e-6), identical at any thread count. Direct convolution
     * ({@link ConvKernels}) with the filters packed once per weight version; nothing is allocated after the first
     * call with a given input size. Work items are (sample, group, block of output rows, half of the output channels
     * when the batch is small), so batch 1 uses every thread too. Does not keep x (no backward).
     */
    public void inferInto(float[] y, float[] x, int n, int h, int w, Epilogue f) {
        inferInto(y, x, n, h, w, f, 1);
    }

    /**
     * {@link #inferInto(float[], float[], int, int, int, Epilogue)} followed by a pool×pool max-pool with stride pool
     * (PyTorch's MaxPool2d(pool): no padding, floor mode) fused in: y is (n, O, ⌊OH/pool⌋, ⌊OW/pool⌋) and the
     * unpooled output is never written out. pool 1 is no pool.
     */
    public void inferInto(float[] y, float[] x, int n, int h, int w, Epilogue f, int pool) {
        if (pool < 1) throw new IllegalArgumentException(label() + ": pool must be >= 1, got " + pool);
        ConvKernels.Plan p = plan(h, w, pool);
        if (p.oh <= 0 || p.ow <= 0 || p.outH() <= 0 || p.outW() <= 0) {
            throw new ShapeException(label() + ": input (" + n + ", " + inChannels + ", " + h + ", " + w
                    + ") is smaller than the dilated kernel" + (pool > 1 ? " and the " + pool + "x" + pool + " pool" : ""));
        }
        long in = (long) n * inChannels * h * w, out = (long) n * outChannels * p.outH() * p.outW();
        if (n < 1 || x.length < in || y.length < out) {
            throw new ShapeException(label() + ": inferInto needs x of at least " + in + " floats and y of at least " + out
                    + " for input (" + n + ", " + inChannels + ", " + h + ", " + w + "), got " + x.length + " and " + y.length);
        }
        if (useGemm(p, n)) {
            inferGemm(y, x, n, h, w, f, p);
            return;
        }
        Packed pk = packedDirect();
        direct(y, x, n, p, f, pk.data(), pk.bias(), 0);
    }

    /**
     * The direct kernel over n samples (filters wp, bias at bp[bo ...]): items are (sample, group, block of output rows,
     * half of the output channels when the batch is small), so batch 1 uses every thread too.
     */
    private void direct(float[] y, float[] x, int n, ConvKernels.Plan p, Epilogue f, float[] wp, float[] bp, int bo) {
        int nb = ConvKernels.blocks(p.og);
        // a small batch also splits the output channels in two, so batch 1 has work for both threads of a 2-core pool
        int chunks = n >= 4 ? 1 : Math.min(2, nb), perSample = groups * p.rowBlocks * chunks;
        long flops = 2L * p.k * p.og * p.rows * p.ow / chunks;
        Parallel.forRange(n * perSample, (int) Math.max(1, (1 << 16) / Math.max(1, flops)), (lo, hi) -> {
            int[] key = {-1};
            for (int it = lo; it < hi; it++) {
                int i = it / perSample, r = it % perSample, g = r / (p.rowBlocks * chunks), rb = r / chunks % p.rowBlocks, ch = r % chunks;
                ConvKernels.item(y, x, wp, bp, bo, p, f, i, g, rb, ch * nb / chunks, (ch + 1) * nb / chunks, key);
            }
        });
    }

    /** Which path {@link #inferInto} takes: 0 chosen per shape ({@link #useGemm}), 1 always direct, 2 always GEMM (tests, benchmarks). */
    private static volatile int inferPath = 0;

    /** Forces {@link #inferInto}'s path: "auto", "direct" or "gemm" (tests and benchmarks); returns the previous one. */
    public static String setInferPath(String path) {
        String old = inferPath == 0 ? "auto" : inferPath == 1 ? "direct" : "gemm";
        inferPath = switch (path) {
            case "auto" -> 0;
            case "direct" -> 1;
            case "gemm" -> 2;
            default -> throw new IllegalArgumentException("infer path must be auto, direct or gemm, got " + path);
        };
        return old;
    }

    /**
     * Whether {@link #inferInto} runs the per-sample im2col + GEMM rather than the direct kernel: for fewer taps than a
     * block of output channels without a fused pool. With the pool the direct kernel wins even there (its pool works on
     * whole vectors and leaves a quarter of the block to move to NCHW, where {@link ConvKernels#epilogueRows} pools
     * plane by plane: 1→32 3×3 on 28×28 + pool 2, 1 thread, 20 vs 80 µs per sample at batch 1 and 64).
     */
    private static boolean useGemm(ConvKernels.Plan p, int n) {
        int mode = inferPath;
        if (mode != 0) return mode == 2;
        return p.k < ConvKernels.OC && p.pool <= 1;
    }

    /**
     * Fewer taps than a block of output channels and no fused pool (a first layer: 1 channel × 3×3): the direct tile
     * would spend more on moving its channels-last block into NCHW than on its 9 multiply-adds, so this runs the eval
     * forward's own
     * per-sample product (im2col, W_g packed once per version, {@link Gemm#multiplyPacked}) into a workspace whose rows
     * are output planes, then y = f(product + b), pooled when asked, straight into NCHW ({@link ConvKernels#epilogueRows}).
     * Samples in parallel; a single sample's product splits its column strips over the pool instead.
     */
    private void inferGemm(float[] y, float[] x, int n, int h, int w, Epilogue f, ConvKernels.Plan p) {
        int og = p.og, k = p.k, pp = padded(p.oh * p.ow), wps = Gemm.packedSize(og, k);
        float[] wp = packedEval(wps), bd = bias == null ? null : bias.value.data;
        Parallel.forRange(n, 1, (lo, hi) -> {
            float[] col = Kernels.workspace(COL, k * pp), yw = Kernels.workspace(YW, og * pp);
            for (int i = lo; i < hi; i++) {
                for (int g = 0; g < groups; g++) {
                    patches(col, x, i, g, h, w, p.oh, p.ow, pp);
                    Gemm.multiplyPacked(yw, 0, pp, wp, g * wps, og, k, col, 0, pp, pp, false);
                    ConvKernels.epilogueRows(y, yw, pp, bd, p, f, i, g);
                }
            }
        });
    }

    /** The last plan, reused while the input size and pool stay the same. */
    private volatile ConvKernels.Plan lastPlan;

    private ConvKernels.Plan plan(int h, int w, int pool) {
        ConvKernels.Plan p = lastPlan;
        if (p == null || p.h != h || p.w != w || p.pool != pool) {
            lastPlan = p = new ConvKernels.Plan(inChannels, h, w, outChannels, groups, kh, kw, sh, sw, ph, pw, dh, dw, pool);
        }
        return p;
    }

    /** col (K × pp) = the patches of group g of sample i: one row per kernel tap, one column per output position, 0 past P. */
    private void patches(float[] col, float[] xd, int i, int g, int h, int w, int oh, int ow, int pp) {
        int cg = inChannels / groups, k = cg * kh * kw, p = oh * ow;
        Im2col.im2col(col, 0, pp, xd, (i * inChannels + g * cg) * h * w, cg, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow);
        if (pp != p) for (int r = 0; r < k; r++) Arrays.fill(col, r * pp + p, (r + 1) * pp, 0f);
    }

    /** Positions per sample rounded up to whole vectors: the patch and product matrices' row length. */
    private static int padded(int p) {
        int l = Gemm.lanes();
        return (p + l - 1) / l * l;
    }

    /** Per-thread workspaces: patches (COL) and transposed patches (COLT), a padded product (YW), dy_g padded (DYP) and packed (DYK), dcol (DCOL). */
    private static final ThreadLocal<float[]> COL = ThreadLocal.withInitial(() -> new float[0]);
    /** The calling thread's packed weights (W_g in forward, W_gᵀ in backward), read by the pool during the call. */
    private static final ThreadLocal<float[]> WP = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> YW = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> DYP = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> DYK = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> COLT = ThreadLocal.withInitial(() -> new float[0]);
    /** One sample's input block transposed to channels last (H·W × C/groups), for {@link Im2col#im2colT}. */
    private static final ThreadLocal<float[]> XT = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> DCOL = ThreadLocal.withInitial(() -> new float[0]);
    /** The flipped, transposed filters W' of {@link #inputGradDirect} (C × og·kh·kw), before packing. */
    private static final ThreadLocal<float[]> WFLIP = ThreadLocal.withInitial(() -> new float[0]);

    /** Fixed number of sample chunks in backward, each with its own dW and db partials (combined in chunk order). */
    private static final int CHUNKS = 8;
    private float[] dwPartials = new float[0];
    private double[] dbPartials = new double[0];

    /**
     * Per sample and group, with dy_g (og × P) used in place or copied into a zero-padded (og × pp) block: dW_g += dy_g ·
     * colᵀ (a chunk's partial; colᵀ rebuilt from x, Im2col.im2colT), dcol = W_gᵀ · dy_g folded back onto dx by
     * col2im, db = row sums of dy_g. Samples run in 8 fixed chunks (boundaries depend on N only), whose partial dW and
     * db are added in chunk order: the result does not depend on the thread count.
     */
    @Override
    public Tensor backward(Tensor dy) {
        requireForward(x, this);
        int n = x.dim(0), h = x.dim(2), w = x.dim(3);
        int oh = outSize(h, kh, sh, ph, dh), ow = outSize(w, kw, sw, pw, dw);
        Tensor.requireShape(label() + " backward", dy, n, outChannels, oh, ow);
        int cg = inChannels / groups, og = outChannels / groups, k = cg * kh * kw, p = oh * ow, pp = padded(p), kp = padded(k);
        boolean inputGrad = !paramsOnly;
        Tensor dx = inputGrad ? outputTensor(1, x.shape()) : null;
        // dx at unit stride: the direct kernel over dy as a convolution with the flipped, transposed filters (below)
        boolean directDx = inputGrad && Kernels.simd() && sh == 1 && sw == 1 && dh * (kh - 1) >= ph && dw * (kw - 1) >= pw
                && og * kh * kw >= ConvKernels.OC;
        if (directDx) inputGradDirect(dx.data, dy.data, n, oh, ow);
        else if (dx != null) Arrays.fill(dx.data, 0f); // col2im accumulates; a reused buffer holds old values
        int chunks = Math.min(CHUNKS, n), part = groups * og * kp;
        if (dwPartials.length < chunks * part) dwPartials = new float[chunks * part];
        if (dbPartials.length < chunks * outChannels) dbPartials = new double[chunks * outChannels];
        float[] dwp = dwPartials;
        double[] dbp = dbPartials;
        // Wᵀ_g (K × og) packed once: A(r, o) = w[g·og·K + o·K + r]
        int wps = Gemm.packedSize(k, og);
        boolean col2im = inputGrad && !directDx;
        float[] wtp = col2im ? Kernels.workspace(WP, groups * wps) : null;
        if (col2im) for (int g = 0; g < groups; g++) Gemm.packA(wtp, g * wps, weight.value.data, g * og * k, 1, k, k, og);
        float[] dyd = dy.data, dxd = col2im ? dx.data : null;
        // dW's partials have K in (i, j, c) order when built from channels-last patches, else (c, i, j). Channels-last
        // patches pay when each tap is a run of at least one vector of channels; with fewer channels per group (a first
        // layer over 1 channel: K = 9) Im2col.im2colT copies one float per (position, tap) and took ~10× the product
        // itself, so those layers take dot products of dy_g with the K × pp patches instead (issue #20 scope 3)
        boolean tapMajor = cg >= Gemm.lanes();
        Parallel.forRange(chunks, 1, (lo, hi) -> {
            float[] dyp = Kernels.workspace(DYP, og * pp), dypk = Kernels.workspace(DYK, Gemm.packedSize(og, pp));
            float[] dcol = col2im ? Kernels.workspace(DCOL, k * pp) : null;
            float[] col = tapMajor ? null : Kernels.workspace(COL, k * pp);
            float[] colt = tapMajor ? Kernels.workspace(COLT, pp * kp) : null, xt = tapMajor ? Kernels.workspace(XT, h * w * cg) : null;
            for (int c = lo; c < hi; c++) {
                Arrays.fill(dwp, c * part, (c + 1) * part, 0f);
                Arrays.fill(dbp, c * outChannels, (c + 1) * outChannels, 0.0);
                for (int i = c * n / chunks, i1 = (c + 1) * n / chunks; i < i1; i++) {
                    for (int g = 0; g < groups; g++) {
                        // dy_g of sample i (og × P, contiguous in dy), copied into a zero-padded (og × pp) block when P is not
                        // a whole number of vectors; its row sums for db
                        float[] g0 = dyd;
                        int go = (i * outChannels + g * og) * p;
                        if (pp != p) {
                            for (int o = 0; o < og; o++) {
                                System.arraycopy(dyd, go + o * p, dyp, o * pp, p);
                                Arrays.fill(dyp, o * pp + p, (o + 1) * pp, 0f);
                            }
                            g0 = dyp;
                            go = 0;
                        }
                        for (int o = 0; o < og; o++) dbp[c * outChannels + g * og + o] += sum(g0, go + o * pp, p);
                        if (!tapMajor) {
                            // fewer channels than one vector (a first layer's 3×3 over one channel): dot products of dy_g
                            // with the rebuilt patches along the positions, nothing transposed or packed
                            patches(col, x.data, i, g, h, w, oh, ow, pp);
                            Gemm.dotsAcc(dwp, c * part + g * og * kp, kp, g0, go, pp, col, 0, pp, og, k, pp);
                        } else {
                            // dW_g (og × kp, taps ordered (i, j, c)) += dy_g (og × pp, packed) · colᵀ (pp × kp), colᵀ built
                            // directly from x in channels-last order (Im2col.im2colT); columns past K and rows past P zero
                            Im2col.im2colT(colt, kp, pp, xt, x.data, (i * inChannels + g * cg) * h * w, cg, h, w, kh, kw,
                                    sh, sw, ph, pw, dh, dw, oh, ow);
                            Gemm.packA(dypk, 0, g0, go, pp, 1, og, pp);
                            Gemm.multiplyPacked(dwp, c * part + g * og * kp, kp, dypk, 0, og, pp, colt, 0, kp, kp, true);
                        }
                        if (dcol == null) continue;
                        // dcol (K × pp) = W_gᵀ (K × og) · dy_g (og × pp), folded back onto sample i's input block
                        Gemm.multiplyPacked(dcol, 0, pp, wtp, g * wps, k, og, g0, go, pp, pp, false);
                        Im2col.col2im(dxd, (i * inChannels + g * cg) * h * w, dcol, 0, pp, cg, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow);
                    }
                }
            }
        });
        addPartials(dwp, dbp, chunks, part, og, kp, k, cg, tapMajor);
        return dx;
    }

    /**
     * dx at unit stride as a direct convolution ({@link ConvKernels}) of dy with the flipped, transposed filters:
     * <pre>
     *   dx[g·cg + c, y, x] = Σ_{o &lt; og} Σ_{i,j} W'[g·cg + c, o, i, j] · dy[g·og + o, y + i·dh − ph', x + j·dw − pw']
     *   W'[g·cg + c, o, i, j] = W[g·og + o, c, kh−1−i, kw−1−j],  ph' = dh·(kh−1) − ph,  pw' = dw·(kw−1) − pw
     * </pre>
     * (substituting i' = kh−1−i gives the usual dx[c, y, x] = Σ W[o, c, i', j']·dy[o, y + ph − i'·dh, x + pw − j'·dw]),
     * an output of size OH + 2ph' − dh(kh−1) = H. No K × P matrix dcol and no col2im pass: for the small CNN's conv2
     * the product plus col2im took ~25 % more time (docs/performance.md). Every dx element is written; the sum order is
     * fixed by the sizes (the kernel's depth blocks over (o, i, j)), so the result is the same at any thread count.
     */
    private void inputGradDirect(float[] dx, float[] dy, int n, int oh, int ow) {
        int cg = inChannels / groups, og = outChannels / groups, kt = kh * kw, kd = og * kt;
        ConvKernels.Plan pl = dxPlan;
        if (pl == null || pl.h != oh || pl.w != ow) {
            dxPlan = pl = new ConvKernels.Plan(outChannels, oh, ow, inChannels, groups, kh, kw, 1, 1, dh * (kh - 1) - ph,
                    dw * (kw - 1) - pw, dh, dw, 1);
        }
        int wps = ConvKernels.packedSize(groups, cg, kd), bs = groups * ConvKernels.blocks(cg) * ConvKernels.OC;
        float[] buf = Kernels.workspace(WP, wps + bs), flip = Kernels.workspace(WFLIP, inChannels * kd), w = weight.value.data;
        // W' (C × og·kh·kw) in flip, then packed into buf[0 .. wps) with zero bias at buf[wps ...]
        for (int g = 0; g < groups; g++) {
            for (int c = 0; c < cg; c++) {
                int dst = (g * cg + c) * kd;
                for (int o = 0; o < og; o++) {
                    int src = ((g * og + o) * cg + c) * kt;
                    for (int t = 0; t < kt; t++) flip[dst + o * kt + t] = w[src + kt - 1 - t];
                }
            }
        }
        ConvKernels.packFilters(buf, buf, wps, flip, null, groups, cg, kd);
        direct(dx, dy, n, pl, Epilogue.IDENTITY, buf, buf, wps);
    }

    /** The plan of {@link #inputGradDirect}, reused while the output size stays the same. */
    private volatile ConvKernels.Plan dxPlan;

    /**
     * Adds the chunks' partials in chunk order: dW[g·og + o, r] += Σ_c dW_c[g][o, r] (r = (ch·kh + i)·kw + j; the
     * partial's column for it is (i·kw + j)·cg + ch when tap-major), db likewise.
     */
    private void addPartials(float[] dwp, double[] dbp, int chunks, int part, int og, int kp, int k, int cg, boolean tapMajor) {
        float[] gw = weight.grad.data;
        int taps = kh * kw;
        for (int c = 0; c < chunks; c++) {
            for (int go = 0; go < groups * og; go++) {
                int src = c * part + go * kp, dst = go * k;
                if (tapMajor) {
                    for (int ch = 0; ch < cg; ch++) for (int t = 0; t < taps; t++) gw[dst + ch * taps + t] += dwp[src + t * cg + ch];
                } else {
                    for (int r = 0; r < k; r++) gw[dst + r] += dwp[src + r];
                }
            }
        }
        if (bias != null) {
            for (int o = 0; o < outChannels; o++) {
                double sb = 0;
                for (int c = 0; c < chunks; c++) sb += dbp[c * outChannels + o];
                bias.grad.data[o] += (float) sb;
            }
        }
    }

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /**
     * Σ a[off .. off+len) in double: whole vectors summed lane-wise in float (a row of one sample, so few terms per
     * lane), the lanes then added in lane order, the tail last; a fixed order whatever the thread count.
     */
    private static double sum(float[] a, int off, int len) {
        int l = S.length(), j = 0;
        double s = 0;
        if (Kernels.simd() && len >= l) {
            FloatVector v = FloatVector.zero(S);
            for (; j + l <= len; j += l) v = v.add(FloatVector.fromArray(S, a, off + j));
            for (int t = 0; t < l; t++) s += v.lane(t);
        }
        for (; j < len; j++) s += a[off + j];
        return s;
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
