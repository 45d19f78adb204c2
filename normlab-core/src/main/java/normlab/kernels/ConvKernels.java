package normlab.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Direct convolution for inference, output channels in vector lanes (a blocked "NCHWc" register tile; input and output
 * stay NCHW). For one sample, one group and one block of output rows, the input rows the block reads are copied into a
 * zero-padded window (C/groups × WR × (W + 2pw), a few KB, so no im2col matrix is built), and every output value is
 * <pre>
 *   y[o, a, b] = f( Σ_blocks ( Σ_{t in block} w[o, t]·xw[base(a, b) + tap(t)] ) + bias[o] )
 *   tap(t) = (c·WR + i·dh)·Wp + j·dw for t = (c·kh + i)·kw + j,  base(a, b) = (a − a0)·sh·Wp + b·sw
 * </pre>
 * with the taps summed in the order of {@link Gemm#multiplyPacked} (depth blocks of ⌈K/⌈K/128⌉⌉, each one fma chain
 * from zero, added to the sum so far), so the result is bit-identical to Conv2d's im2col forward followed by the
 * activation layer. The register tile is 6 output positions × 2 vectors of output channels (12 accumulators, 2 weight
 * loads and 6 broadcasts per tap; fits AVX2's 16 registers), written channels-last into a small per-thread scratch;
 * from there the block goes to NCHW, or through a k×k max-pool first ({@link #pool}). At unit stride the positions
 * are numbered flat over the window (q = r·Wp + b, the row ends computed and dropped), so a tile reads 6 consecutive
 * offsets per tap ({@link #tileFlat}) instead of 6 looked-up bases.
 *
 * <p>Filters are packed once ({@link #packFilters}): per group and block of 2L output channels, tap-major,
 * wp[((g·B + blk)·K + t)·2L + l] = w[g·og + blk·2L + l, t] (zero past og).
 */
public final class ConvKernels {
    private ConvKernels() {}

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Output channels per packed block: two vectors. */
    public static final int OC = 2 * L;
    /** Output positions per register tile. */
    static final int R = 6;
    /** Depth block of {@link Gemm#multiplyPacked}'s cut, so the sums match Conv2d.forward bit for bit. */
    private static final int DEPTH_BLOCK = 128;

    /** Blocks of {@link #OC} output channels per group. */
    public static int blocks(int og) {
        return (og + OC - 1) / OC;
    }

    /** Floats of packed filters for groups × og output channels of depth k. */
    public static int packedSize(int groups, int og, int k) {
        return groups * blocks(og) * k * OC;
    }

    /**
     * wp as in the class comment from w (O × K, row-major); bp[bo + (g·B + blk)·2L + l] = bias (0 without, or past og).
     * bp may be wp with bo past the filters (one workspace).
     */
    public static void packFilters(float[] wp, float[] bp, int bo, float[] w, float[] bias, int groups, int og, int k) {
        int nb = blocks(og);
        java.util.Arrays.fill(wp, 0, packedSize(groups, og, k), 0f);
        java.util.Arrays.fill(bp, bo, bo + groups * nb * OC, 0f);
        for (int g = 0; g < groups; g++) {
            for (int o = 0; o < og; o++) {
                int blk = o / OC, l = o % OC, base = (g * nb + blk) * k * OC + l, src = (g * og + o) * k;
                for (int t = 0; t < k; t++) wp[base + t * OC] = w[src + t];
                if (bias != null) bp[bo + (g * nb + blk) * OC + l] = bias[g * og + o];
            }
        }
    }

    /**
     * The geometry of one inference call: sizes, the block of output rows a work item covers, the window it reads,
     * the tap offsets into the window and each position's base offset. Results depend on nothing here but the sizes.
     */
    public static final class Plan {
        public final int c, h, w, o, groups, cg, og, k, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, pool;
        /** Output rows per item (pool rows when pooling), items per sample and group, window rows and row length. */
        public final int rows, rowBlocks, wr, wp;
        /** Columns and rows of conv output actually computed (all, or those the pool windows use). */
        final int cols, usedRows;
        /**
         * Unit stride: positions are numbered flat over the window's rows, q = r·Wp + b (the Wp − cols positions at a
         * row's end are computed and ignored), so a tile's 6 positions are 6 consecutive window offsets.
         */
        final boolean flat;
        /** Positions per output row in the scratch: Wp when flat, else cols. */
        final int ld;
        final int[] taps, bases;

        public Plan(int c, int h, int w, int o, int groups, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw,
                    int pool) {
            this.c = c;
            this.h = h;
            this.w = w;
            this.o = o;
            this.groups = groups;
            this.cg = c / groups;
            this.og = o / groups;
            this.k = cg * kh * kw;
            this.kh = kh;
            this.kw = kw;
            this.sh = sh;
            this.sw = sw;
            this.ph = ph;
            this.pw = pw;
            this.dh = dh;
            this.dw = dw;
            this.oh = (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1;
            this.ow = (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
            this.pool = pool;
            if (pool > 1) {
                rows = pool;
                usedRows = oh / pool * pool;
                cols = ow / pool * pool;
            } else {
                rows = Math.max(1, Math.min(oh, (4 * R + ow - 1) / ow));
                usedRows = oh;
                cols = ow;
            }
            rowBlocks = (usedRows + rows - 1) / rows;
            wr = (rows - 1) * sh + (kh - 1) * dh + 1;
            wp = w + 2 * pw;
            taps = new int[k];
            for (int ch = 0, t = 0; ch < cg; ch++) {
                for (int i = 0; i < kh; i++) for (int j = 0; j < kw; j++) taps[t++] = (ch * wr + i * dh) * wp + j * dw;
            }
            flat = sh == 1 && sw == 1;
            ld = flat ? wp : cols;
            bases = new int[positions(rows)];
            if (flat) for (int q = 0; q < bases.length; q++) bases[q] = q;
            else for (int r = 0; r < rows; r++) for (int b = 0; b < cols; b++) bases[r * cols + b] = r * sh * wp + b * sw;
        }

        /** Output height and width after the pool (the conv's own when pool ≤ 1). */
        public int outH() {
            return pool > 1 ? oh / pool : oh;
        }

        public int outW() {
            return pool > 1 ? ow / pool : ow;
        }

        /** Positions computed for a block of n output rows (row r at r·ld). */
        int positions(int n) {
            return (n - 1) * ld + cols;
        }

        /** Floats of the per-thread window (R past its end: a flat tile may read there) and scratch. */
        int windowSize() {
            return cg * wr * wp + R;
        }

        int scratchSize() {
            return (rows * ld + R) * OC;
        }
    }

    /** Per-thread workspaces: the padded input window, the channels-last output block, one pooled row. */
    private static final ThreadLocal<float[]> WIN = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> SCR = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> POOLED = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * One work item: output-row block {@code rb} of group g of sample i, output-channel blocks [b0, b1) of the group,
     * written to y (NCHW, pooled when the plan pools); the bias of {@link #packFilters} at bp[bOff ...]. x is the NCHW
     * input. {@code winKey} is the caller's record of
     * which window its thread last built, (sample·groups + g)·rowBlocks + rb (−1 at the start of a task: the
     * workspace is per thread), so consecutive items differing only in channel blocks reuse it.
     */
    public static void item(float[] y, float[] x, float[] wp, float[] bp, int bOff, Plan p, Epilogue f, int i, int g, int rb,
                            int b0, int b1, int[] winKey) {
        float[] win = Kernels.workspace(WIN, p.windowSize()), scr = Kernels.workspace(SCR, p.scratchSize());
        int a0 = rb * p.rows, nRows = Math.min(p.rows, p.usedRows - a0), npos = p.positions(nRows);
        int key = (i * p.groups + g) * p.rowBlocks + rb;
        if (winKey[0] != key) {
            window(win, x, p, i, g, a0);
            winKey[0] = key;
        }
        int nb = blocks(p.og), depthBlocks = (p.k + DEPTH_BLOCK - 1) / DEPTH_BLOCK, kb = (p.k + depthBlocks - 1) / depthBlocks;
        boolean simd = Kernels.simd();
        for (int blk = b0; blk < b1; blk++) {
            int wo = (g * nb + blk) * p.k * OC, bo = bOff + (g * nb + blk) * OC;
            if (simd && p.flat) {
                for (int q = 0; q < npos; q += R) {
                    for (int d0 = 0; d0 < p.k; d0 += kb) {
                        int d1 = Math.min(p.k, d0 + kb), mode = (d0 > 0 ? 1 : 0) | (d1 == p.k ? 2 : 0);
                        tileFlat(scr, q * OC, wp, wo, win, p.taps, d0, d1, q, mode, bp, bo, f);
                    }
                }
            } else if (simd) {
                for (int q = 0; q < npos; q += R) {
                    int[] bs = p.bases;
                    int last = npos - 1;
                    int s0 = bs[q], s1 = bs[Math.min(q + 1, last)], s2 = bs[Math.min(q + 2, last)];
                    int s3 = bs[Math.min(q + 3, last)], s4 = bs[Math.min(q + 4, last)], s5 = bs[Math.min(q + 5, last)];
                    for (int d0 = 0; d0 < p.k; d0 += kb) {
                        int d1 = Math.min(p.k, d0 + kb), mode = (d0 > 0 ? 1 : 0) | (d1 == p.k ? 2 : 0);
                        tile(scr, q * OC, wp, wo, win, p.taps, d0, d1, s0, s1, s2, s3, s4, s5, mode, bp, bo, f);
                    }
                }
            } else {
                scalarBlock(scr, wp, wo, win, p, npos, bp, bo, f);
            }
            int valid = Math.min(OC, p.og - blk * OC), oc0 = g * p.og + blk * OC;
            if (p.pool > 1) pool(y, scr, p, i, oc0, valid, rb);
            else {
                // y[i, oc0 + l, a0 + r, b] = scr[(r·ld + b)·2L + l]: the block's rows are contiguous in each plane
                for (int l = 0; l < valid; l++) {
                    int dst = ((i * p.o + oc0 + l) * p.oh + a0) * p.ow;
                    for (int r = 0; r < nRows; r++) {
                        for (int b = 0; b < p.cols; b++) y[dst + r * p.ow + b] = scr[(r * p.ld + b) * OC + l];
                    }
                }
            }
        }
    }

    /**
     * win[(ch·WR + r)·Wp + pw + xx] = x[i, g·cg + ch, a0·sh − ph + r, xx], zero outside the image (the padding).
     */
    private static void window(float[] win, float[] x, Plan p, int i, int g, int a0) {
        int iy0 = a0 * p.sh - p.ph;
        java.util.Arrays.fill(win, 0, p.windowSize(), 0f);
        for (int ch = 0; ch < p.cg; ch++) {
            int plane = ((i * p.c) + g * p.cg + ch) * p.h * p.w;
            for (int r = 0; r < p.wr; r++) {
                int iy = iy0 + r;
                if (iy < 0 || iy >= p.h) continue;
                System.arraycopy(x, plane + iy * p.w, win, (ch * p.wr + r) * p.wp + p.pw, p.w);
            }
        }
    }

    /**
     * scr[(q + r)·2L + v·L + l] for the 6 positions with window bases s0..s5 over taps [d0, d1): acc = Σ_t
     * xw[s_r + tap(t)]·w[t, v·L + l] as one fma chain from zero; mode bit 0 adds scr's value (an earlier depth block)
     * to it, bit 1 then adds the bias and applies f. Scalar form: {@link #scalarBlock}.
     */
    private static void tile(float[] scr, int so, float[] wp, int wo, float[] xw, int[] taps, int d0, int d1, int s0, int s1,
                             int s2, int s3, int s4, int s5, int mode, float[] bp, int bo, Epilogue f) {
        FloatVector a00 = FloatVector.zero(S), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00;
        FloatVector a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
        for (int t = d0, wt = wo + d0 * OC; t < d1; t++, wt += OC) {
            FloatVector w0 = FloatVector.fromArray(S, wp, wt), w1 = FloatVector.fromArray(S, wp, wt + L);
            int off = taps[t];
            FloatVector v = FloatVector.broadcast(S, xw[s0 + off]);
            a00 = v.fma(w0, a00);
            a01 = v.fma(w1, a01);
            v = FloatVector.broadcast(S, xw[s1 + off]);
            a10 = v.fma(w0, a10);
            a11 = v.fma(w1, a11);
            v = FloatVector.broadcast(S, xw[s2 + off]);
            a20 = v.fma(w0, a20);
            a21 = v.fma(w1, a21);
            v = FloatVector.broadcast(S, xw[s3 + off]);
            a30 = v.fma(w0, a30);
            a31 = v.fma(w1, a31);
            v = FloatVector.broadcast(S, xw[s4 + off]);
            a40 = v.fma(w0, a40);
            a41 = v.fma(w1, a41);
            v = FloatVector.broadcast(S, xw[s5 + off]);
            a50 = v.fma(w0, a50);
            a51 = v.fma(w1, a51);
        }
        // Vector API calls only, one path per mode (a helper taking a vector, or a vector merged from two paths, may be
        // boxed by the JIT)
        if ((mode & 1) == 0) {
            a00.intoArray(scr, so);
            a01.intoArray(scr, so + L);
            a10.intoArray(scr, so + OC);
            a11.intoArray(scr, so + OC + L);
            a20.intoArray(scr, so + 2 * OC);
            a21.intoArray(scr, so + 2 * OC + L);
            a30.intoArray(scr, so + 3 * OC);
            a31.intoArray(scr, so + 3 * OC + L);
            a40.intoArray(scr, so + 4 * OC);
            a41.intoArray(scr, so + 4 * OC + L);
            a50.intoArray(scr, so + 5 * OC);
            a51.intoArray(scr, so + 5 * OC + L);
        } else {
            a00.add(FloatVector.fromArray(S, scr, so)).intoArray(scr, so);
            a01.add(FloatVector.fromArray(S, scr, so + L)).intoArray(scr, so + L);
            a10.add(FloatVector.fromArray(S, scr, so + OC)).intoArray(scr, so + OC);
            a11.add(FloatVector.fromArray(S, scr, so + OC + L)).intoArray(scr, so + OC + L);
            a20.add(FloatVector.fromArray(S, scr, so + 2 * OC)).intoArray(scr, so + 2 * OC);
            a21.add(FloatVector.fromArray(S, scr, so + 2 * OC + L)).intoArray(scr, so + 2 * OC + L);
            a30.add(FloatVector.fromArray(S, scr, so + 3 * OC)).intoArray(scr, so + 3 * OC);
            a31.add(FloatVector.fromArray(S, scr, so + 3 * OC + L)).intoArray(scr, so + 3 * OC + L);
            a40.add(FloatVector.fromArray(S, scr, so + 4 * OC)).intoArray(scr, so + 4 * OC);
            a41.add(FloatVector.fromArray(S, scr, so + 4 * OC + L)).intoArray(scr, so + 4 * OC + L);
            a50.add(FloatVector.fromArray(S, scr, so + 5 * OC)).intoArray(scr, so + 5 * OC);
            a51.add(FloatVector.fromArray(S, scr, so + 5 * OC + L)).intoArray(scr, so + 5 * OC + L);
        }
        if ((mode & 2) != 0) finish(scr, so, R, bp, bo, f);
    }

    /**
     * {@link #tile} for a flat plan: the positions are the window offsets s0 … s0 + 5, so per tap one offset and six
     * loads at constant distances from it (C2 merges their range checks into one pair), no per-position bases.
     */
    private static void tileFlat(float[] scr, int so, float[] wp, int wo, float[] xw, int[] taps, int d0, int d1, int s0,
                                 int mode, float[] bp, int bo, Epilogue f) {
        FloatVector a00 = FloatVector.zero(S), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00;
        FloatVector a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
        for (int t = d0, wt = wo + d0 * OC; t < d1; t++, wt += OC) {
            FloatVector w0 = FloatVector.fromArray(S, wp, wt), w1 = FloatVector.fromArray(S, wp, wt + L);
            int off = s0 + taps[t];
            FloatVector v = FloatVector.broadcast(S, xw[off]);
            a00 = v.fma(w0, a00);
            a01 = v.fma(w1, a01);
            v = FloatVector.broadcast(S, xw[off + 1]);
            a10 = v.fma(w0, a10);
            a11 = v.fma(w1, a11);
            v = FloatVector.broadcast(S, xw[off + 2]);
            a20 = v.fma(w0, a20);
            a21 = v.fma(w1, a21);
            v = FloatVector.broadcast(S, xw[off + 3]);
            a30 = v.fma(w0, a30);
            a31 = v.fma(w1, a31);
            v = FloatVector.broadcast(S, xw[off + 4]);
            a40 = v.fma(w0, a40);
            a41 = v.fma(w1, a41);
            v = FloatVector.broadcast(S, xw[off + 5]);
            a50 = v.fma(w0, a50);
            a51 = v.fma(w1, a51);
        }
        // Vector API calls only, one path per mode (a helper taking a vector, or a vector merged from two paths, may be
        // boxed by the JIT)
        if ((mode & 1) == 0) {
            a00.intoArray(scr, so);
            a01.intoArray(scr, so + L);
            a10.intoArray(scr, so + OC);
            a11.intoArray(scr, so + OC + L);
            a20.intoArray(scr, so + 2 * OC);
            a21.intoArray(scr, so + 2 * OC + L);
            a30.intoArray(scr, so + 3 * OC);
            a31.intoArray(scr, so + 3 * OC + L);
            a40.intoArray(scr, so + 4 * OC);
            a41.intoArray(scr, so + 4 * OC + L);
            a50.intoArray(scr, so + 5 * OC);
            a51.intoArray(scr, so + 5 * OC + L);
        } else {
            a00.add(FloatVector.fromArray(S, scr, so)).intoArray(scr, so);
            a01.add(FloatVector.fromArray(S, scr, so + L)).intoArray(scr, so + L);
            a10.add(FloatVector.fromArray(S, scr, so + OC)).intoArray(scr, so + OC);
            a11.add(FloatVector.fromArray(S, scr, so + OC + L)).intoArray(scr, so + OC + L);
            a20.add(FloatVector.fromArray(S, scr, so + 2 * OC)).intoArray(scr, so + 2 * OC);
            a21.add(FloatVector.fromArray(S, scr, so + 2 * OC + L)).intoArray(scr, so + 2 * OC + L);
            a30.add(FloatVector.fromArray(S, scr, so + 3 * OC)).intoArray(scr, so + 3 * OC);
            a31.add(FloatVector.fromArray(S, scr, so + 3 * OC + L)).intoArray(scr, so + 3 * OC + L);
            a40.add(FloatVector.fromArray(S, scr, so + 4 * OC)).intoArray(scr, so + 4 * OC);
            a41.add(FloatVector.fromArray(S, scr, so + 4 * OC + L)).intoArray(scr, so + 4 * OC + L);
            a50.add(FloatVector.fromArray(S, scr, so + 5 * OC)).intoArray(scr, so + 5 * OC);
            a51.add(FloatVector.fromArray(S, scr, so + 5 * OC + L)).intoArray(scr, so + 5 * OC + L);
        }
        if ((mode & 2) != 0) finish(scr, so, R, bp, bo, f);
    }

    /**
     * The epilogue on the tile just stored (still in L1): scr[q·2L + l] = f(scr[q·2L + l] + bias[l]) for q < rows. One
     * loop per function, each calling its constant, so the JIT inlines apply and no vector is boxed.
     */
    private static void finish(float[] scr, int so, int rows, float[] bp, int bo, Epilogue f) {
        FloatVector b0 = FloatVector.fromArray(S, bp, bo), b1 = FloatVector.fromArray(S, bp, bo + L);
        int end = so + rows * OC;
        switch (f) {
            case IDENTITY -> {
                for (int o = so; o < end; o += OC) {
                    FloatVector.fromArray(S, scr, o).add(b0).intoArray(scr, o);
                    FloatVector.fromArray(S, scr, o + L).add(b1).intoArray(scr, o + L);
                }
            }
            case RELU -> {
                for (int o = so; o < end; o += OC) {
                    Epilogue.RELU.apply(FloatVector.fromArray(S, scr, o).add(b0)).intoArray(scr, o);
                    Epilogue.RELU.apply(FloatVector.fromArray(S, scr, o + L).add(b1)).intoArray(scr, o + L);
                }
            }
            case SIGMOID -> {
                for (int o = so; o < end; o += OC) {
                    Epilogue.SIGMOID.apply(FloatVector.fromArray(S, scr, o).add(b0)).intoArray(scr, o);
                    Epilogue.SIGMOID.apply(FloatVector.fromArray(S, scr, o + L).add(b1)).intoArray(scr, o + L);
                }
            }
            case TANH -> {
                for (int o = so; o < end; o += OC) {
                    Epilogue.TANH.apply(FloatVector.fromArray(S, scr, o).add(b0)).intoArray(scr, o);
                    Epilogue.TANH.apply(FloatVector.fromArray(S, scr, o + L).add(b1)).intoArray(scr, o + L);
                }
            }
        }
    }

    /**
     * Scalar reference of the tiles: scr[q·2L + l] = f(Σ_t w[t, l]·xw[base(q) + tap(t)] + bias[l]), the sum in tap
     * order from zero (as the scalar {@link Gemm#multiplyPacked}).
     */
    private static void scalarBlock(float[] scr, float[] wp, int wo, float[] xw, Plan p, int npos, float[] bp, int bo, Epilogue f) {
        for (int q = 0; q < npos; q++) {
            int base = p.bases[q];
            for (int l = 0; l < OC; l++) {
                float sum = 0f;
                for (int t = 0; t < p.k; t++) sum += wp[wo + t * OC + l] * xw[base + p.taps[t]];
                scr[q * OC + l] = f.apply(sum + bp[bo + l]);
            }
        }
    }

    /**
     * Group g of sample i from a product whose rows are output planes, yw[o·ld + a·OW + b] (o &lt; og): without pool
     * y[i, g·og + o, a, b] = f(yw + bias[g·og + o]); with pool the k×k maximum of those values (row-major window order,
     * first maximum kept, NaN wins). f is applied on vectors along the plane (scalar tail), pooled values one by one.
     */
    public static void epilogueRows(float[] y, float[] yw, int ld, float[] bias, Plan p, Epilogue f, int i, int g) {
        int plane = p.oh * p.ow;
        for (int o = 0; o < p.og; o++) {
            int oc = g * p.og + o, src = o * ld;
            float b = bias == null ? 0f : bias[oc];
            if (p.pool > 1) {
                // f on vectors into the thread's plane workspace, then the windows' maxima
                float[] t = Kernels.workspace(POOLED, plane);
                rowEpilogue(t, 0, yw, src, plane, b, f);
                int k = p.pool, ph = p.oh / k, pwid = p.ow / k, dst = (i * p.o + oc) * ph * pwid;
                for (int a = 0; a < ph; a++) {
                    for (int c = 0; c < pwid; c++) {
                        int s0 = a * k * p.ow + c * k;
                        float best = t[s0];
                        for (int di = 0; di < k; di++) {
                            for (int dj = di == 0 ? 1 : 0; dj < k; dj++) {
                                float v = t[s0 + di * p.ow + dj];
                                if (v > best || v != v && best == best) best = v;
                            }
                        }
                        y[dst + a * pwid + c] = best;
                    }
                }
            } else {
                rowEpilogue(y, (i * p.o + oc) * plane, yw, src, plane, b, f);
            }
        }
    }

    /** y[d + j] = f(src[s + j] + b) for j &lt; len; one loop per function (see {@link #finish}), scalar tail. */
    private static void rowEpilogue(float[] y, int d, float[] src, int s, int len, float b, Epilogue f) {
        int j = 0;
        if (Kernels.simd()) {
            FloatVector bv = FloatVector.broadcast(S, b);
            int end = len / L * L;
            switch (f) {
                case IDENTITY -> {
                    for (; j < end; j += L) FloatVector.fromArray(S, src, s + j).add(bv).intoArray(y, d + j);
                }
                case RELU -> {
                    for (; j < end; j += L) Epilogue.RELU.apply(FloatVector.fromArray(S, src, s + j).add(bv)).intoArray(y, d + j);
                }
                case SIGMOID -> {
                    for (; j < end; j += L) Epilogue.SIGMOID.apply(FloatVector.fromArray(S, src, s + j).add(bv)).intoArray(y, d + j);
                }
                case TANH -> {
                    for (; j < end; j += L) Epilogue.TANH.apply(FloatVector.fromArray(S, src, s + j).add(bv)).intoArray(y, d + j);
                }
            }
        }
        for (; j < len; j++) y[d + j] = f.apply(src[s + j] + b);
    }

    /**
     * Pooled row rb of the block: for each pooled column b and lane l, the maximum over the pool×pool window of the
     * block's positions (row-major order, the first maximum kept, NaN wins: as MaxPool2d), written to
     * y[i, oc0 + l, rb, b]. The windows are pooled lane-wise on whole vectors of the channels-last scratch.
     */
    /**
     * The 2×2 case of {@link #pool}'s vector loop written out (the general loop ran at a quarter of the layer's time in
     * a profile of the small CNN at batch 64): the same compares and blends in the same order, so the same bits and NaNs.
     */
    private static void pool2(float[] out, float[] scr, int pwid, int r1) {
        for (int b = 0; b < pwid; b++) {
            int o = 2 * b * OC;
            FloatVector best = FloatVector.fromArray(S, scr, o);
            FloatVector x = FloatVector.fromArray(S, scr, o + OC);
            best = x.blend(best, x.compare(VectorOperators.LE, best).or(best.compare(VectorOperators.NE, best)));
            x = FloatVector.fromArray(S, scr, o + r1);
            best = x.blend(best, x.compare(VectorOperators.LE, best).or(best.compare(VectorOperators.NE, best)));
            x = FloatVector.fromArray(S, scr, o + r1 + OC);
            best = x.blend(best, x.compare(VectorOperators.LE, best).or(best.compare(VectorOperators.NE, best)));
            best.intoArray(out, b * OC);
            best = FloatVector.fromArray(S, scr, o + L);
            x = FloatVector.fromArray(S, scr, o + OC + L);
            best = x.blend(best, x.compare(VectorOperators.LE, best).or(best.compare(VectorOperators.NE, best)));
            x = FloatVector.fromArray(S, scr, o + r1 + L);
            best = x.blend(best, x.compare(VectorOperators.LE, best).or(best.compare(VectorOperators.NE, best)));
            x = FloatVector.fromArray(S, scr, o + r1 + OC + L);
            best = x.blend(best, x.compare(VectorOperators.LE, best).or(best.compare(VectorOperators.NE, best)));
            best.intoArray(out, b * OC + L);
        }
    }

    private static void pool(float[] y, float[] scr, Plan p, int i, int oc0, int valid, int rb) {
        int k = p.pool, pwid = p.ow / k, ph = p.oh / k;
        float[] out = Kernels.workspace(POOLED, pwid * OC);
        boolean simd = Kernels.simd();
        if (simd && k == 2) {
            pool2(out, scr, pwid, p.ld * OC);
        } else for (int b = 0; b < pwid; b++) {
            if (simd) {
                for (int v = 0; v < OC; v += L) {
                    FloatVector best = FloatVector.fromArray(S, scr, b * k * OC + v);
                    for (int di = 0; di < k; di++) {
                        for (int dj = di == 0 ? 1 : 0; dj < k; dj++) {
                            FloatVector x = FloatVector.fromArray(S, scr, (di * p.ld + b * k + dj) * OC + v);
                            // keep best when x ≤ best or best is NaN; otherwise take x (x > best, or x NaN)
                            VectorMask<Float> keep = x.compare(VectorOperators.LE, best).or(best.compare(VectorOperators.NE, best));
                            best = x.blend(best, keep);
                        }
                    }
                    best.intoArray(out, b * OC + v);
                }
            } else {
                for (int l = 0; l < OC; l++) {
                    float best = scr[b * k * OC + l];
                    for (int di = 0; di < k; di++) {
                        for (int dj = di == 0 ? 1 : 0; dj < k; dj++) {
                            float x = scr[(di * p.ld + b * k + dj) * OC + l];
                            if (x > best || x != x && best == best) best = x;
                        }
                    }
                    out[b * OC + l] = best;
                }
            }
        }
        for (int l = 0; l < valid; l++) {
            int dst = ((i * p.o + oc0 + l) * ph + rb) * pwid;
            for (int b = 0; b < pwid; b++) y[dst + b] = out[b * OC + l];
        }
    }
}
