package normlab.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Dense matrix products on flat row-major arrays, the three that Linear and Conv2d (via im2col) need. Outputs first,
 * then inputs, then sizes. {@link Kernels#simd()} off selects the scalar reference loops.
 *
 * <p>The SIMD path is one Vector API register panel for all three, C (+)= A·B with B's rows contiguous (dx = dy·W,
 * dW += dyᵀ·x, and y = x·Wᵀ after transposing W, block by block, into a workspace with vector gathers): {@link #panelRows()}
 * rows × 2 vectors of accumulators, the rows chosen once from the register file (8 with AVX-512's 32 registers: 16
 * accumulators; 6 with AVX2's 16: 12), one broadcast of A per row and two loads of B per step, no horizontal
 * reductions. A is packed per depth block into panels of that many rows (consecutive floats per depth step; a
 * row-major A by gathers; x·Wᵀ with a cached Wᵀ and 6-row panels reads x in place, with its own 4-row × 3-vector tile:
 * {@link #rowMajorTiles4}). Cache blocking: the depth is cut into
 * equal blocks of at most 512 (256 for x·Wᵀ, 128 inside {@link #multiplyPacked}), and the work items are column strips
 * (2 vectors wide; the last 3 when the count is odd, 1 when it is 1) × 64 rows, every panel of an item reusing the strip's block of B from L1. Each C element is, per
 * depth block, one fma chain in order (c = fma(a, b, c)) added to C; columns that do not fill a vector go through
 * zero-padded workspaces, so there is no scalar tail. Block boundaries depend only on the sizes, and the pool only picks
 * items, so results are identical at any thread count. Why not a native BLAS: see the README's GEMM section (measured).
 * x·Wᵀ with at most 256 rows of x (a training batch) runs as yᵀ = W·xᵀ instead ({@link #fewRows}), with the same
 * depth blocks and therefore the same bits.
 *
 * <p>{@link #packA}, {@link #multiplyPacked} and {@link #transpose} are the same pieces for
 * callers that run many small products with their own strides (Conv2d, one sample at a time).
 */
public final class Gemm {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Per-thread workspaces: Wᵀ in {@link #matmulNT}; B and C padded to whole vectors of columns. */
    private static final ThreadLocal<float[]> WT = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> BP = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> CP = ThreadLocal.withInitial(() -> new float[0]);

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
        if (n == 0 || m == 0) return;
        if (k == 0) {
            java.util.Arrays.fill(y, 0, n * m, 0f);
            return;
        }
        if (k >= LONG_DEPTH && m < 2 * L) {
            dots(y, x, w, n, k, m);
            return;
        }
        if (n <= FEW_ROWS) {
            fewRows(y, x, w, n, k, m);
            return;
        }
        // Depth block by depth block: Wᵀ's rows p0..p1 (padded to whole vectors) into a reused workspace, then the
        // tile over all of y for those rows. The block of Wᵀ stays in cache while every row panel of x uses it.
        int mp = roundUp(m), kb = equalBlock(k, NT_DEPTH_BLOCK);
        float[] wt = Kernels.workspace(WT, kb * mp);
        float[] yp = mp == m ? y : Kernels.workspace(CP, n * mp);
        for (int p0 = 0; p0 < k; p0 += kb) {
            int p1 = Math.min(k, p0 + kb);
            transposeBlock(wt, w, m, k, mp, p0, p1);
            tiles(yp, x, k, 1, wt, n, mp, p0, p1, -p0 * mp, p0 > 0);
        }
        if (yp != y) for (int i = 0; i < n; i++) System.arraycopy(yp, i * mp, y, i * m, m);
    }

    /** Depth block of {@link #matmulNT}: few output columns, so the strip of Wᵀ is kept small enough for L1. */
    private static final int NT_DEPTH_BLOCK = 256;

    /**
     * Wᵀ for {@link #matmulNTPacked}: wt[p·mp + j] = w[j·k + p], zero for m ≤ j &lt; mp (m rounded up to whole vectors).
     * What {@link #matmulNT} builds block by block on every call, built once by a caller that keeps it (an eval-mode
     * Linear).
     */
    public static float[] packNT(float[] w, int k, int m) {
        int mp = roundUp(m);
        float[] wt = new float[k * mp];
        transpose(wt, 0, mp, w, 0, k, m, k);
        return wt;
    }

    /**
     * y = x·Wᵀ as {@link #matmulNT}, bit for bit, with Wᵀ from {@link #packNT} (no transposing per call): the same depth
     * blocks through the same tiles. {@code w} serves the shapes that never use Wᵀ (the dot-product path, SIMD off).
     */
    public static void matmulNTPacked(float[] y, float[] x, float[] wt, float[] w, int n, int k, int m) {
        if (!Kernels.simd() || n == 0 || m == 0 || k == 0 || (k >= LONG_DEPTH && m < 2 * L)) {
            matmulNT(y, x, w, n, k, m);
            return;
        }
        int mp = roundUp(m), kb = equalBlock(k, NT_DEPTH_BLOCK);
        float[] yp = mp == m ? y : Kernels.workspace(CP, n * mp);
        if (PR == 6 && rowMajorA) rowMajorTiles4(yp, x, k, wt, n, mp, kb);
        else for (int p0 = 0; p0 < k; p0 += kb) tiles(yp, x, k, 1, wt, n, mp, p0, Math.min(k, p0 + kb), 0, p0 > 0);
        if (yp != y) for (int i = 0; i < n; i++) System.arraycopy(yp, i * mp, y, i * m, m);
    }

    private static volatile boolean rowMajorA = true;

    /** Whether {@link #matmulNTPacked} reads x in place (AVX2's 4-row tiles) rather than packing it; for A/B benchmarks. */
    public static boolean setRowMajorA(boolean on) {
        boolean old = rowMajorA;
        rowMajorA = on;
        return old;
    }

    /** Rows per register panel of {@link #matmulNTPacked} (the eval x·Wᵀ): a batch cut on multiples of it wastes no panel rows. */
    public static int evalPanelRows() {
        return PR == 6 && rowMajorA ? 4 : PR;
    }

    /** The valid rows of a last, partial panel of {@link #rowMajorTiles4}, copied for one depth block (rows kb apart). */
    private static final ThreadLocal<float[]> XS = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * {@link #tiles} for a row-major A (x, rows k apart) on 6-row (AVX2) machines, without packing A: the register
     * kernels broadcast straight from the rows of x (packing x was 14 % of the MLP's batch-64 inference in a profile).
     * A 4-row × 3-vector tile ({@link #panel4x3r}: 12 accumulators, as 6 × 2, but 4 broadcasts + 3 loads of B per 12
     * FMAs instead of 6 + 2, and 4 streams of x instead of 6; 14–24 % faster than 6 × 2 panels on x in place in
     * same-JVM A/Bs, docs/inference.md round 4): strips of 3 vectors, a last strip of 2 vectors 4 × 2, of 1 vector 8
     * rows × 1 (a 4 × 1 tile has too few chains to hide the FMA latency; 2 + 2 for 100 columns ran its 4 of 13 vectors
     * ~40 % slower per flop than the 4 × 3 strips in a profile). Items are strips × 48 rows. The same depth blocks
     * (outer blocks of kbo, inner ones of at most {@link #PACKED_DEPTH_BLOCK}) and fma chains as {@link #tiles} +
     * {@link #multiplyPacked}, so the same bits as {@link #matmulNT}, but all outer blocks inside one item: one parallel
     * region per product instead of one per outer block (each a hand-off that, on a loaded 2-vCPU machine, can wait for
     * a core). A last panel of fewer than 4 rows runs on a copy of its rows into the scratch tile, then its valid rows
     * are added to C.
     */
    private static void rowMajorTiles4(float[] c, float[] x, int k, float[] b, int rows, int np, int kbo) {
        int vecs = np / L, strips3 = vecs / 3, rest = vecs - 3 * strips3, strips = strips3 + (rest > 0 ? 1 : 0);
        int groupRows = 48, groups = (rows + groupRows - 1) / groupRows, items = strips * groups;
        long flopsPerItem = (long) Math.min(rows, groupRows) * 2 * L * k;
        Parallel.forRange(items, (int) Math.max(1, GRAIN_FLOPS / Math.max(1, flopsPerItem)), (lo, hi) -> {
            float[] ct = CT.get();
            for (int it = lo; it < hi; it++) {
                int st = it % strips, g = it / strips, j = st * 3 * L, width = Math.min(3 * L, np - j);
                // a last strip of one vector takes 8 rows per panel (8 accumulators), the others 4
                int pr = width == L ? 8 : 4, r1 = Math.min(rows, (g + 1) * groupRows);
                for (int p0 = 0; p0 < k; p0 += kbo) {
                    int depth = Math.min(k, p0 + kbo) - p0, kb = equalBlock(depth, PACKED_DEPTH_BLOCK);
                    for (int d0 = 0; d0 < depth; d0 += kb) {
                        int d1 = Math.min(depth, d0 + kb), kd = d1 - d0, bo = (p0 + d0) * np + j;
                        boolean add = p0 > 0 || d0 > 0;
                        for (int i0 = g * groupRows; i0 < r1; i0 += pr) {
                            int valid = Math.min(pr, rows - i0);
                            float[] a = x, cc = c;
                            int xo = i0 * k + p0 + d0, lda = k, co = i0 * np + j, ldc = np;
                            if (valid < pr) {
                                a = Kernels.workspace(XS, pr * kd);
                                for (int r = 0; r < pr; r++) {
                                    if (r < valid) System.arraycopy(x, xo + r * k, a, r * kd, kd);
                                    else java.util.Arrays.fill(a, r * kd, (r + 1) * kd, 0f);
                                }
                                xo = 0;
                                lda = kd;
                                cc = ct;
                                co = 0;
                                ldc = 3 * L;
                            }
                            boolean ad = valid == pr && add;
                            if (width == 3 * L) panel4x3r(cc, co, ldc, a, xo, lda, b, bo, np, kd, ad);
                            else if (width == 2 * L) panel4x2r(cc, co, ldc, a, xo, lda, b, bo, np, kd, ad);
                            else panel8x1(cc, co, ldc, a, xo, lda, 1, b, bo, np, kd, ad);
                            if (valid < pr) addRows(c, i0 * np + j, np, ct, valid, width, add);
                        }
                    }
                }
            }
        });
    }

    // ---------------------------------------------------------------------------------------------------------------
    // x·Wᵀ for a few rows of x (a training batch: 60×784 times 100×784ᵀ in the paper's MLP) as yᵀ = W·xᵀ. Transposing
    // the batch (n·k floats) instead of W (m·k) moves fewer floats, and W's rows are then read in place as the
    // broadcast operand, with no packing. Up to FEW_ROWS rows it beats the general tiles (same bits); above, the general
    // tiles win (measurements: normlab-bench/README.md, "GEMM").

    /** x·Wᵀ takes the yᵀ = W·xᵀ path up to this many rows of x. */
    private static final int FEW_ROWS = 256;
    /**
     * Columns of yᵀ per register strip: 4 vectors, 5 rows of W × 4 vectors = 20 accumulators. On AVX2 (16 registers)
     * that spills, yet a 6 × 2 tile (12 accumulators) measured 2-4 % slower on 60×784×100 (same-JVM A/B, same bits), so
     * this path keeps one shape.
     */
    private static final int STRIP = 4 * L;
    /** Per-thread workspaces of {@link #fewRows}: xᵀ and yᵀ, rows padded to whole strips; L rows of x, zero padded. */
    private static final ThreadLocal<float[]> XT = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> YT = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> XTAIL = ThreadLocal.withInitial(() -> new float[0]);

    /**
     * y = x·Wᵀ as yᵀ[j, i] = Σ_p w[j, p]·xᵀ[p, i]: xᵀ (k × np, np = n rounded up to whole strips, zero columns past n,
     * rows np + L apart) by gathers, then 5 rows of W × one strip of 4 vectors per register tile (20 accumulators; 5
     * broadcasts straight from W's rows and 4 loads of xᵀ per 20 FMAs), then yᵀ transposed into y. The depth is cut into exactly the
     * blocks of the general path (at most 256, each at most 128), each block's fma chain starting from zero and added
     * to the sum so far in the same order, so every y element is bit-identical to what the general tiles compute.
     * Work items are groups of 5 rows of W (the last m mod 5 rows one at a time), each over every strip and block.
     */
    private static void fewRows(float[] y, float[] x, float[] w, int n, int k, int m) {
        // rows of xᵀ and yᵀ: np columns used, one vector more apart, so that rows are never a multiple of 4 KB apart
        // (98 rows of a depth block in one L1 set at np = 1024)
        int np = (n + STRIP - 1) / STRIP * STRIP, ld = np + L;
        float[] xt = Kernels.workspace(XT, k * ld), yt = Kernels.workspace(YT, m * ld);
        int nv = n / L * L;
        if (nv > 0) transpose(xt, 0, ld, x, 0, k, nv, k);
        if (nv < np) {
            // the rows past the last whole vector: copied into L zero-padded rows, which transpose as one vector
            float[] tail = Kernels.workspace(XTAIL, L * k);
            for (int i0 = nv; i0 < np; i0 += L) {
                int valid = Math.max(0, Math.min(L, n - i0));
                if (valid > 0) System.arraycopy(x, i0 * k, tail, 0, valid * k);
                java.util.Arrays.fill(tail, valid * k, L * k, 0f);
                transpose(xt, i0, ld, tail, 0, k, L, k);
            }
        }
        int groups = (m + 4) / 5;
        Parallel.forRange(groups, Math.max(1, GRAIN_FLOPS / (5 * np * k)), (lo, hi) -> {
            int kbo = equalBlock(k, NT_DEPTH_BLOCK);
            for (int s = 0; s < np; s += STRIP) {
                for (int p0 = 0; p0 < k; p0 += kbo) {
                    int len = Math.min(k, p0 + kbo) - p0, kbi = equalBlock(len, PACKED_DEPTH_BLOCK);
                    for (int d0 = p0; d0 < p0 + len; d0 += kbi) {
                        int d1 = Math.min(p0 + len, d0 + kbi);
                        boolean add = d0 > 0;
                        for (int g = lo; g < hi; g++) {
                            int j = 5 * g;
                            if (j + 5 <= m) rows5(yt, j * ld + s, ld, w, j * k, k, xt, s, ld, d0, d1, add);
                            else for (; j < m; j++) rows1(yt, j * ld + s, w, j * k, xt, s, ld, d0, d1, add);
                        }
                    }
                }
            }
        });
        transpose(y, 0, m, yt, 0, ld, m, n);
    }

    /**
     * c[co + r·ldc + v·L + l] (+)= Σ_{d0 ≤ p < d1} w[wo + r·k + p]·b[bo + p·ldb + v·L + l] for r < 5, v < 4: one fma
     * chain per element from zero, then added to c when {@code acc} (as {@link #panel8x2}: Vector API calls only, no
     * vector merging two paths). Longer than 80 lines on purpose: 20 accumulators written out, as {@link #panel8x3}.
     */
    private static void rows5(float[] c, int co, int ldc, float[] w, int wo, int k, float[] b, int bo, int ldb, int d0, int d1,
                              boolean acc) {
        FloatVector c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33, c40, c41, c42, c43;
        c00 = FloatVector.zero(S);
        c01 = c02 = c03 = c10 = c11 = c12 = c13 = c20 = c21 = c22 = c23 = c30 = c31 = c32 = c33 = c40 = c41 = c42 = c43 = c00;
        int w0 = wo, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k, w4 = w3 + k;
        for (int p = d0, o = bo + d0 * ldb; p < d1; p++, o += ldb) {
            FloatVector b0 = FloatVector.fromArray(S, b, o), b1 = FloatVector.fromArray(S, b, o + L);
            FloatVector b2 = FloatVector.fromArray(S, b, o + 2 * L), b3 = FloatVector.fromArray(S, b, o + 3 * L);
            FloatVector v = FloatVector.broadcast(S, w[w0 + p]);
            c00 = v.fma(b0, c00);
            c01 = v.fma(b1, c01);
            c02 = v.fma(b2, c02);
            c03 = v.fma(b3, c03);
            v = FloatVector.broadcast(S, w[w1 + p]);
            c10 = v.fma(b0, c10);
            c11 = v.fma(b1, c11);
            c12 = v.fma(b2, c12);
            c13 = v.fma(b3, c13);
            v = FloatVector.broadcast(S, w[w2 + p]);
            c20 = v.fma(b0, c20);
            c21 = v.fma(b1, c21);
            c22 = v.fma(b2, c22);
            c23 = v.fma(b3, c23);
            v = FloatVector.broadcast(S, w[w3 + p]);
            c30 = v.fma(b0, c30);
            c31 = v.fma(b1, c31);
            c32 = v.fma(b2, c32);
            c33 = v.fma(b3, c33);
            v = FloatVector.broadcast(S, w[w4 + p]);
            c40 = v.fma(b0, c40);
            c41 = v.fma(b1, c41);
            c42 = v.fma(b2, c42);
            c43 = v.fma(b3, c43);
        }
        int q = co;
        if (acc) {
            c00.add(FloatVector.fromArray(S, c, q)).intoArray(c, q);
            c01.add(FloatVector.fromArray(S, c, q + L)).intoArray(c, q + L);
            c02.add(FloatVector.fromArray(S, c, q + 2 * L)).intoArray(c, q + 2 * L);
            c03.add(FloatVector.fromArray(S, c, q + 3 * L)).intoArray(c, q + 3 * L);
            q += ldc;
            c10.add(FloatVector.fromArray(S, c, q)).intoArray(c, q);
            c11.add(FloatVector.fromArray(S, c, q + L)).intoArray(c, q + L);
            c12.add(FloatVector.fromArray(S, c, q + 2 * L)).intoArray(c, q + 2 * L);
            c13.add(FloatVector.fromArray(S, c, q + 3 * L)).intoArray(c, q + 3 * L);
            q += ldc;
            c20.add(FloatVector.fromArray(S, c, q)).intoArray(c, q);
            c21.add(FloatVector.fromArray(S, c, q + L)).intoArray(c, q + L);
            c22.add(FloatVector.fromArray(S, c, q + 2 * L)).intoArray(c, q + 2 * L);
            c23.add(FloatVector.fromArray(S, c, q + 3 * L)).intoArray(c, q + 3 * L);
            q += ldc;
            c30.add(FloatVector.fromArray(S, c, q)).intoArray(c, q);
            c31.add(FloatVector.fromArray(S, c, q + L)).intoArray(c, q + L);
            c32.add(FloatVector.fromArray(S, c, q + 2 * L)).intoArray(c, q + 2 * L);
            c33.add(FloatVector.fromArray(S, c, q + 3 * L)).intoArray(c, q + 3 * L);
            q += ldc;
            c40.add(FloatVector.fromArray(S, c, q)).intoArray(c, q);
            c41.add(FloatVector.fromArray(S, c, q + L)).intoArray(c, q + L);
            c42.add(FloatVector.fromArray(S, c, q + 2 * L)).intoArray(c, q + 2 * L);
            c43.add(FloatVector.fromArray(S, c, q + 3 * L)).intoArray(c, q + 3 * L);
        } else {
            c00.intoArray(c, q);
            c01.intoArray(c, q + L);
            c02.intoArray(c, q + 2 * L);
            c03.intoArray(c, q + 3 * L);
            q += ldc;
            c10.intoArray(c, q);
            c11.intoArray(c, q + L);
            c12.intoArray(c, q + 2 * L);
            c13.intoArray(c, q + 3 * L);
            q += ldc;
            c20.intoArray(c, q);
            c21.intoArray(c, q + L);
            c22.intoArray(c, q + 2 * L);
            c23.intoArray(c, q + 3 * L);
            q += ldc;
            c30.intoArray(c, q);
            c31.intoArray(c, q + L);
            c32.intoArray(c, q + 2 * L);
            c33.intoArray(c, q + 3 * L);
            q += ldc;
            c40.intoArray(c, q);
            c41.intoArray(c, q + L);
            c42.intoArray(c, q + 2 * L);
            c43.intoArray(c, q + 3 * L);
        }
    }

    /** One row of {@link #rows5} (the last m mod 5 rows of W). */
    private static void rows1(float[] c, int co, float[] w, int wo, float[] b, int bo, int ldb, int d0, int d1, boolean acc) {
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0;
        for (int p = d0, o = bo + d0 * ldb; p < d1; p++, o += ldb) {
            FloatVector v = FloatVector.broadcast(S, w[wo + p]);
            c0 = v.fma(FloatVector.fromArray(S, b, o), c0);
            c1 = v.fma(FloatVector.fromArray(S, b, o + L), c1);
            c2 = v.fma(FloatVector.fromArray(S, b, o + 2 * L), c2);
            c3 = v.fma(FloatVector.fromArray(S, b, o + 3 * L), c3);
        }
        if (acc) {
            c0.add(FloatVector.fromArray(S, c, co)).intoArray(c, co);
            c1.add(FloatVector.fromArray(S, c, co + L)).intoArray(c, co + L);
            c2.add(FloatVector.fromArray(S, c, co + 2 * L)).intoArray(c, co + 2 * L);
            c3.add(FloatVector.fromArray(S, c, co + 3 * L)).intoArray(c, co + 3 * L);
        } else {
            c0.intoArray(c, co);
            c1.intoArray(c, co + L);
            c2.intoArray(c, co + 2 * L);
            c3.intoArray(c, co + 3 * L);
        }
    }

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
                float[] lanes = new float[16 * L];
                for (int jb = lo; jb < hi; jb++) {
                    int j0 = 4 * jb, j1 = Math.min(m, j0 + 4), i = 0;
                    if (j1 - j0 == 4) for (; i + 4 <= n; i += 4) dot4x4(y, 0, m, x, 0, k, w, 0, k, i, j0, p0, p1, lanes);
                    for (; i < n; i++) for (int j = j0; j < j1; j++) dot1(y, 0, m, x, 0, k, w, 0, k, i, j, p0, p1, lanes);
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

    /**
     * y[yOff + i·ldy + j] += Σ_{p0 ≤ p < p1} x[xOff + i·ldx + p]·w[wOff + j·ldw + p] for the 4×4 block at (i0, j0): per
     * vector of p, 8 loads and 16 FMAs into 16 lane accumulators; then every accumulator's lanes are summed in lane order
     * (a fixed order, whatever the JIT does) and added to y. The accumulators go to {@code lanes} (16·L floats) with
     * the Vector API's own stores: a helper of ours taking a vector could be left out of line and box it.
     */
    private static void dot4x4(float[] y, int yOff, int ldy, float[] x, int xOff, int ldx, float[] w, int wOff, int ldw,
                               int i0, int j0, int p0, int p1, float[] lanes) {
        int x0 = xOff + i0 * ldx, x1 = x0 + ldx, x2 = x1 + ldx, x3 = x2 + ldx;
        int w0 = wOff + j0 * ldw, w1 = w0 + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
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
        for (int t = 0; t < 16; t++) {
            float sum = 0f;
            for (int l = 0; l < L; l++) sum += lanes[t * L + l];
            y[yOff + (i0 + t / 4) * ldy + j0 + t % 4] += sum;
        }
    }

    /** One element over [p0, p1): the same lane arithmetic as an element of {@link #dot4x4}. */
    private static void dot1(float[] y, int yOff, int ldy, float[] x, int xOff, int ldx, float[] w, int wOff, int ldw,
                             int i, int j, int p0, int p1, float[] lanes) {
        int xo = xOff + i * ldx, wo = wOff + j * ldw;
        FloatVector c = FloatVector.zero(S);
        for (int p = p0; p < p1; p += L) c = FloatVector.fromArray(S, x, xo + p).fma(FloatVector.fromArray(S, w, wo + p), c);
        c.intoArray(lanes, 0);
        float sum = 0f;
        for (int l = 0; l < L; l++) sum += lanes[l];
        y[yOff + i * ldy + j] += sum;
    }

    /**
     * c[cOff + i·ldc + j] += Σ_p a[aOff + i·lda + p]·b[bOff + j·ldb + p] for i &lt; rows, j &lt; cols, p &lt; depth (a multiple
     * of the lane count): dot products, for outputs too narrow for the register panels (a first convolution's dW, with
     * K = 9 taps, per sample). Serial; the same tiles and lane order as {@link #matmulNT}'s dot path, scalar when SIMD
     * is off.
     */
    public static void dotsAcc(float[] c, int cOff, int ldc, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                               int rows, int cols, int depth) {
        if (!Kernels.simd()) {
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    float sum = 0f;
                    for (int p = 0; p < depth; p++) sum += a[aOff + i * lda + p] * b[bOff + j * ldb + p];
                    c[cOff + i * ldc + j] += sum;
                }
            }
            return;
        }
        float[] lanes = Kernels.workspace(LANES, 16 * L);
        for (int j0 = 0; j0 < cols; j0 += 4) {
            int j1 = Math.min(cols, j0 + 4), i = 0;
            if (j1 - j0 == 4) for (; i + 4 <= rows; i += 4) dot4x4(c, cOff, ldc, a, aOff, lda, b, bOff, ldb, i, j0, 0, depth, lanes);
            for (; i < rows; i++) for (int j = j0; j < j1; j++) dot1(c, cOff, ldc, a, aOff, lda, b, bOff, ldb, i, j, 0, depth, lanes);
        }
    }

    private static final ThreadLocal<float[]> LANES = ThreadLocal.withInitial(() -> new float[0]);

    /** Gather offsets for {@link #transpose}: lane l reads row l (stride lds), filled per call size. */
    private static final ThreadLocal<int[]> GATHER = ThreadLocal.withInitial(() -> new int[0]);

    /** wt[(p − p0)·mp + j] = w[j·k + p] for p in [p0, p1), j < m, zero for m ≤ j < mp (a block of Wᵀ, padded). */
    private static void transposeBlock(float[] wt, float[] w, int m, int k, int mp, int p0, int p1) {
        transpose(wt, 0, mp, w, p0, k, m, p1 - p0);
        if (mp != m) for (int p = p0, o = 0; p < p1; p++, o += mp) java.util.Arrays.fill(wt, o + m, o + mp, 0f);
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

    /**
     * Length of the equal blocks that cut {@code len} into as few blocks of at most {@code max} as possible (the last
     * one shorter): ⌈len / ⌈len / max⌉⌉. Every depth blocking goes through it, so paths that must give the same bits
     * ({@link #fewRows} and the tiles) cut the depth alike.
     */
    private static int equalBlock(int len, int max) {
        int blocks = Math.max(1, (len + max - 1) / max);
        return Math.max(1, (len + blocks - 1) / blocks);
    }

    private static void tiled(float[] c, float[] a, int ars, int acs, float[] b, int rows, int cols, int depth,
                              boolean acc) {
        int np = roundUp(cols);
        float[] bp = b, cp = c;
        if (np != cols) {
            // Columns not a whole number of vectors: B and C go through zero-padded workspaces (rows of np), so every
            // column is a vector lane and no scalar tail exists.
            bp = Kernels.workspace(BP, depth * np);
            for (int p = 0; p < depth; p++) {
                System.arraycopy(b, p * cols, bp, p * np, cols);
                java.util.Arrays.fill(bp, p * np + cols, p * np + np, 0f);
            }
            cp = Kernels.workspace(CP, rows * np);
            if (acc) for (int i = 0; i < rows; i++) System.arraycopy(c, i * cols, cp, i * np, cols);
        }
        int kb = equalBlock(depth, MAX_DEPTH_BLOCK);
        for (int p0 = 0; p0 < depth; p0 += kb) tiles(cp, a, ars, acs, bp, rows, np, p0, Math.min(depth, p0 + kb), 0, acc || p0 > 0);
        if (cp != c) for (int i = 0; i < rows; i++) System.arraycopy(cp, i * np, c, i * cols, cols);
    }

    /**
     * Rows of one register panel, chosen once from the register file: 8 with 16-lane vectors (AVX-512's 32 registers:
     * 8 × 2 vectors = 16 accumulators, 8 × 3 = 24 for an odd last strip), 6 otherwise (AVX2's 16 registers: 6 × 2
     * vectors = 12 accumulators + 2 loads of B + 1 broadcast = 15; the 8-row panels needed 19-27 and spilled). The tile
     * shape never changes an element's arithmetic (one fma chain per depth block, blocks fixed by the sizes), so both
     * families give the same bits. {@link #setPanelRows} forces one (tests).
     */
    private static volatile int PR = L >= 16 ? 8 : 6;

    /** Rows per register panel in use (8 or 6): the layout of {@link #packA}. */
    public static int panelRows() {
        return PR;
    }

    /** Forces the 8-row (AVX-512) or the 6-row (AVX2) panel family; returns the previous one. For tests; not thread-safe against running products. */
    public static int setPanelRows(int rows) {
        if (rows != 8 && rows != 6) throw new IllegalArgumentException("panel rows must be 8 or 6, got " + rows);
        int old = PR;
        PR = rows;
        return old;
    }
    /** Rows of C per work item (8 panels): with column strips, the unit the pool hands out. */
    private static final int ROWS_PER_ITEM = 64;
    /** Per-thread workspaces: A's panels packed for one depth block; one panel's C for a panel of fewer than 8 rows. */
    private static final ThreadLocal<float[]> AP = ThreadLocal.withInitial(() -> new float[0]);
    private static final ThreadLocal<float[]> CT = ThreadLocal.withInitial(() -> new float[8 * 3 * L]);

    /**
     * C (+)= A·B over depth [p0, p1) for all rows and all np columns (np a multiple of the lane count; B's row p at
     * {@code b[bOff + p·np]}). A is first packed into panels of 8 rows (see {@link #pack}), so the register kernel reads
     * 8 consecutive floats per depth step. Work items are (column strip of 2 vectors, or 3 last) × (64 rows); inside one, the
     * strip's block of B is reused by every panel while it is in L1. Each C element is one fma chain over [p0, p1) in
     * order, added to C when {@code acc}: the same arithmetic whatever the split, hence identical results at any thread
     * count.
     */
    private static void tiles(float[] c, float[] a, int ars, int acs, float[] b, int rows, int np, int p0, int p1, int bOff,
                              boolean acc) {
        int pr = PR, kb = p1 - p0, panels = (rows + pr - 1) / pr;
        float[] ap = Kernels.workspace(AP, panels * pr * kb);
        Parallel.forRange(panels, Math.max(1, (1 << 14) / (pr * kb)), (lo, hi) -> {
            for (int q = lo; q < hi; q++) packPanel(ap, q * pr * kb, a, q * pr * ars, ars, acs, Math.min(pr, rows - q * pr), p0, p1, pr);
        });
        multiplyPacked(c, 0, np, ap, 0, rows, kb, b, bOff + p0 * np, np, np, acc);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Entry points for callers that run many small products (Conv2d, one sample at a time): A packed once and reused;
    // the output's row stride is the caller's. Inside a pool task they run serially.

    /** Floats needed by {@link #packA} for a rows × depth operand. */
    public static int packedSize(int rows, int depth) {
        int pr = PR;
        return (rows + pr - 1) / pr * pr * depth;
    }

    /** Packs A(i, p) = a[aOff + i·ars + p·acs] (rows × depth) into ap from apOff ({@link #packedSize} floats) for {@link #multiplyPacked}. */
    public static void packA(float[] ap, int apOff, float[] a, int aOff, int ars, int acs, int rows, int depth) {
        int pr = PR;
        for (int q = 0, panels = (rows + pr - 1) / pr; q < panels; q++) {
            packPanel(ap, apOff + q * pr * depth, a, aOff + q * pr * ars, ars, acs, Math.min(pr, rows - q * pr), 0, depth, pr);
        }
    }

    /**
     * C (+)= A·B with A packed by {@link #packA}: C(i, j) = c[cOff + i·ldc + j] for i &lt; rows, j &lt; cols; B(p, j) =
     * b[bOff + p·ldb + j]; cols a multiple of the lane count ({@link #lanes()}). Each element is one fma chain over the
     * depth in order, added to C when {@code acc}.
     */
    public static void multiplyPacked(float[] c, int cOff, int ldc, float[] ap, int apOff, int rows, int depth, float[] b,
                                      int bOff, int ldb, int cols, boolean acc) {
        int pr = PR;
        if (!Kernels.simd()) {
            // C(i,j) (+)= Σ_p A(i,p)·B(p,j), A(i,p) = ap[(i/pr)·pr·depth + p·pr + i%pr]
            for (int i = 0; i < rows; i++) {
                int a0 = apOff + i / pr * pr * depth + i % pr;
                for (int j = 0; j < cols; j++) {
                    float sum = 0f;
                    for (int p = 0; p < depth; p++) sum += ap[a0 + p * pr] * b[bOff + p * ldb + j];
                    int o = cOff + i * ldc + j;
                    c[o] = acc ? c[o] + sum : sum;
                }
            }
            return;
        }
        boolean wide = pr == 8;
        int panels = (rows + pr - 1) / pr, kb = equalBlock(depth, PACKED_DEPTH_BLOCK);
        // strips of 2 vectors. 8-row panels: an odd count of at least 3 vectors ends with one strip of 3 rather than
        // of 1 (a 1-vector 8-row panel has 8 accumulators, too few to hide the FMA latency: 1/7 of the columns of a
        // 100-column product took 1/5 of its time). 6-row panels: 6 × 3 vectors would spill 16 registers, so an odd
        // count ends with a 1-vector strip.
        int vecs = cols / L, strips = wide && vecs >= 3 && vecs % 2 == 1 ? vecs / 2 : (vecs + 1) / 2;
        int perItem = ROWS_PER_ITEM / 8 * pr, groups = (rows + perItem - 1) / perItem, items = strips * groups;
        long flopsPerItem = (long) Math.min(rows, perItem) * 2 * L * depth;
        Parallel.forRange(items, (int) Math.max(1, GRAIN_FLOPS / Math.max(1, flopsPerItem)), (lo, hi) -> {
            float[] ct = CT.get();
            for (int it = lo; it < hi; it++) {
                int st = it % strips, g = it / strips, j = st * 2 * L;
                int width = st == strips - 1 ? cols - j : 2 * L; // 1, 2 or 3 vectors
                int q0 = g * (ROWS_PER_ITEM / 8), q1 = Math.min(panels, q0 + ROWS_PER_ITEM / 8);
                // depth in blocks of at most PACKED_DEPTH_BLOCK, so the strip's block of B stays in L1 across the panels
                for (int d0 = 0; d0 < depth; d0 += kb) {
                    int d1 = Math.min(depth, d0 + kb);
                    boolean add = acc || d0 > 0;
                    for (int q = q0; q < q1; q++) {
                        int i0 = q * pr, valid = Math.min(pr, rows - i0), ao = apOff + q * pr * depth + d0 * pr, bo = bOff + d0 * ldb + j;
                        boolean full = valid == pr;
                        // fewer rows than a panel (the packed rows past M are zeros): the panel into a scratch tile,
                        // then its valid rows into C, c + t rounding exactly as the in-register add of a full panel
                        float[] cc = full ? c : ct;
                        int co = full ? cOff + i0 * ldc + j : 0, lc = full ? ldc : 3 * L;
                        boolean ad = full && add;
                        if (wide) {
                            if (width == 2 * L) panel8x2(cc, co, lc, ap, ao, b, bo, ldb, d1 - d0, ad);
                            else if (width == 3 * L) panel8x3(cc, co, lc, ap, ao, b, bo, ldb, d1 - d0, ad);
                            else panel8x1(cc, co, lc, ap, ao, 1, 8, b, bo, ldb, d1 - d0, ad);
                        } else {
                            if (width == 2 * L) panel6x2(cc, co, lc, ap, ao, b, bo, ldb, d1 - d0, ad);
                            else panel6x1(cc, co, lc, ap, ao, b, bo, ldb, d1 - d0, ad);
                        }
                        if (!full) addRows(c, cOff + i0 * ldc + j, ldc, ct, valid, width, add);
                    }
                }
            }
        });
    }

    /** Depth block of {@link #multiplyPacked}: 2 (or 3) vectors × 128 rows of B (16 or 24 KB with AVX-512) beside one A panel in L1. */
    private static final int PACKED_DEPTH_BLOCK = 128;

    /** C rows [0, valid) (+)= the scratch tile's rows (row stride 3L), columns [0, width). */
    private static void addRows(float[] c, int co, int ldc, float[] ct, int valid, int width, boolean acc) {
        for (int r = 0; r < valid; r++) {
            int o = co + r * ldc, t = r * 3 * L;
            for (int l = 0; l < width; l++) c[o + l] = acc ? c[o + l] + ct[t + l] : ct[t + l];
        }
    }

    /** Lanes of the SIMD vectors: {@link #multiplyPacked} takes column counts in multiples of it. */
    public static int lanes() {
        return L;
    }

    /**
     * dst[j·ldd + i] = src[i·lds + j] for i &lt; rows, j &lt; cols (offsets added). With SIMD, whole vectors of i are gathered
     * (lane l reads row i + l; consecutive j read consecutive floats of the same rows, so their lines stay cached); the
     * rows past the last whole vector are copied one by one.
     */
    public static void transpose(float[] dst, int dOff, int ldd, float[] src, int sOff, int lds, int rows, int cols) {
        int iv = Kernels.simd() ? rows / L * L : 0;
        if (iv > 0) {
            int[] idx = GATHER.get();
            if (idx.length != L || idx[1] != lds) {
                idx = new int[L];
                for (int l = 0; l < L; l++) idx[l] = l * lds;
                GATHER.set(idx);
            }
            for (int i = 0; i < iv; i += L) {
                int s0 = sOff + i * lds;
                for (int j = 0; j < cols; j++) FloatVector.fromArray(S, src, s0 + j, idx, 0).intoArray(dst, dOff + j * ldd + i);
            }
        }
        for (int i = iv; i < rows; i++) {
            int s0 = sOff + i * lds;
            for (int j = 0; j < cols; j++) dst[dOff + j * ldd + i] = src[s0 + j];
        }
    }

    /** Gather offsets of {@link #packPanel}, per thread: lcm(L, pr) offsets, then the ars, acs and pr they were made for. */
    private static final ThreadLocal<int[]> PACK_GATHER = ThreadLocal.withInitial(() -> new int[3 * L + 3]);

    /**
     * One panel: ap[base + (p − p0)·pr + r] = a[a0 + r·ars + p·acs] for r < valid, 0 for valid ≤ r < pr, p in [p0, p1).
     * When A's rows are adjacent (ars = 1, as for dyᵀ and Wᵀ) the pr values of one depth step are one copy (a vector
     * copy here ran as the Vector API's Java fallback, boxed, on JDK 17). Otherwise full panels are gathered,
     * lcm(L, pr) floats (pr = 6, L = 8: 4 depth steps in 3 vectors) at a time.
     */
    private static void packPanel(float[] ap, int base, float[] a, int a0, int ars, int acs, int valid, int p0, int p1, int pr) {
        int kb = p1 - p0;
        if (ars == 1 && valid == pr) {
            for (int p = p0, o = base; p < p1; p++, o += pr) System.arraycopy(a, a0 + p * acs, ap, o, pr);
            return;
        }
        if (valid == pr && Kernels.simd()) {
            int span = L % pr == 0 ? L : lcm(L, pr), steps = span / pr, vecs = span / L, pv = p0 + (kb / steps) * steps;
            int[] idx = PACK_GATHER.get();
            int meta = 3 * L; // the key sits past the longest span (24 for pr = 6, L = 8), whatever pr filled it
            if (idx[meta] != ars || idx[meta + 1] != acs || idx[meta + 2] != pr) {
                for (int l = 0; l < span; l++) idx[l] = (l % pr) * ars + (l / pr) * acs;
                idx[meta] = ars;
                idx[meta + 1] = acs;
                idx[meta + 2] = pr;
            }
            int o = base;
            for (int p = p0; p < pv; p += steps) {
                for (int v = 0; v < vecs; v++, o += L) FloatVector.fromArray(S, a, a0 + p * acs, idx, v * L).intoArray(ap, o);
            }
            for (int p = pv; p < p1; p++, o += pr) for (int r = 0; r < pr; r++) ap[o + r] = a[a0 + r * ars + p * acs];
            return;
        }
        for (int r = 0; r < pr; r++) {
            if (r >= valid) {
                for (int p = 0, o = base + r; p < kb; p++, o += pr) ap[o] = 0f;
                continue;
            }
            for (int p = p0, src = a0 + r * ars + p0 * acs, o = base + r; p < p1; p++, src += acs, o += pr) ap[o] = a[src];
        }
    }

    private static int lcm(int x, int y) {
        int g = x, h = y;
        while (h != 0) {
            int t = g % h;
            g = h;
            h = t;
        }
        return x / g * y;
    }

    /**
     * Register kernels, one per shape R rows × V vectors of C: C(r, ·) (+)= Σ_p A(r, p)·B(p, ·) over p in [0, kb), C's
     * rows at {@code c[co + r·ldc]}, B's rows at {@code b[bo + p·ldb]}; per step V loads of B, R broadcasts of A and R·V
     * FMAs into R·V accumulators; every element is one fma chain in order from zero, added to C when {@code acc}, so
     * neither the shape nor A's layout changes the bits. Shapes: 8 × 2 (this one: 16 accumulators), 8 × 3 (the last
     * strip of an odd vector count) and 8 × 1 for AVX-512's 32 registers; 6 × 2 and 6 × 1 for AVX2's 16 (the training
     * products); 4 × 3, 4 × 2 and 8 × 1 for the eval x·Wᵀ with x in place on AVX2 ({@link #rowMajorTiles4}).
     *
     * <p>A comes in two layouts: packed panels ({@link #packPanel}: {@code ap[ao + p·R + r]}, the R values of a depth
     * step adjacent) and x in place ({@code x[xo + r·lda]}, depth contiguous). Only 8 × 1 serves both, through two
     * strides ({@link #panel8x1}); a packed kernel keeps constant offsets {@code ap[ao + r]}, because reading packed
     * panels through a row stride made 6 × 2 slower on AVX2 in every same-JVM alternation (same bits): 0.65–0.83× the
     * GFLOP/s over a packed 60 × 100 A and 784 columns at load 19–21 (four JVMs), 0.85–0.95× in
     * {@code tools/infer-ab/FmaCeiling.java altstride} at load 17–20, and 2–3.5 % of whole training products
     * (matmulNN / matmulTNAcc, a build with every kernel strided, not kept). The likely cause, not read in the
     * compiled code: a strided index needs its own add and range check per broadcast.
     *
     * <p>They call only the Vector API's force-inlined methods, and no vector value merges two paths: a helper of our
     * own can be left out of line by C2's inlining budget, and accumulators that start from either C or zero stay
     * boxed; either made runs 3-10x slower. Written out accumulator by accumulator (a loop over vectors would keep
     * them in memory, or box them on JDK 17), hence longer than 80 lines for the wide shapes.
     */
    private static void panel8x2(float[] c, int co, int ldc, float[] ap, int ao, float[] b, int bo, int ldb, int kb, boolean acc) {
        FloatVector c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71;
        c00 = FloatVector.zero(S);
        c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = c60 = c61 = c70 = c71 = c00;
        for (int p = 0; p < kb; p++, bo += ldb, ao += 8) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo), b1 = FloatVector.fromArray(S, b, bo + L);
            FloatVector v0 = FloatVector.broadcast(S, ap[ao]);
            c00 = v0.fma(b0, c00);
            c01 = v0.fma(b1, c01);
            FloatVector v1 = FloatVector.broadcast(S, ap[ao + 1]);
            c10 = v1.fma(b0, c10);
            c11 = v1.fma(b1, c11);
            FloatVector v2 = FloatVector.broadcast(S, ap[ao + 2]);
            c20 = v2.fma(b0, c20);
            c21 = v2.fma(b1, c21);
            FloatVector v3 = FloatVector.broadcast(S, ap[ao + 3]);
            c30 = v3.fma(b0, c30);
            c31 = v3.fma(b1, c31);
            FloatVector v4 = FloatVector.broadcast(S, ap[ao + 4]);
            c40 = v4.fma(b0, c40);
            c41 = v4.fma(b1, c41);
            FloatVector v5 = FloatVector.broadcast(S, ap[ao + 5]);
            c50 = v5.fma(b0, c50);
            c51 = v5.fma(b1, c51);
            FloatVector v6 = FloatVector.broadcast(S, ap[ao + 6]);
            c60 = v6.fma(b0, c60);
            c61 = v6.fma(b1, c61);
            FloatVector v7 = FloatVector.broadcast(S, ap[ao + 7]);
            c70 = v7.fma(b0, c70);
            c71 = v7.fma(b1, c71);
        }
        if (acc) {
            c00.add(FloatVector.fromArray(S, c, co)).intoArray(c, co);
            c01.add(FloatVector.fromArray(S, c, co + L)).intoArray(c, co + L);
            c10.add(FloatVector.fromArray(S, c, co + ldc)).intoArray(c, co + ldc);
            c11.add(FloatVector.fromArray(S, c, co + ldc + L)).intoArray(c, co + ldc + L);
            c20.add(FloatVector.fromArray(S, c, co + 2 * ldc)).intoArray(c, co + 2 * ldc);
            c21.add(FloatVector.fromArray(S, c, co + 2 * ldc + L)).intoArray(c, co + 2 * ldc + L);
            c30.add(FloatVector.fromArray(S, c, co + 3 * ldc)).intoArray(c, co + 3 * ldc);
            c31.add(FloatVector.fromArray(S, c, co + 3 * ldc + L)).intoArray(c, co + 3 * ldc + L);
            c40.add(FloatVector.fromArray(S, c, co + 4 * ldc)).intoArray(c, co + 4 * ldc);
            c41.add(FloatVector.fromArray(S, c, co + 4 * ldc + L)).intoArray(c, co + 4 * ldc + L);
            c50.add(FloatVector.fromArray(S, c, co + 5 * ldc)).intoArray(c, co + 5 * ldc);
            c51.add(FloatVector.fromArray(S, c, co + 5 * ldc + L)).intoArray(c, co + 5 * ldc + L);
            c60.add(FloatVector.fromArray(S, c, co + 6 * ldc)).intoArray(c, co + 6 * ldc);
            c61.add(FloatVector.fromArray(S, c, co + 6 * ldc + L)).intoArray(c, co + 6 * ldc + L);
            c70.add(FloatVector.fromArray(S, c, co + 7 * ldc)).intoArray(c, co + 7 * ldc);
            c71.add(FloatVector.fromArray(S, c, co + 7 * ldc + L)).intoArray(c, co + 7 * ldc + L);
        } else {
            c00.intoArray(c, co);
            c01.intoArray(c, co + L);
            c10.intoArray(c, co + ldc);
            c11.intoArray(c, co + ldc + L);
            c20.intoArray(c, co + 2 * ldc);
            c21.intoArray(c, co + 2 * ldc + L);
            c30.intoArray(c, co + 3 * ldc);
            c31.intoArray(c, co + 3 * ldc + L);
            c40.intoArray(c, co + 4 * ldc);
            c41.intoArray(c, co + 4 * ldc + L);
            c50.intoArray(c, co + 5 * ldc);
            c51.intoArray(c, co + 5 * ldc + L);
            c60.intoArray(c, co + 6 * ldc);
            c61.intoArray(c, co + 6 * ldc + L);
            c70.intoArray(c, co + 7 * ldc);
            c71.intoArray(c, co + 7 * ldc + L);
        }
    }

    /**
     * {@link #panel8x2} with 3 vectors of columns (24 accumulators, 8 broadcasts and 3 loads per 24 FMAs): the last
     * strip of an odd vector count.
     */
    private static void panel8x3(float[] c, int co, int ldc, float[] ap, int ao, float[] b, int bo, int ldb, int kb, boolean acc) {
        FloatVector c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32;
        FloatVector c40, c41, c42, c50, c51, c52, c60, c61, c62, c70, c71, c72;
        c00 = FloatVector.zero(S);
        c01 = c02 = c10 = c11 = c12 = c20 = c21 = c22 = c30 = c31 = c32 = c00;
        c40 = c41 = c42 = c50 = c51 = c52 = c60 = c61 = c62 = c70 = c71 = c72 = c00;
        for (int p = 0; p < kb; p++, bo += ldb, ao += 8) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo), b1 = FloatVector.fromArray(S, b, bo + L);
            FloatVector b2 = FloatVector.fromArray(S, b, bo + 2 * L);
            FloatVector v0 = FloatVector.broadcast(S, ap[ao]);
            c00 = v0.fma(b0, c00);
            c01 = v0.fma(b1, c01);
            c02 = v0.fma(b2, c02);
            FloatVector v1 = FloatVector.broadcast(S, ap[ao + 1]);
            c10 = v1.fma(b0, c10);
            c11 = v1.fma(b1, c11);
            c12 = v1.fma(b2, c12);
            FloatVector v2 = FloatVector.broadcast(S, ap[ao + 2]);
            c20 = v2.fma(b0, c20);
            c21 = v2.fma(b1, c21);
            c22 = v2.fma(b2, c22);
            FloatVector v3 = FloatVector.broadcast(S, ap[ao + 3]);
            c30 = v3.fma(b0, c30);
            c31 = v3.fma(b1, c31);
            c32 = v3.fma(b2, c32);
            FloatVector v4 = FloatVector.broadcast(S, ap[ao + 4]);
            c40 = v4.fma(b0, c40);
            c41 = v4.fma(b1, c41);
            c42 = v4.fma(b2, c42);
            FloatVector v5 = FloatVector.broadcast(S, ap[ao + 5]);
            c50 = v5.fma(b0, c50);
            c51 = v5.fma(b1, c51);
            c52 = v5.fma(b2, c52);
            FloatVector v6 = FloatVector.broadcast(S, ap[ao + 6]);
            c60 = v6.fma(b0, c60);
            c61 = v6.fma(b1, c61);
            c62 = v6.fma(b2, c62);
            FloatVector v7 = FloatVector.broadcast(S, ap[ao + 7]);
            c70 = v7.fma(b0, c70);
            c71 = v7.fma(b1, c71);
            c72 = v7.fma(b2, c72);
        }
        if (acc) {
            c00.add(FloatVector.fromArray(S, c, co)).intoArray(c, co);
            c01.add(FloatVector.fromArray(S, c, co + L)).intoArray(c, co + L);
            c02.add(FloatVector.fromArray(S, c, co + 2 * L)).intoArray(c, co + 2 * L);
            c10.add(FloatVector.fromArray(S, c, co + ldc)).intoArray(c, co + ldc);
            c11.add(FloatVector.fromArray(S, c, co + ldc + L)).intoArray(c, co + ldc + L);
            c12.add(FloatVector.fromArray(S, c, co + ldc + 2 * L)).intoArray(c, co + ldc + 2 * L);
            c20.add(FloatVector.fromArray(S, c, co + 2 * ldc)).intoArray(c, co + 2 * ldc);
            c21.add(FloatVector.fromArray(S, c, co + 2 * ldc + L)).intoArray(c, co + 2 * ldc + L);
            c22.add(FloatVector.fromArray(S, c, co + 2 * ldc + 2 * L)).intoArray(c, co + 2 * ldc + 2 * L);
            c30.add(FloatVector.fromArray(S, c, co + 3 * ldc)).intoArray(c, co + 3 * ldc);
            c31.add(FloatVector.fromArray(S, c, co + 3 * ldc + L)).intoArray(c, co + 3 * ldc + L);
            c32.add(FloatVector.fromArray(S, c, co + 3 * ldc + 2 * L)).intoArray(c, co + 3 * ldc + 2 * L);
            c40.add(FloatVector.fromArray(S, c, co + 4 * ldc)).intoArray(c, co + 4 * ldc);
            c41.add(FloatVector.fromArray(S, c, co + 4 * ldc + L)).intoArray(c, co + 4 * ldc + L);
            c42.add(FloatVector.fromArray(S, c, co + 4 * ldc + 2 * L)).intoArray(c, co + 4 * ldc + 2 * L);
            c50.add(FloatVector.fromArray(S, c, co + 5 * ldc)).intoArray(c, co + 5 * ldc);
            c51.add(FloatVector.fromArray(S, c, co + 5 * ldc + L)).intoArray(c, co + 5 * ldc + L);
            c52.add(FloatVector.fromArray(S, c, co + 5 * ldc + 2 * L)).intoArray(c, co + 5 * ldc + 2 * L);
            c60.add(FloatVector.fromArray(S, c, co + 6 * ldc)).intoArray(c, co + 6 * ldc);
            c61.add(FloatVector.fromArray(S, c, co + 6 * ldc + L)).intoArray(c, co + 6 * ldc + L);
            c62.add(FloatVector.fromArray(S, c, co + 6 * ldc + 2 * L)).intoArray(c, co + 6 * ldc + 2 * L);
            c70.add(FloatVector.fromArray(S, c, co + 7 * ldc)).intoArray(c, co + 7 * ldc);
            c71.add(FloatVector.fromArray(S, c, co + 7 * ldc + L)).intoArray(c, co + 7 * ldc + L);
            c72.add(FloatVector.fromArray(S, c, co + 7 * ldc + 2 * L)).intoArray(c, co + 7 * ldc + 2 * L);
        } else {
            c00.intoArray(c, co);
            c01.intoArray(c, co + L);
            c02.intoArray(c, co + 2 * L);
            c10.intoArray(c, co + ldc);
            c11.intoArray(c, co + ldc + L);
            c12.intoArray(c, co + ldc + 2 * L);
            c20.intoArray(c, co + 2 * ldc);
            c21.intoArray(c, co + 2 * ldc + L);
            c22.intoArray(c, co + 2 * ldc + 2 * L);
            c30.intoArray(c, co + 3 * ldc);
            c31.intoArray(c, co + 3 * ldc + L);
            c32.intoArray(c, co + 3 * ldc + 2 * L);
            c40.intoArray(c, co + 4 * ldc);
            c41.intoArray(c, co + 4 * ldc + L);
            c42.intoArray(c, co + 4 * ldc + 2 * L);
            c50.intoArray(c, co + 5 * ldc);
            c51.intoArray(c, co + 5 * ldc + L);
            c52.intoArray(c, co + 5 * ldc + 2 * L);
            c60.intoArray(c, co + 6 * ldc);
            c61.intoArray(c, co + 6 * ldc + L);
            c62.intoArray(c, co + 6 * ldc + 2 * L);
            c70.intoArray(c, co + 7 * ldc);
            c71.intoArray(c, co + 7 * ldc + L);
            c72.intoArray(c, co + 7 * ldc + 2 * L);
        }
    }

    /**
     * {@link #panel8x2} for 6-row panels (AVX2: 12 accumulators, 6 broadcasts and 2 loads per 12 FMAs, 15 of 16
     * registers).
     */
    private static void panel6x2(float[] c, int co, int ldc, float[] ap, int ao, float[] b, int bo, int ldb, int kb, boolean acc) {
        FloatVector c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        c00 = FloatVector.zero(S);
        c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = c00;
        for (int p = 0; p < kb; p++, bo += ldb, ao += 6) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo), b1 = FloatVector.fromArray(S, b, bo + L);
            FloatVector v = FloatVector.broadcast(S, ap[ao]);
            c00 = v.fma(b0, c00);
            c01 = v.fma(b1, c01);
            v = FloatVector.broadcast(S, ap[ao + 1]);
            c10 = v.fma(b0, c10);
            c11 = v.fma(b1, c11);
            v = FloatVector.broadcast(S, ap[ao + 2]);
            c20 = v.fma(b0, c20);
            c21 = v.fma(b1, c21);
            v = FloatVector.broadcast(S, ap[ao + 3]);
            c30 = v.fma(b0, c30);
            c31 = v.fma(b1, c31);
            v = FloatVector.broadcast(S, ap[ao + 4]);
            c40 = v.fma(b0, c40);
            c41 = v.fma(b1, c41);
            v = FloatVector.broadcast(S, ap[ao + 5]);
            c50 = v.fma(b0, c50);
            c51 = v.fma(b1, c51);
        }
        if (acc) {
            c00.add(FloatVector.fromArray(S, c, co)).intoArray(c, co);
            c01.add(FloatVector.fromArray(S, c, co + L)).intoArray(c, co + L);
            c10.add(FloatVector.fromArray(S, c, co + ldc)).intoArray(c, co + ldc);
            c11.add(FloatVector.fromArray(S, c, co + ldc + L)).intoArray(c, co + ldc + L);
            c20.add(FloatVector.fromArray(S, c, co + 2 * ldc)).intoArray(c, co + 2 * ldc);
            c21.add(FloatVector.fromArray(S, c, co + 2 * ldc + L)).intoArray(c, co + 2 * ldc + L);
            c30.add(FloatVector.fromArray(S, c, co + 3 * ldc)).intoArray(c, co + 3 * ldc);
            c31.add(FloatVector.fromArray(S, c, co + 3 * ldc + L)).intoArray(c, co + 3 * ldc + L);
            c40.add(FloatVector.fromArray(S, c, co + 4 * ldc)).intoArray(c, co + 4 * ldc);
            c41.add(FloatVector.fromArray(S, c, co + 4 * ldc + L)).intoArray(c, co + 4 * ldc + L);
            c50.add(FloatVector.fromArray(S, c, co + 5 * ldc)).intoArray(c, co + 5 * ldc);
            c51.add(FloatVector.fromArray(S, c, co + 5 * ldc + L)).intoArray(c, co + 5 * ldc + L);
        } else {
            c00.intoArray(c, co);
            c01.intoArray(c, co + L);
            c10.intoArray(c, co + ldc);
            c11.intoArray(c, co + ldc + L);
            c20.intoArray(c, co + 2 * ldc);
            c21.intoArray(c, co + 2 * ldc + L);
            c30.intoArray(c, co + 3 * ldc);
            c31.intoArray(c, co + 3 * ldc + L);
            c40.intoArray(c, co + 4 * ldc);
            c41.intoArray(c, co + 4 * ldc + L);
            c50.intoArray(c, co + 5 * ldc);
            c51.intoArray(c, co + 5 * ldc + L);
        }
    }

    /** {@link #panel6x2} one vector wide (the last strip of an odd vector count). */
    private static void panel6x1(float[] c, int co, int ldc, float[] ap, int ao, float[] b, int bo, int ldb, int kb, boolean acc) {
        FloatVector c0, c1, c2, c3, c4, c5;
        c0 = FloatVector.zero(S);
        c1 = c2 = c3 = c4 = c5 = c0;
        for (int p = 0; p < kb; p++, bo += ldb, ao += 6) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo);
            c0 = FloatVector.broadcast(S, ap[ao]).fma(b0, c0);
            c1 = FloatVector.broadcast(S, ap[ao + 1]).fma(b0, c1);
            c2 = FloatVector.broadcast(S, ap[ao + 2]).fma(b0, c2);
            c3 = FloatVector.broadcast(S, ap[ao + 3]).fma(b0, c3);
            c4 = FloatVector.broadcast(S, ap[ao + 4]).fma(b0, c4);
            c5 = FloatVector.broadcast(S, ap[ao + 5]).fma(b0, c5);
        }
        if (acc) {
            c0.add(FloatVector.fromArray(S, c, co)).intoArray(c, co);
            c1.add(FloatVector.fromArray(S, c, co + ldc)).intoArray(c, co + ldc);
            c2.add(FloatVector.fromArray(S, c, co + 2 * ldc)).intoArray(c, co + 2 * ldc);
            c3.add(FloatVector.fromArray(S, c, co + 3 * ldc)).intoArray(c, co + 3 * ldc);
            c4.add(FloatVector.fromArray(S, c, co + 4 * ldc)).intoArray(c, co + 4 * ldc);
            c5.add(FloatVector.fromArray(S, c, co + 5 * ldc)).intoArray(c, co + 5 * ldc);
        } else {
            c0.intoArray(c, co);
            c1.intoArray(c, co + ldc);
            c2.intoArray(c, co + 2 * ldc);
            c3.intoArray(c, co + 3 * ldc);
            c4.intoArray(c, co + 4 * ldc);
            c5.intoArray(c, co + 5 * ldc);
        }
    }

    /**
     * 4 rows × 3 vectors of C (+)= Σ_p x(r, p)·B(p, ·) over p in [0, kb), row r of x at {@code x[xo + r·lda]} (depth
     * contiguous), B's rows at {@code b[bo + p·ldb]}: per step 3 loads of B, 4 broadcasts, 12 FMAs into 12
     * accumulators; each element one fma chain in order from zero, added to C when {@code acc}.
     */
    private static void panel4x3r(float[] c, int co, int ldc, float[] x, int xo, int lda, float[] b, int bo, int ldb, int kb, boolean acc) {
        FloatVector c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32;
        c00 = FloatVector.zero(S);
        c01 = c02 = c10 = c11 = c12 = c20 = c21 = c22 = c30 = c31 = c32 = c00;
        int x1 = lda, x2 = 2 * lda, x3 = 3 * lda;
        for (int p = 0; p < kb; p++, bo += ldb, xo++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo), b1 = FloatVector.fromArray(S, b, bo + L), b2 = FloatVector.fromArray(S, b, bo + 2 * L);
            FloatVector v = FloatVector.broadcast(S, x[xo]);
            c00 = v.fma(b0, c00);
            c01 = v.fma(b1, c01);
            c02 = v.fma(b2, c02);
            v = FloatVector.broadcast(S, x[xo + x1]);
            c10 = v.fma(b0, c10);
            c11 = v.fma(b1, c11);
            c12 = v.fma(b2, c12);
            v = FloatVector.broadcast(S, x[xo + x2]);
            c20 = v.fma(b0, c20);
            c21 = v.fma(b1, c21);
            c22 = v.fma(b2, c22);
            v = FloatVector.broadcast(S, x[xo + x3]);
            c30 = v.fma(b0, c30);
            c31 = v.fma(b1, c31);
            c32 = v.fma(b2, c32);
        }
        if (acc) {
            c00.add(FloatVector.fromArray(S, c, co)).intoArray(c, co);
            c01.add(FloatVector.fromArray(S, c, co + L)).intoArray(c, co + L);
            c02.add(FloatVector.fromArray(S, c, co + 2 * L)).intoArray(c, co + 2 * L);
            c10.add(FloatVector.fromArray(S, c, co + ldc)).intoArray(c, co + ldc);
            c11.add(FloatVector.fromArray(S, c, co + ldc + L)).intoArray(c, co + ldc + L);
            c12.add(FloatVector.fromArray(S, c, co + ldc + 2 * L)).intoArray(c, co + ldc + 2 * L);
            c20.add(FloatVector.fromArray(S, c, co + 2 * ldc)).intoArray(c, co + 2 * ldc);
            c21.add(FloatVector.fromArray(S, c, co + 2 * ldc + L)).intoArray(c, co + 2 * ldc + L);
            c22.add(FloatVector.fromArray(S, c, co + 2 * ldc + 2 * L)).intoArray(c, co + 2 * ldc + 2 * L);
            c30.add(FloatVector.fromArray(S, c, co + 3 * ldc)).intoArray(c, co + 3 * ldc);
            c31.add(FloatVector.fromArray(S, c, co + 3 * ldc + L)).intoArray(c, co + 3 * ldc + L);
            c32.add(FloatVector.fromArray(S, c, co + 3 * ldc + 2 * L)).intoArray(c, co + 3 * ldc + 2 * L);
        } else {
            c00.intoArray(c, co);
            c01.intoArray(c, co + L);
            c02.intoArray(c, co + 2 * L);
            c10.intoArray(c, co + ldc);
            c11.intoArray(c, co + ldc + L);
            c12.intoArray(c, co + ldc + 2 * L);
            c20.intoArray(c, co + 2 * ldc);
            c21.intoArray(c, co + 2 * ldc + L);
            c22.intoArray(c, co + 2 * ldc + 2 * L);
            c30.intoArray(c, co + 3 * ldc);
            c31.intoArray(c, co + 3 * ldc + L);
            c32.intoArray(c, co + 3 * ldc + 2 * L);
        }
    }

    /** {@link #panel4x3r} two vectors wide (8 accumulators). */
    private static void panel4x2r(float[] c, int co, int ldc, float[] x, int xo, int lda, float[] b, int bo, int ldb, int kb, boolean acc) {
        FloatVector c00, c01, c10, c11, c20, c21, c30, c31;
        c00 = FloatVector.zero(S);
        c01 = c10 = c11 = c20 = c21 = c30 = c31 = c00;
        int x1 = lda, x2 = 2 * lda, x3 = 3 * lda;
        for (int p = 0; p < kb; p++, bo += ldb, xo++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo), b1 = FloatVector.fromArray(S, b, bo + L);
            FloatVector v = FloatVector.broadcast(S, x[xo]);
            c00 = v.fma(b0, c00);
            c01 = v.fma(b1, c01);
            v = FloatVector.broadcast(S, x[xo + x1]);
            c10 = v.fma(b0, c10);
            c11 = v.fma(b1, c11);
            v = FloatVector.broadcast(S, x[xo + x2]);
            c20 = v.fma(b0, c20);
            c21 = v.fma(b1, c21);
            v = FloatVector.broadcast(S, x[xo + x3]);
            c30 = v.fma(b0, c30);
            c31 = v.fma(b1, c31);
        }
        if (acc) {
            c00.add(FloatVector.fromArray(S, c, co)).intoArray(c, co);
            c01.add(FloatVector.fromArray(S, c, co + L)).intoArray(c, co + L);
            c10.add(FloatVector.fromArray(S, c, co + ldc)).intoArray(c, co + ldc);
            c11.add(FloatVector.fromArray(S, c, co + ldc + L)).intoArray(c, co + ldc + L);
            c20.add(FloatVector.fromArray(S, c, co + 2 * ldc)).intoArray(c, co + 2 * ldc);
            c21.add(FloatVector.fromArray(S, c, co + 2 * ldc + L)).intoArray(c, co + 2 * ldc + L);
            c30.add(FloatVector.fromArray(S, c, co + 3 * ldc)).intoArray(c, co + 3 * ldc);
            c31.add(FloatVector.fromArray(S, c, co + 3 * ldc + L)).intoArray(c, co + 3 * ldc + L);
        } else {
            c00.intoArray(c, co);
            c01.intoArray(c, co + L);
            c10.intoArray(c, co + ldc);
            c11.intoArray(c, co + ldc + L);
            c20.intoArray(c, co + 2 * ldc);
            c21.intoArray(c, co + 2 * ldc + L);
            c30.intoArray(c, co + 3 * ldc);
            c31.intoArray(c, co + 3 * ldc + L);
        }
    }


    /**
     * 8 rows × 1 vector (8 accumulators, 8 broadcasts + 1 load per 8 FMAs), the one shape both layouts of A use, so
     * it reads A(r, p) = {@code a[ao + r·ars + p·acs]}: packed 8-row panels (ars = 1, acs = 8; a product one vector
     * wide) and x in place (ars = lda, acs = 1; the last 1-vector strip of {@link #rowMajorTiles4}, where a 4 × 1 tile
     * has too few chains). Over packed panels on AVX2 the strided form showed no consistent cost against constant
     * offsets (FmaCeiling altstride: 0.86–1.04× the GFLOP/s at load 17–20; a copy over 128-deep panels: 0.62–1.05×
     * the time per round), unlike 6 × 2 (see above {@link #panel8x2}); its packed use is AVX-512's (a product one
     * vector wide), which this machine cannot time.
     */
    private static void panel8x1(float[] c, int co, int ldc, float[] a, int ao, int ars, int acs, float[] b, int bo, int ldb,
                                 int kb, boolean acc) {
        FloatVector c0, c1, c2, c3, c4, c5, c6, c7;
        c0 = FloatVector.zero(S);
        c1 = c2 = c3 = c4 = c5 = c6 = c7 = c0;
        int a1 = ars, a2 = 2 * ars, a3 = 3 * ars, a4 = 4 * ars, a5 = 5 * ars, a6 = 6 * ars, a7 = 7 * ars;
        for (int p = 0; p < kb; p++, bo += ldb, ao += acs) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo);
            c0 = FloatVector.broadcast(S, a[ao]).fma(b0, c0);
            c1 = FloatVector.broadcast(S, a[ao + a1]).fma(b0, c1);
            c2 = FloatVector.broadcast(S, a[ao + a2]).fma(b0, c2);
            c3 = FloatVector.broadcast(S, a[ao + a3]).fma(b0, c3);
            c4 = FloatVector.broadcast(S, a[ao + a4]).fma(b0, c4);
            c5 = FloatVector.broadcast(S, a[ao + a5]).fma(b0, c5);
            c6 = FloatVector.broadcast(S, a[ao + a6]).fma(b0, c6);
            c7 = FloatVector.broadcast(S, a[ao + a7]).fma(b0, c7);
        }
        if (acc) {
            c0.add(FloatVector.fromArray(S, c, co)).intoArray(c, co);
            c1.add(FloatVector.fromArray(S, c, co + ldc)).intoArray(c, co + ldc);
            c2.add(FloatVector.fromArray(S, c, co + 2 * ldc)).intoArray(c, co + 2 * ldc);
            c3.add(FloatVector.fromArray(S, c, co + 3 * ldc)).intoArray(c, co + 3 * ldc);
            c4.add(FloatVector.fromArray(S, c, co + 4 * ldc)).intoArray(c, co + 4 * ldc);
            c5.add(FloatVector.fromArray(S, c, co + 5 * ldc)).intoArray(c, co + 5 * ldc);
            c6.add(FloatVector.fromArray(S, c, co + 6 * ldc)).intoArray(c, co + 6 * ldc);
            c7.add(FloatVector.fromArray(S, c, co + 7 * ldc)).intoArray(c, co + 7 * ldc);
        } else {
            c0.intoArray(c, co);
            c1.intoArray(c, co + ldc);
            c2.intoArray(c, co + 2 * ldc);
            c3.intoArray(c, co + 3 * ldc);
            c4.intoArray(c, co + 4 * ldc);
            c5.intoArray(c, co + 5 * ldc);
            c6.intoArray(c, co + 6 * ldc);
            c7.intoArray(c, co + 7 * ldc);
        }
    }
}
