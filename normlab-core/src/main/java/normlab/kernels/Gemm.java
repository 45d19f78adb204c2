package normlab.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Dense matrix products on flat row-major arrays, the three that Linear and Conv2d (via im2col) need. Outputs first,
 * then inputs, then sizes. {@link Kernels#simd()} off selects the scalar reference loops.
 *
 * <p>The SIMD path is one Vector API register tile for all three, C (+)= A·B with B's rows contiguous (dx = dy·W,
 * dW += dyᵀ·x, and y = x·Wᵀ after transposing W, block by block, into a workspace with vector gathers): 4 rows × 2
 * vectors of accumulators, one broadcast of A and two loads of B per 8 FMAs, no horizontal reductions. Cache blocking:
 * the depth is cut into equal blocks of at most 512 (256 for x·Wᵀ), and within a block the work items are column strips
 * (2 vectors wide) × 64 rows, every 4-row panel of an item reusing the strip's block of B from L1. Each C element is,
 * per depth block, one fma chain in order (c = fma(a, b, c)) added to C; columns that do not fill a vector go through
 * zero-padded workspaces, so there is no scalar tail. Block boundaries depend only on the sizes, and the pool only picks
 * items, so results are identical at any thread count. Why not a native BLAS: see the README's GEMM section (measured).
 */
public final class Gemm {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Per-thread workspaces: Wᵀ in {@link #matmulNT}; B and C padded to whole vectors of columns. */
    private static final ThreadLocal<float[]> WT = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> BP = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> CP = ThreadLocal.withInitial(() -> new float[0]);

    private static float[] workspace(ThreadLocal<float[]> tl, int size) {
        float[] w = tl.get();
        if (w.length < size) {
            w = new float[size];
            tl.set(w);
        }
        return w;
    }

    private static int roundUp(int cols) {
        return (cols + L - 1) / L * L;
    }

    /** Minimum multiply-adds per parallel task. */
    private static final int GRAIN_FLOPS = 1 << 18;

    private Gemm() {}

    /** y[n,m] = Σₖ x[n,k]·w[m,k]  (y = x·Wᵀ; x is N×K, w is M×K, y is N×M; y is overwritten). */
    public static void matmulNT(float[] y, float[] x, float[] w, int n, int k, int m) {
        if (!Kernels.simd()) {
            // y[i,j] = Σ_p x[i,p]·w[j,p]
            for (int i = 0; i < n; i++)
                for (int j = 0; j < m; j++) {
                    float s = 0;
                    for (int p = 0; p < k; p++) s += x[i * k + p] * w[j * k + p];
                    y[i * m + j] = s;
                }
            return;
        }
        if (k >= LONG_DEPTH && m < 2 * L) {
            dots(y, x, w, n, k, m);
            return;
        }
        // Depth block by depth block: Wᵀ's rows p0..p1 (padded to whole vectors) into a reused workspace, then the
        // tile over all of y for those rows. The block of Wᵀ stays in cache while every row panel of x uses it.
        int mp = roundUp(m), nb = Math.max(1, (k + NT_DEPTH_BLOCK - 1) / NT_DEPTH_BLOCK), kb = (k + nb - 1) / nb;
        float[] wt = workspace(WT, kb * mp);
        float[] yp = mp == m ? y : workspace(CP, n * mp);
        for (int p0 = 0; p0 < k; p0 += kb) {
            int p1 = Math.min(k, p0 + kb);
            transposeBlock(wt, w, m, k, mp, p0, p1);
            tiles(yp, x, k, 1, wt, n, mp, p0, p1, -p0 * mp, p0 > 0);
        }
        if (yp != y) for (int i = 0; i < n; i++) System.arraycopy(yp, i * mp, y, i * m, m);
    }

    /** Depth block of {@link #matmulNT}: few output columns, so the strip of Wᵀ is kept small enough for L1. */
    private static final int NT_DEPTH_BLOCK = 256;

    // ---------------------------------------------------------------------------------------------------------------
    // Dot-product tiles for x·Wᵀ with a long depth and fewer output columns than one register strip (Conv2d's dW =
    // dy·colᵀ of a first layer: 32×9 outputs over 50,176 positions, where the transposing path padded 9 columns to 16
    // and ran 196 thin depth blocks at 11 GFLOP/s): both operands run along K contiguously, so nothing is transposed,
    // and the lane sums are few next to the multiply-adds. (On 64×288 over 12,544 both paths run at ~85 GFLOP/s.)

    /** x·Wᵀ takes the dot-product path from this depth on, when m < 2 vectors. */
    private static final int LONG_DEPTH = 4096;
    /** Depth block of the dot-product path: 4 rows of each operand stay in L1, all of x's block in L2. */
    private static final int DOT_BLOCK = 2048;

    /**
     * y[i,j] = Σ_p x[i,p]·w[j,p] by 4×4 tiles: per vector of p, 8 loads and 16 FMAs into 16 lane accumulators. Depth
     * blocks of {@link #DOT_BLOCK} (whole vectors; the scalar tail p ≥ ⌊K/L⌋·L comes last); per block and element the
     * lanes are summed in lane order and added to y (y starts at 0), then the tail in order. Items are 4-row blocks of
     * w, all rows of x each, handed to the pool per depth block; the arithmetic of every element is fixed by the sizes.
     */
    private static void dots(float[] y, float[] x, float[] w, int n, int k, int m) {
        java.util.Arrays.fill(y, 0, n * m, 0f);
        int kv = k / L * L, jBlocks = (m + 3) / 4;
        for (int q0 = 0; q0 < kv; q0 += DOT_BLOCK) {
            int p0 = q0, p1 = Math.min(kv, q0 + DOT_BLOCK);
            long work = (long) n * 4 * (p1 - p0);
            Parallel.forRange(jBlocks, (int) Math.max(1, GRAIN_FLOPS / Math.max(1, work)), (lo, hi) -> {
                float[] lanes = new float[L];
                for (int jb = lo; jb < hi; jb++) {
                    int j0 = 4 * jb, j1 = Math.min(m, j0 + 4), i = 0;
                    if (j1 - j0 == 4) for (; i + 4 <= n; i += 4) dot4x4(y, x, w, i, j0, k, m, p0, p1, lanes);
                    for (; i < n; i++) for (int j = j0; j < j1; j++) dot1(y, x, w, i, j, k, m, p0, p1, lanes);
                }
            });
        }
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < m; j++) {
                float s = y[i * m + j];
                for (int p = kv; p < k; p++) s = Math.fma(x[i * k + p], w[j * k + p], s);
                y[i * m + j] = s;
            }
        }
    }

    /** y[o] += Σ of c's lanes in lane order (a fixed order, whatever the JIT does). */
    private static void addLanes(float[] y, int o, FloatVector c, float[] lanes) {
        c.intoArray(lanes, 0);
        float s = 0f;
        for (int l = 0; l < L; l++) s += lanes[l];
        y[o] += s;
    }

    private static void dot4x4(float[] y, float[] x, float[] w, int i0, int j0, int k, int m, int p0, int p1, float[] lanes) {
        int x0 = i0 * k, x1 = x0 + k, x2 = x1 + k, x3 = x2 + k;
        int w0 = j0 * k, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k;
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        for (int p = p0; p < p1; p += L) {
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
        int o = i0 * m + j0;
        addLanes(y, o, c00, lanes);
        addLanes(y, o + 1, c01, lanes);
        addLanes(y, o + 2, c02, lanes);
        addLanes(y, o + 3, c03, lanes);
        o += m;
        addLanes(y, o, c10, lanes);
        addLanes(y, o + 1, c11, lanes);
        addLanes(y, o + 2, c12, lanes);
        addLanes(y, o + 3, c13, lanes);
        o += m;
        addLanes(y, o, c20, lanes);
        addLanes(y, o + 1, c21, lanes);
        addLanes(y, o + 2, c22, lanes);
        addLanes(y, o + 3, c23, lanes);
        o += m;
        addLanes(y, o, c30, lanes);
        addLanes(y, o + 1, c31, lanes);
        addLanes(y, o + 2, c32, lanes);
        addLanes(y, o + 3, c33, lanes);
    }

    /** One element over [p0, p1): the same lane arithmetic as an element of {@link #dot4x4}. */
    private static void dot1(float[] y, float[] x, float[] w, int i, int j, int k, int m, int p0, int p1, float[] lanes) {
        int xo = i * k, wo = j * k;
        FloatVector c = FloatVector.zero(S);
        for (int p = p0; p < p1; p += L) c = FloatVector.fromArray(S, x, xo + p).fma(FloatVector.fromArray(S, w, wo + p), c);
        addLanes(y, i * m + j, c, lanes);
    }

    /** Gather offsets of one column of w: lane l reads row l (stride k), filled per call size. */
    private static final ThreadLocal<int[]> GATHER = ThreadLocal.withInitial(() -> new int[0]);

    /**
     * wt[(p − p0)·mp + j] = w[j·k + p] for p in [p0, p1), j < m, zero for m ≤ j < mp. Whole vectors of j are gathered
     * (one lane per row of w, consecutive p reading consecutive floats of the same L rows, so the lines stay cached);
     * the last partial vector is scalar.
     */
    private static void transposeBlock(float[] wt, float[] w, int m, int k, int mp, int p0, int p1) {
        int[] idx = GATHER.get();
        if (idx.length != L || idx[1] != k) {
            idx = new int[L];
            for (int l = 0; l < L; l++) idx[l] = l * k;
            GATHER.set(idx);
        }
        int mFull = m / L * L;
        for (int j = 0; j < mFull; j += L) {
            int src = j * k;
            for (int p = p0, o = j; p < p1; p++, o += mp) FloatVector.fromArray(S, w, src + p, idx, 0).intoArray(wt, o);
        }
        for (int p = p0, o = 0; p < p1; p++, o += mp) {
            for (int j = mFull; j < m; j++) wt[o + j] = w[j * k + p];
            for (int j = m; j < mp; j++) wt[o + j] = 0f;
        }
    }

    /** dx[n,k] = Σₘ dy[n,m]·w[m,k]  (dx = dy·W; dy is N×M, w is M×K, dx is N×K; dx is overwritten). */
    public static void matmulNN(float[] dx, float[] dy, float[] w, int n, int m, int k) {
        if (!Kernels.simd()) {
            // dx[i,p] = Σ_j dy[i,j]·w[j,p]
            java.util.Arrays.fill(dx, 0, n * k, 0f);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < m; j++) {
                    float a = dy[i * m + j];
                    for (int p = 0; p < k; p++) dx[i * k + p] += a * w[j * k + p];
                }
            return;
        }
        tiled(dx, dy, m, 1, w, n, k, m, false);
    }

    /** dw[m,k] = Σₙ dy[n,m]·x[n,k]  (dW = dyᵀ·x, overwriting dw; otherwise as {@link #matmulTNAcc}). */
    public static void matmulTN(float[] dw, float[] dy, float[] x, int n, int m, int k) {
        if (!Kernels.simd()) {
            java.util.Arrays.fill(dw, 0, m * k, 0f);
            matmulTNAcc(dw, dy, x, n, m, k);
            return;
        }
        tiled(dw, dy, 1, m, x, m, k, n, false);
    }

    /** dw[m,k] += Σₙ dy[n,m]·x[n,k]  (dW += dyᵀ·x; dy is N×M, x is N×K, dw is M×K). */
    public static void matmulTNAcc(float[] dw, float[] dy, float[] x, int n, int m, int k) {
        if (!Kernels.simd()) {
            // dw[j,p] += Σ_i dy[i,j]·x[i,p]
            for (int j = 0; j < m; j++)
                for (int i = 0; i < n; i++) {
                    float a = dy[i * m + j];
                    for (int p = 0; p < k; p++) dw[j * k + p] += a * x[i * k + p];
                }
            return;
        }
        tiled(dw, dy, 1, m, x, m, k, n, true);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Outer-product tiles: C[M×N] (+)= A·B, A(i,p) = a[i·ars + p·acs], B(p,j) = b[p·N + j], C(i,j) = c[i·N + j].

    /** Depth longer than this is cut into equal blocks, so a block of B's rows for one column strip stays in L1/L2. */
    private static final int MAX_DEPTH_BLOCK = 512;

    private static int depthBlocks(int depth) {
        return Math.max(1, (depth + MAX_DEPTH_BLOCK - 1) / MAX_DEPTH_BLOCK);
    }

    private static void tiled(float[] c, float[] a, int ars, int acs, float[] b, int rows, int cols, int depth,
                              boolean acc) {
        int np = roundUp(cols);
        float[] bp = b, cp = c;
        if (np != cols) {
            // Columns not a whole number of vectors: B and C go through zero-padded workspaces (rows of np), so every
            // column is a vector lane and no scalar tail exists.
            bp = workspace(BP, depth * np);
            for (int p = 0; p < depth; p++) {
                System.arraycopy(b, p * cols, bp, p * np, cols);
                java.util.Arrays.fill(bp, p * np + cols, p * np + np, 0f);
            }
            cp = workspace(CP, rows * np);
            if (acc) for (int i = 0; i < rows; i++) System.arraycopy(c, i * cols, cp, i * np, cols);
        }
        int nb = depthBlocks(depth), kb = (depth + nb - 1) / nb;
        for (int p0 = 0; p0 < depth; p0 += kb) tiles(cp, a, ars, acs, bp, rows, np, p0, Math.min(depth, p0 + kb), 0, acc || p0 > 0);
        if (cp != c) for (int i = 0; i < rows; i++) System.arraycopy(cp, i * np, c, i * cols, cols);
    }

    /** Rows of C per work item (16 panels of 4): with column strips, the unit the pool hands out. */
    private static final int ROWS_PER_ITEM = 64;

    /**
     * C (+)= A·B over depth [p0, p1) for all rows and all np columns (np a multiple of the lane count; B's row p at
     * {@code b[bOff + p·np]}). Work items are (column strip of 2 vectors) × (64 rows); inside one, the strip's block of
     * B is reused by every 4-row panel while it is in L1. Each C element is one fma chain over [p0, p1) in order, added
     * to C when {@code acc}: the same arithmetic whatever the split, hence identical results at any thread count.
     */
    private static void tiles(float[] c, float[] a, int ars, int acs, float[] b, int rows, int np, int p0, int p1, int bOff,
                              boolean acc) {
        int strips = (np + 2 * L - 1) / (2 * L), groups = (rows + ROWS_PER_ITEM - 1) / ROWS_PER_ITEM, items = strips * groups;
        long flopsPerItem = (long) Math.min(rows, ROWS_PER_ITEM) * 2 * L * (p1 - p0);
        Parallel.forRange(items, (int) Math.max(1, GRAIN_FLOPS / Math.max(1, flopsPerItem)), (lo, hi) -> {
            for (int it = lo; it < hi; it++) {
                int g = it / strips, j = (it % strips) * 2 * L, width = Math.min(2 * L, np - j);
                int r0 = g * ROWS_PER_ITEM, r1 = Math.min(rows, r0 + ROWS_PER_ITEM);
                int i = r0;
                for (; i + 4 <= r1; i += 4) tile4(c, a, ars, acs, b, bOff, i, np, j, width, p0, p1, acc);
                for (; i < r1; i++) tile1(c, a, ars, acs, b, bOff, i, np, j, width, p0, p1, acc);
            }
        });
    }

    /** Rows i0..i0+3 of C, columns [j, j + width) (width 2L or L): Σ_{p0 ≤ p < p1} A(i,p)·B(p, ·) in accumulators. */
    private static void tile4(float[] c, float[] a, int ars, int acs, float[] b, int bOff, int i0, int n, int j, int width,
                              int p0, int p1, boolean acc) {
        int a0 = i0 * ars + p0 * acs, a1 = a0 + ars, a2 = a1 + ars, a3 = a2 + ars;
        int bo0 = bOff + p0 * n + j;
        if (width == 2 * L) {
            FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00;
            FloatVector c20 = c00, c21 = c00, c30 = c00, c31 = c00;
            for (int p = p0, bo = bo0, ao = 0; p < p1; p++, bo += n, ao += acs) {
                FloatVector b0 = FloatVector.fromArray(S, b, bo), b1 = FloatVector.fromArray(S, b, bo + L);
                FloatVector v = FloatVector.broadcast(S, a[a0 + ao]);
                c00 = v.fma(b0, c00);
                c01 = v.fma(b1, c01);
                v = FloatVector.broadcast(S, a[a1 + ao]);
                c10 = v.fma(b0, c10);
                c11 = v.fma(b1, c11);
                v = FloatVector.broadcast(S, a[a2 + ao]);
                c20 = v.fma(b0, c20);
                c21 = v.fma(b1, c21);
                v = FloatVector.broadcast(S, a[a3 + ao]);
                c30 = v.fma(b0, c30);
                c31 = v.fma(b1, c31);
            }
            store(c, i0 * n + j, c00, acc);
            store(c, i0 * n + j + L, c01, acc);
            store(c, (i0 + 1) * n + j, c10, acc);
            store(c, (i0 + 1) * n + j + L, c11, acc);
            store(c, (i0 + 2) * n + j, c20, acc);
            store(c, (i0 + 2) * n + j + L, c21, acc);
            store(c, (i0 + 3) * n + j, c30, acc);
            store(c, (i0 + 3) * n + j + L, c31, acc);
        } else {
            FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0;
            for (int p = p0, bo = bo0, ao = 0; p < p1; p++, bo += n, ao += acs) {
                FloatVector b0 = FloatVector.fromArray(S, b, bo);
                c0 = FloatVector.broadcast(S, a[a0 + ao]).fma(b0, c0);
                c1 = FloatVector.broadcast(S, a[a1 + ao]).fma(b0, c1);
                c2 = FloatVector.broadcast(S, a[a2 + ao]).fma(b0, c2);
                c3 = FloatVector.broadcast(S, a[a3 + ao]).fma(b0, c3);
            }
            store(c, i0 * n + j, c0, acc);
            store(c, (i0 + 1) * n + j, c1, acc);
            store(c, (i0 + 2) * n + j, c2, acc);
            store(c, (i0 + 3) * n + j, c3, acc);
        }
    }

    /** One row of C (the last rows when M is not a multiple of 4); same per-element arithmetic as {@link #tile4}. */
    private static void tile1(float[] c, float[] a, int ars, int acs, float[] b, int bOff, int i, int n, int j, int width,
                              int p0, int p1, boolean acc) {
        int a0 = i * ars + p0 * acs;
        for (int jj = j; jj < j + width; jj += L) {
            FloatVector c0 = FloatVector.zero(S);
            for (int p = p0, bo = bOff + p0 * n + jj, ao = 0; p < p1; p++, bo += n, ao += acs) {
                c0 = FloatVector.broadcast(S, a[a0 + ao]).fma(FloatVector.fromArray(S, b, bo), c0);
            }
            store(c, i * n + jj, c0, acc);
        }
    }

    private static void store(float[] c, int o, FloatVector v, boolean acc) {
        if (acc) v = v.add(FloatVector.fromArray(S, c, o));
        v.intoArray(c, o);
    }

}
