package normlab.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Dense matrix products on flat row-major arrays, the three that Linear and Conv2d (via im2col) need. Outputs first,
 * then inputs, then sizes. {@link Kernels#simd()} off selects the scalar reference loops.
 *
 * <p>The SIMD path is one Vector API register tile for all three, C (+)= A·B with B's rows contiguous (dx = dy·W,
 * dW += dyᵀ·x, and y = x·Wᵀ after transposing W into a workspace): 4 rows × 2 vectors of accumulators, one broadcast
 * of A and two loads of B per 8 FMAs, no horizontal reductions. Every C element is one fma chain over K in order
 * (c = fma(a, b, c)); columns that do not fill a vector go through zero-padded workspaces, so there is no scalar tail
 * and the result does not depend on the tiling. The work is split over {@link Parallel}'s pool by 4-row panels of C,
 * so results are identical at any thread count. Why not a native BLAS: see the README's GEMM section (measured).
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
        // Wᵀ (K×M, rows padded to whole vectors) into a reused workspace: K·M moves against N·K·M multiply-adds.
        int mp = roundUp(m);
        float[] wt = workspace(WT, k * mp);
        for (int j0 = 0; j0 < m; j0 += 32) // 32×32 blocks keep both the reads and the writes in cache lines
            for (int p0 = 0; p0 < k; p0 += 32)
                for (int j = j0; j < Math.min(m, j0 + 32); j++)
                    for (int p = p0; p < Math.min(k, p0 + 32); p++) wt[p * mp + j] = w[j * k + p];
        for (int p = 0; p < k; p++) java.util.Arrays.fill(wt, p * mp + m, p * mp + mp, 0f);
        tiledPadded(y, x, k, 1, wt, n, m, mp, k, false);
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

    private static void tiled(float[] c, float[] a, int ars, int acs, float[] b, int rows, int cols, int depth,
                              boolean acc) {
        int np = roundUp(cols);
        if (np == cols) {
            tiledPadded(c, a, ars, acs, b, rows, cols, cols, depth, acc);
            return;
        }
        // Columns not a whole number of vectors: B and C go through zero-padded workspaces (rows of np), so every
        // column is a vector lane and no scalar tail exists.
        float[] bp = workspace(BP, depth * np);
        for (int p = 0; p < depth; p++) {
            System.arraycopy(b, p * cols, bp, p * np, cols);
            java.util.Arrays.fill(bp, p * np + cols, p * np + np, 0f);
        }
        tiledPadded(c, a, ars, acs, bp, rows, cols, np, depth, acc);
    }

    /**
     * C (+)= A·B where B's rows have stride {@code np} (a multiple of the lane count, zero beyond {@code cols}). When
     * np == cols the tile writes C in place; otherwise each 4-row panel goes through a padded scratch row block.
     */
    private static void tiledPadded(float[] c, float[] a, int ars, int acs, float[] b, int rows, int cols, int np,
                                    int depth, boolean acc) {
        int panels = (rows + 3) / 4;
        boolean direct = np == cols;
        float[] cp = direct ? c : workspace(CP, rows * np);
        Parallel.forRange(panels, Math.max(1, GRAIN_FLOPS / Math.max(1, 4 * np * depth)), (lo, hi) -> {
            int r0 = 4 * lo, r1 = Math.min(rows, 4 * hi);
            if (!direct && acc) {
                for (int i = r0; i < r1; i++) System.arraycopy(c, i * cols, cp, i * np, cols);
            }
            for (int pi = lo; pi < hi; pi++) {
                int i0 = 4 * pi;
                if (i0 + 4 <= rows) tile4(cp, a, ars, acs, b, i0, np, depth, acc);
                else for (int i = i0; i < rows; i++) tile1(cp, a, ars, acs, b, i, np, depth, acc);
            }
            if (!direct) {
                for (int i = r0; i < r1; i++) System.arraycopy(cp, i * np, c, i * cols, cols);
            }
        });
    }

    /** Rows i0..i0+3 of C: for each 2-vector column block, Σ_p A(i,p)·B(p, block) in 8 accumulators. */
    private static void tile4(float[] c, float[] a, int ars, int acs, float[] b, int i0, int n, int kd, boolean acc) {
        int a0 = i0 * ars, a1 = a0 + ars, a2 = a1 + ars, a3 = a2 + ars;
        int j = 0;
        for (; j + 2 * L <= n; j += 2 * L) {
            FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00;
            FloatVector c20 = c00, c21 = c00, c30 = c00, c31 = c00;
            for (int p = 0, bo = j, ao = 0; p < kd; p++, bo += n, ao += acs) {
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
        }
        if (j + L <= n) {
            FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0;
            for (int p = 0, bo = j, ao = 0; p < kd; p++, bo += n, ao += acs) {
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
            j += L;
        }
    }

    /** One row of C (the last rows when M is not a multiple of 4); same per-element arithmetic as {@link #tile4}. */
    private static void tile1(float[] c, float[] a, int ars, int acs, float[] b, int i, int n, int kd, boolean acc) {
        int a0 = i * ars;
        for (int j = 0; j < n; j += L) {
            FloatVector c0 = FloatVector.zero(S);
            for (int p = 0, bo = j, ao = 0; p < kd; p++, bo += n, ao += acs) {
                c0 = FloatVector.broadcast(S, a[a0 + ao]).fma(FloatVector.fromArray(S, b, bo), c0);
            }
            store(c, i * n + j, c0, acc);
        }
    }

    private static void store(float[] c, int o, FloatVector v, boolean acc) {
        if (acc) v = v.add(FloatVector.fromArray(S, c, o));
        v.intoArray(c, o);
    }

}
