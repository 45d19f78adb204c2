package normlab.nn;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import normlab.kernels.Kernels;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * 2-D max pooling as PyTorch's {@code nn.MaxPool2d(kernel, stride=kernel, padding=0)} (dilation 1, ceil_mode off):
 * <pre>
 *   y[n, c, a, b] = max_{i,j} x[n, c, a·sh − ph + i, b·sw − pw + j]   (padding never wins: it is −∞)
 *   OH = ⌊(H + 2ph − kh)/sh⌋ + 1
 * </pre>
 * The first maximum in row-major window order is taken (NaN counts as a maximum, as PyTorch) and its index saved;
 * backward routes each dy to that input position. Padding must be at most half the kernel, as PyTorch requires.
 *
 * <p>Small batches: samples are independent, so batch size 1 and 2 behave like any other.
 */
public final class MaxPool2d extends Pool2d {
    private int[] inShape;
    private int[] argmax; // flat input index per output element

    /** Square window, stride = kernel, no padding. */
    public MaxPool2d(int kernel) {
        this(kernel, kernel, 0);
    }

    public MaxPool2d(int kernel, int stride, int padding) {
        this(new int[] {kernel, kernel}, new int[] {stride, stride}, new int[] {padding, padding});
    }

    /** Each argument is {height, width}. */
    public MaxPool2d(int[] kernel, int[] stride, int[] padding) {
        super("MaxPool2d", kernel, stride, padding);
    }

    @Override
    public Tensor forward(Tensor x) {
        requireRank(x, 4);
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        int oh = (h + 2 * ph - kh) / sh + 1, ow = (w + 2 * pw - kw) / sw + 1;
        if (h + 2 * ph < kh || w + 2 * pw < kw) {
            throw new ShapeException(label() + ": input " + x.shapeString() + " is smaller than the " + kh + "x" + kw + " window");
        }
        Tensor y = outputTensor(0, n, c, oh, ow);
        int[] argmax = reusesOutputs() && this.argmax != null && this.argmax.length == y.numel() ? this.argmax : new int[y.numel()];
        float[] xd = x.data, yd = y.data;
        // Planes are independent: split them over the pool (each writes its own outputs, so any split gives the same bits).
        int planeWork = Math.max(1, oh * ow * kh * kw);
        boolean twoByTwo = twoByTwo();
        int[] offsets = twoByTwo && Kernels.simd() && oh * ow >= L ? windowOffsets(w, oh, ow) : null;
        normlab.kernels.Parallel.forRange(n * c, Math.max(1, (1 << 16) / planeWork), (lo, hi) -> {
            if (offsets != null) pool2x2Vector(xd, yd, argmax, offsets, lo, hi, h, w, oh, ow);
            else if (twoByTwo) pool2x2(xd, yd, argmax, lo, hi, h, w, oh, ow);
            else pool(xd, yd, argmax, lo, hi, h, w, oh, ow);
        });
        // Saved for backward only after y is computed from locals: concurrent eval forwards share no scratch.
        this.argmax = argmax;
        inShape = x.shape();
        return y;
    }

    /** Any window: max over the in-image taps, the first maximum in row-major order winning (NaN beats numbers). */
    private void pool(float[] xd, float[] yd, int[] argmax, int lo, int hi, int h, int w, int oh, int ow) {
        for (int nc = lo; nc < hi; nc++) {
            int plane = nc * h * w;
            for (int a = 0; a < oh; a++) {
                for (int b = 0; b < ow; b++) {
                    float best = Float.NEGATIVE_INFINITY;
                    int arg = -1;
                    for (int i = 0; i < kh; i++) {
                        int iy = a * sh - ph + i;
                        if (iy < 0 || iy >= h) continue;
                        for (int j = 0; j < kw; j++) {
                            int ix = b * sw - pw + j;
                            if (ix < 0 || ix >= w) continue;
                            float v = xd[plane + iy * w + ix];
                            if (arg < 0 || v > best || Float.isNaN(v) && !Float.isNaN(best)) {
                                best = v;
                                arg = plane + iy * w + ix;
                            }
                        }
                    }
                    int o = (nc * oh + a) * ow + b;
                    yd[o] = best;
                    argmax[o] = arg;
                }
            }
        }
    }

    /**
     * The common 2×2 window with stride 2 and no padding, with the same tie and NaN rules as {@link #pool}. Written so the
     * JIT can use conditional moves instead of branches (random data makes every comparison a coin flip): the running
     * maximum is carried as raw bits and the winner's offset as an int, both chosen by selects.
     */
    private static void pool2x2(float[] xd, float[] yd, int[] argmax, int lo, int hi, int h, int w, int oh, int ow) {
        for (int nc = lo; nc < hi; nc++) {
            int plane = nc * h * w;
            for (int a = 0; a < oh; a++) {
                int r0 = plane + 2 * a * w, o = (nc * oh + a) * ow;
                for (int b = 0; b < ow; b++, o++) window2x2(xd, yd, argmax, r0 + 2 * b, w, o);
            }
        }
    }

    /** The common 2×2 window with stride 2 and no padding, which has its own forward and backward paths. */
    private boolean twoByTwo() {
        return kh == 2 && kw == 2 && sh == 2 && sw == 2 && ph == 0 && pw == 0;
    }

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> SI = IntVector.SPECIES_PREFERRED;
    private static final int L = S.length();

    /** Offset of each output's window within a plane, (2a)·w + 2b for output (a, b) in row-major order. */
    private static int[] windowOffsets(int w, int oh, int ow) {
        int[] t = new int[oh * ow];
        for (int a = 0, o = 0; a < oh; a++) for (int b = 0; b < ow; b++, o++) t[o] = 2 * a * w + 2 * b;
        return t;
    }

    /**
     * {@link #pool2x2} on vectors of L consecutive outputs of a plane (across output rows): the four taps of each
     * window gathered through the window-offset table, the same selects (v > best, or v NaN and best not) in the same
     * tap order. The plane's last P mod L outputs go one by one. (Written with compares, one mask or and blends only:
     * mask and/not/cast ran as Java fallbacks on JDK 17, slower than the scalar loop.)
     */
    private static void pool2x2Vector(float[] xd, float[] yd, int[] argmax, int[] offsets, int lo, int hi, int h, int w, int oh, int ow) {
        int po = oh * ow, pv = po / L * L;
        FloatVector off1 = FloatVector.broadcast(S, Float.intBitsToFloat(1)), offW = FloatVector.broadcast(S, Float.intBitsToFloat(w));
        FloatVector offW1 = FloatVector.broadcast(S, Float.intBitsToFloat(w + 1));
        for (int nc = lo; nc < hi; nc++) {
            int plane = nc * h * w, out = nc * po;
            for (int o = 0; o < pv; o += L) {
                // keep = v ≤ best, or best is NaN: the negation of "take" (v > best, or v NaN and best not), formed
                // without mask negation; the winner's offset in its window rides along as float bits (blends copy bits)
                FloatVector best = FloatVector.fromArray(S, xd, plane, offsets, o), off = FloatVector.zero(S);
                FloatVector v = FloatVector.fromArray(S, xd, plane + 1, offsets, o);
                VectorMask<Float> keep = v.compare(VectorOperators.LE, best).or(best.compare(VectorOperators.NE, best));
                best = v.blend(best, keep);
                off = off1.blend(off, keep);
                v = FloatVector.fromArray(S, xd, plane + w, offsets, o);
                keep = v.compare(VectorOperators.LE, best).or(best.compare(VectorOperators.NE, best));
                best = v.blend(best, keep);
                off = offW.blend(off, keep);
                v = FloatVector.fromArray(S, xd, plane + w + 1, offsets, o);
                keep = v.compare(VectorOperators.LE, best).or(best.compare(VectorOperators.NE, best));
                best = v.blend(best, keep);
                off = offW1.blend(off, keep);
                best.intoArray(yd, out + o);
                IntVector.fromArray(SI, offsets, o).add(plane).add(off.reinterpretAsInts()).intoArray(argmax, out + o);
            }
            for (int o = pv; o < po; o++) window2x2(xd, yd, argmax, plane + offsets[o], w, out + o);
        }
    }

    /** One 2×2 window with top-left input index i0 (row length w) into output o, by selects (see {@link #pool2x2}). */
    private static void window2x2(float[] xd, float[] yd, int[] argmax, int i0, int w, int o) {
        int i2 = i0 + w;
        float v0 = xd[i0], v1 = xd[i0 + 1], v2 = xd[i2], v3 = xd[i2 + 1];
        // take v when v > best, or v is NaN and best is not (the first NaN wins and then stays); the choice as 0/1
        // arithmetic, without short-circuit branches
        int bits = Float.floatToRawIntBits(v0), arg = i0;
        float best = v0;
        int t = (v1 > best) | ((v1 != v1) & (best == best)) ? 1 : 0;
        bits += t * (Float.floatToRawIntBits(v1) - bits);
        arg += t * (i0 + 1 - arg);
        best = Float.intBitsToFloat(bits);
        t = (v2 > best) | ((v2 != v2) & (best == best)) ? 1 : 0;
        bits += t * (Float.floatToRawIntBits(v2) - bits);
        arg += t * (i2 - arg);
        best = Float.intBitsToFloat(bits);
        t = (v3 > best) | ((v3 != v3) & (best == best)) ? 1 : 0;
        bits += t * (Float.floatToRawIntBits(v3) - bits);
        arg += t * (i2 + 1 - arg);
        yd[o] = Float.intBitsToFloat(bits);
        argmax[o] = arg;
    }

    /** dx[argmax] += dy. */
    @Override
    public Tensor backward(Tensor dy) {
        requireForward(inShape, this);
        if (dy.numel() != argmax.length || dy.rank() != 4) {
            throw new ShapeException(label() + " backward: got shape " + dy.shapeString() + ", expected " + argmax.length + " elements of rank 4");
        }
        Tensor dx = outputTensor(1, inShape);
        float[] dxd = dx.data, dyd = dy.data;
        int n = inShape[0], c = inShape[1], h = inShape[2], w = inShape[3], oh = (h + 2 * ph - kh) / sh + 1, ow = (w + 2 * pw - kw) / sw + 1;
        if (twoByTwo() && Kernels.simd() && 2 * oh * w >= L) {
            int[] owner = windowOwners(w, oh, ow);
            int[] am = argmax;
            normlab.kernels.Parallel.forRange(n * c, Math.max(1, (1 << 16) / Math.max(1, h * w)), (lo, hi) -> unpool2x2(dxd, dyd, am, owner, lo, hi, h, w, oh * ow));
            return dx;
        }
        java.util.Arrays.fill(dxd, 0f); // a reused buffer holds the last call's values
        for (int o = 0; o < argmax.length; o++) dxd[argmax[o]] += dyd[o];
        return dx;
    }

    /**
     * For the 2×2 path's backward: the output whose window holds input position q of a plane's first 2·OH rows, q / w
     * and q mod w halved (0 for a last odd column, which no window holds and whose argmax test then fails).
     */
    private static int[] windowOwners(int w, int oh, int ow) {
        int[] t = new int[2 * oh * w];
        for (int q = 0; q < t.length; q++) {
            int r = q / w, x = q % w;
            t[q] = x < 2 * ow ? (r / 2) * ow + x / 2 : 0;
        }
        return t;
    }

    /**
     * Backward of the 2×2 path without a zero-fill pass or a scatter: windows do not overlap, so dx[q] = 0 + dy[o] when
     * q is the argmax of the output o whose window holds q, else 0 (the same bits as += onto zeros, −0 included). Per
     * vector of L positions, dy and argmax of their owners are gathered and compared with the positions; blends in the
     * int domain (mask casts ran as the boxed fallback on JDK 17). Rows past 2·OH are zero; a plane's last positions
     * go one by one.
     */
    private static void unpool2x2(float[] dx, float[] dy, int[] argmax, int[] owner, int lo, int hi, int h, int w, int po) {
        int span = owner.length, sv = span / L * L;
        IntVector iota = IntVector.zero(SI).addIndex(1), zero = IntVector.zero(SI);
        FloatVector fz = FloatVector.zero(S);
        for (int nc = lo; nc < hi; nc++) {
            int plane = nc * h * w, out = nc * po;
            for (int q = 0; q < sv; q += L) {
                IntVector at = iota.add(plane + q);
                IntVector won = IntVector.fromArray(SI, argmax, out, owner, q);
                FloatVector g = fz.add(FloatVector.fromArray(S, dy, out, owner, q));
                zero.blend(g.reinterpretAsInts(), won.compare(VectorOperators.EQ, at)).reinterpretAsFloats().intoArray(dx, plane + q);
            }
            for (int q = sv; q < span; q++) {
                int o = out + owner[q];
                dx[plane + q] = argmax[o] == plane + q ? 0f + dy[o] : 0f;
            }
            java.util.Arrays.fill(dx, plane + span, plane + h * w, 0f);
        }
    }
}
