package normlab.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The inference product of a Linear layer for a few rows (batch 1, or up to 8 rows of a long depth: {@link #preferred}): y = f(x·Wᵀ + b) with W (m, k) row-major as
 * the layer stores it, so nothing is packed or transposed: every output is a dot product of two contiguous rows.
 *
 * <p>Register tiles, one vector of depth per step: 4 rows of W × R rows of x (R = 4 with AVX-512's 32 registers, else
 * 2): 4 + R loads and 4·R FMAs into 4·R lane accumulators; a last single x row takes 8 rows of W at a time (8 chains
 * hide the FMA latency). Each accumulator's lanes are then summed by one fixed tree of lane swaps (4
 * accumulators at a time, transposed into one vector: 8 swaps, 8 adds and 3 blends for 4 outputs instead of 4 scalar
 * lane loops), the depth tail k mod L is added in order by scalar FMAs, then the bias, then the {@link Epilogue}
 * while the row is in L1. The arithmetic of one output depends only on its two rows and k, never on the tile it fell
 * in, on the batch or on the thread count (the last block's rows past m repeat row m − 1; the extra results are
 * dropped). Large layers split the rows of W into blocks of 8 across {@link Parallel}'s threads.
 *
 * <p>Needs L ≥ 4 lanes (every SIMD shape of float). {@link Kernels#simd()} off selects the scalar reference loop (float
 * FMAs in order).
 */
public final class Gemv {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Lane swaps of the reduction tree: lane i ↔ lane i XOR d, for d = L/2, L/4, 2 and 1. */
    private static final VectorShuffle<Float> HALF = swap(L / 2), QUART = swap(L / 4), X2 = swap(2), X1 = swap(1);
    /** Lanes taken from the second operand at the two blend levels of the tree: i ≥ L/2, and i mod L/2 ≥ L/4. */
    private static final VectorMask<Float> HIGH = mask(L / 2), QUARTER = mask(L / 4);
    /** Where the 4 sums end up: accumulator 0 in lane 0, 1 in lane L/2, 2 in lane L/4, 3 in lane 3L/4. */
    private static final int LANE1 = L / 2, LANE2 = L / 4, LANE3 = 3 * L / 4;
    /**
     * Whether {@link #linear} beats the cached Wᵀ through {@link Gemm#matmulNTPacked} for n rows of depth k (measured,
     * docs/inference.md "Latency"): each output costs a lane reduction of ~20 cycles besides its k/L FMAs, so only one
     * row, or up to 8 rows of a long depth (784→100: 44 vs 45 µs at 8 rows, 97 vs 96 at 16; 100→100: 8.7 vs 13.7 µs at
     * 1 row, 20 vs 16 at 2).
     */
    public static boolean preferred(int n, int k) {
        return n == 1 || (n <= 8 && k >= 512);
    }
    /** x rows per register tile: 4 when the machine has 32 vector registers (AVX-512, 16 lanes), else 2 (16 registers). */
    private static final int X_ROWS = L >= 16 ? 4 : 2;
    /** Minimum multiply-adds per parallel task. */
    private static final int GRAIN_FLOPS = 1 << 15;
    private static final ThreadLocal<float[]> LANES = ThreadLocal.withInitial(() -> new float[16 * L]);

    private Gemv() {}

    private static VectorShuffle<Float> swap(int d) {
        return VectorShuffle.fromOp(S, i -> d < L ? i ^ d : i);
    }

    private static VectorMask<Float> mask(int bit) {
        boolean[] b = new boolean[L];
        for (int i = 0; i < L; i++) b[i] = (i & bit) != 0;
        return VectorMask.fromArray(S, b, 0);
    }

    /**
     * y[i·ldy + j] = f(b[j] + Σ_p x[i·ldx + p]·w[j·k + p]) for i &lt; n, j &lt; m (b null: no bias). Any n works; it is
     * meant for the n that {@link #preferred} accepts.
     */
    public static void linear(float[] y, int ldy, float[] x, int ldx, float[] w, float[] b, int n, int k, int m, Epilogue f) {
        if (n <= 0 || m <= 0) return;
        if (!Kernels.simd()) {
            // y[i,j] = f(b[j] + Σ_p x[i,p]·w[j,p]), the sum in order
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < m; j++) {
                    float s = 0f;
                    for (int p = 0; p < k; p++) s = Math.fma(x[i * ldx + p], w[j * k + p], s);
                    y[i * ldy + j] = f.apply(b == null ? s : s + b[j]);
                }
            }
            return;
        }
        // blocks of 8 rows of W: one x row takes them 8 at a time (8 chains hide the FMA latency), several x rows 4 at a time
        int blocks = (m + 7) / 8;
        long flopsPerBlock = 8L * n * Math.max(k, 1);
        Parallel.forRange(blocks, (int) Math.max(1, GRAIN_FLOPS / flopsPerBlock), (lo, hi) -> {
            float[] lanes = LANES.get();
            for (int blk = lo; blk < hi; blk++) {
                int j0 = 8 * blk, i = 0;
                if (X_ROWS == 4) {
                    for (; i + 4 <= n; i += 4) {
                        dots4x4(y, ldy, x, ldx, i, w, k, m, j0, lanes);
                        if (j0 + 4 < m) dots4x4(y, ldy, x, ldx, i, w, k, m, j0 + 4, lanes);
                    }
                }
                for (; i + 2 <= n; i += 2) {
                    dots4x2(y, ldy, x, ldx, i, w, k, m, j0, lanes);
                    if (j0 + 4 < m) dots4x2(y, ldy, x, ldx, i, w, k, m, j0 + 4, lanes);
                }
                if (i < n) dots8x1(y, ldy, x, ldx, i, w, k, m, j0, lanes);
            }
            int j0 = 8 * lo, j1 = Math.min(m, 8 * hi);
            for (int r = 0; r < n; r++) epilogue(y, r * ldy + j0, b, j0, j1 - j0, f);
        });
    }

    /** y[o + t] = f(y[o + t] + b[bo + t]) for t &lt; len (b null: f(y)), vector lanes and a scalar tail alike. */
    public static void epilogue(float[] y, int o, float[] b, int bo, int len, Epilogue f) {
        if (b == null && f == Epilogue.IDENTITY) return;
        int t = 0;
        if (Kernels.simd()) {
            // y = f(y + b)
            for (int bound = S.loopBound(len); t < bound; t += L) {
                FloatVector v = FloatVector.fromArray(S, y, o + t);
                if (b != null) v = v.add(FloatVector.fromArray(S, b, bo + t));
                f.apply(v).intoArray(y, o + t);
            }
        }
        for (; t < len; t++) y[o + t] = f.apply(b == null ? y[o + t] : y[o + t] + b[bo + t]);
    }

    /** Row j of W, or the last row for the padding rows of the final block. */
    private static int row(int j, int m, int k) {
        return Math.min(j, m - 1) * k;
    }

    /**
     * The lane sums of the 4 vectors at lanes[o], lanes[o + L], lanes[o + 2L], lanes[o + 3L] (accumulators a, b, c, d
     * stored by the caller) by one fixed tree: each lane i of each plus lane i XOR L/2; a and b side by side in one
     * vector (b in the upper half), c and d in another; each plus itself with lanes XOR L/4 swapped; the two side by
     * side again (c and d in the lanes whose bit L/4 is set); then swaps of L/8, …, 1. The results: a's sum in lane 0,
     * c's in L/4, b's in L/2, d's in 3L/4 of lanes[o…o+L). Each of the four is summed over the same pairs in the same
     * order (float + is commutative), so the tile position never changes a result. Vectors go through the array, not
     * through arguments: a helper taking vectors could be left out of line by C2 and box them.
     */
    private static void reduce4(float[] lanes, int o) {
        FloatVector a = FloatVector.fromArray(S, lanes, o), b = FloatVector.fromArray(S, lanes, o + L);
        FloatVector c = FloatVector.fromArray(S, lanes, o + 2 * L), d = FloatVector.fromArray(S, lanes, o + 3 * L);
        a = a.add(a.rearrange(HALF));
        b = b.add(b.rearrange(HALF));
        c = c.add(c.rearrange(HALF));
        d = d.add(d.rearrange(HALF));
        FloatVector ab = a.blend(b, HIGH), cd = c.blend(d, HIGH);
        ab = ab.add(ab.rearrange(QUART));
        cd = cd.add(cd.rearrange(QUART));
        FloatVector v = ab.blend(cd, QUARTER);
        if (L >= 16) v = v.add(v.rearrange(X2));
        if (L >= 8) v = v.add(v.rearrange(X1));
        v.intoArray(lanes, o);
    }

    /**
     * The finished sums of one x row and the 4 W rows j0…j0+3 whose accumulators are at lanes[o…o+4L): the tree
     * ({@link #reduce4}), then the depth tail p ≥ ⌊k/L⌋·L in order, stored raw to y (bias and f come later); rows ≥ m
     * (the padding of the last block) are dropped.
     */
    private static void finish(float[] y, int yo, float[] x, int xo, float[] w, int k, int m, int j0, float[] lanes, int o) {
        reduce4(lanes, o);
        int kv = k / L * L;
        for (int t = 0; t < 4 && j0 + t < m; t++) {
            float s = lanes[o + (t == 0 ? 0 : t == 1 ? LANE1 : t == 2 ? LANE2 : LANE3)];
            int wo = row(j0 + t, m, k);
            // s += Σ_{p ≥ kv} x[p]·w[p], in order
            for (int p = kv; p < k; p++) s = Math.fma(x[xo + p], w[wo + p], s);
            y[yo + j0 + t] = s;
        }
    }

    /**
     * Raw sums of x row i and W rows j0…j0+7: 8 accumulators (8 independent FMA chains, enough to hide the latency), 9
     * loads per 8 FMAs (see the class comment); rows ≥ m are dropped.
     */
    private static void dots8x1(float[] y, int ldy, float[] x, int ldx, int i, float[] w, int k, int m, int j0, float[] lanes) {
        int w0 = row(j0, m, k), w1 = row(j0 + 1, m, k), w2 = row(j0 + 2, m, k), w3 = row(j0 + 3, m, k);
        int w4 = row(j0 + 4, m, k), w5 = row(j0 + 5, m, k), w6 = row(j0 + 6, m, k), w7 = row(j0 + 7, m, k), x0 = i * ldx;
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
        // c_t[l] = Σ_{p ≡ l mod L, p < kv} x[i, p]·w[j0 + t, p]
        for (int p = 0, kv = k / L * L; p < kv; p += L) {
            FloatVector a = FloatVector.fromArray(S, x, x0 + p);
            c0 = a.fma(FloatVector.fromArray(S, w, w0 + p), c0);
            c1 = a.fma(FloatVector.fromArray(S, w, w1 + p), c1);
            c2 = a.fma(FloatVector.fromArray(S, w, w2 + p), c2);
            c3 = a.fma(FloatVector.fromArray(S, w, w3 + p), c3);
            c4 = a.fma(FloatVector.fromArray(S, w, w4 + p), c4);
            c5 = a.fma(FloatVector.fromArray(S, w, w5 + p), c5);
            c6 = a.fma(FloatVector.fromArray(S, w, w6 + p), c6);
            c7 = a.fma(FloatVector.fromArray(S, w, w7 + p), c7);
        }
        c0.intoArray(lanes, 0);
        c1.intoArray(lanes, L);
        c2.intoArray(lanes, 2 * L);
        c3.intoArray(lanes, 3 * L);
        c4.intoArray(lanes, 4 * L);
        c5.intoArray(lanes, 5 * L);
        c6.intoArray(lanes, 6 * L);
        c7.intoArray(lanes, 7 * L);
        finish(y, i * ldy, x, x0, w, k, m, j0, lanes, 0);
        if (j0 + 4 < m) finish(y, i * ldy, x, x0, w, k, m, j0 + 4, lanes, 4 * L);
    }

    /** {@link #dots8x1} for 4 rows of W and x rows i, i+1: 8 accumulators, 6 loads per 8 FMAs. */
    private static void dots4x2(float[] y, int ldy, float[] x, int ldx, int i, float[] w, int k, int m, int j0, float[] lanes) {
        int w0 = row(j0, m, k), w1 = row(j0 + 1, m, k), w2 = row(j0 + 2, m, k), w3 = row(j0 + 3, m, k);
        int x0 = i * ldx, x1 = x0 + ldx;
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        for (int p = 0, kv = k / L * L; p < kv; p += L) {
            FloatVector b0 = FloatVector.fromArray(S, w, w0 + p), b1 = FloatVector.fromArray(S, w, w1 + p);
            FloatVector b2 = FloatVector.fromArray(S, w, w2 + p), b3 = FloatVector.fromArray(S, w, w3 + p);
            FloatVector a = FloatVector.fromArray(S, x, x0 + p);
            c00 = a.fma(b0, c00);
            c01 = a.fma(b1, c01);
            c02 = a.fma(b2, c02);
            c03 = a.fma(b3, c03);
            a = FloatVector.fromArray(S, x, x1 + p);
            c10 = a.fma(b0, c10);
            c11 = a.fma(b1, c11);
            c12 = a.fma(b2, c12);
            c13 = a.fma(b3, c13);
        }
        c00.intoArray(lanes, 0);
        c01.intoArray(lanes, L);
        c02.intoArray(lanes, 2 * L);
        c03.intoArray(lanes, 3 * L);
        c10.intoArray(lanes, 4 * L);
        c11.intoArray(lanes, 5 * L);
        c12.intoArray(lanes, 6 * L);
        c13.intoArray(lanes, 7 * L);
        finish(y, i * ldy, x, x0, w, k, m, j0, lanes, 0);
        finish(y, (i + 1) * ldy, x, x1, w, k, m, j0, lanes, 4 * L);
    }

    /** {@link #dots4x2} for x rows i…i+3: 16 accumulators, 8 loads per 16 FMAs (only with 32 vector registers, AVX-512). */
    private static void dots4x4(float[] y, int ldy, float[] x, int ldx, int i, float[] w, int k, int m, int j0, float[] lanes) {
        int w0 = row(j0, m, k), w1 = row(j0 + 1, m, k), w2 = row(j0 + 2, m, k), w3 = row(j0 + 3, m, k);
        int x0 = i * ldx, x1 = x0 + ldx, x2 = x1 + ldx, x3 = x2 + ldx;
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        for (int p = 0, kv = k / L * L; p < kv; p += L) {
            FloatVector b0 = FloatVector.fromArray(S, w, w0 + p), b1 = FloatVector.fromArray(S, w, w1 + p);
            FloatVector b2 = FloatVector.fromArray(S, w, w2 + p), b3 = FloatVector.fromArray(S, w, w3 + p);
            FloatVector a = FloatVector.fromArray(S, x, x0 + p);
            c00 = a.fma(b0, c00);
            c01 = a.fma(b1, c01);
            c02 = a.fma(b2, c02);
            c03 = a.fma(b3, c03);
            a = FloatVector.fromArray(S, x, x1 + p);
            c10 = a.fma(b0, c10);
            c11 = a.fma(b1, c11);
            c12 = a.fma(b2, c12);
            c13 = a.fma(b3, c13);
            a = FloatVector.fromArray(S, x, x2 + p);
            c20 = a.fma(b0, c20);
            c21 = a.fma(b1, c21);
            c22 = a.fma(b2, c22);
            c23 = a.fma(b3, c23);
            a = FloatVector.fromArray(S, x, x3 + p);
            c30 = a.fma(b0, c30);
            c31 = a.fma(b1, c31);
            c32 = a.fma(b2, c32);
            c33 = a.fma(b3, c33);
        }
        c00.intoArray(lanes, 0);
        c01.intoArray(lanes, L);
        c02.intoArray(lanes, 2 * L);
        c03.intoArray(lanes, 3 * L);
        c10.intoArray(lanes, 4 * L);
        c11.intoArray(lanes, 5 * L);
        c12.intoArray(lanes, 6 * L);
        c13.intoArray(lanes, 7 * L);
        c20.intoArray(lanes, 8 * L);
        c21.intoArray(lanes, 9 * L);
        c22.intoArray(lanes, 10 * L);
        c23.intoArray(lanes, 11 * L);
        c30.intoArray(lanes, 12 * L);
        c31.intoArray(lanes, 13 * L);
        c32.intoArray(lanes, 14 * L);
        c33.intoArray(lanes, 15 * L);
        finish(y, i * ldy, x, x0, w, k, m, j0, lanes, 0);
        finish(y, (i + 1) * ldy, x, x1, w, k, m, j0, lanes, 4 * L);
        finish(y, (i + 2) * ldy, x, x2, w, k, m, j0, lanes, 8 * L);
        finish(y, (i + 3) * ldy, x, x3, w, k, m, j0, lanes, 12 * L);
    }
}
