package normlab.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Dense matrix products on flat row-major arrays, the three that Linear and Conv2d (via im2col) need. Outputs first,
 * then inputs, then sizes. {@link Kernels#simd()} off selects the scalar reference loops.
 *
 * <p>The SIMD paths are Vector API register tiles, split over {@link Parallel}'s pool by rows of the output (each
 * output element is computed by one task, with the same sequence of operations at any thread count):
 * <ul>
 *   <li>C (+)= A·B with B's rows contiguous (dx = dy·W, dW += dyᵀ·x, and x·Wᵀ for small K after transposing W into a
 *       workspace): a 4-row × 2-vector tile of accumulators, one broadcast of A and two loads of B per 8 FMAs,
 *       masked lanes for the last columns;</li>
 *   <li>x·Wᵀ with K ≥ {@link #DOT_MIN_K}: dot products of contiguous rows, a 2 × 4 tile of lane accumulators.</li>
 * </ul>
 * Why no native BLAS: see normlab-bench's README (the JNI route measured slower on these small shapes, and the
 * engine stays a pure-Java artifact).
 */
public final class Gemm {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Below this K, x·Wᵀ transposes W and uses the outer-product tile (dot products would be mostly tail). */
    static final int DOT_MIN_K = 64;
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
        if (k < DOT_MIN_K) {
            // Wᵀ (K×M) into a workspace, then the outer-product tile: y = x·Wᵀ.
            float[] wt = new float[k * m];
            for (int j = 0; j < m; j++)
                for (int p = 0; p < k; p++) wt[p * m + j] = w[j * k + p];
            tiled(y, x, k, 1, wt, n, m, k, false);
            return;
        }
        int pairs = (n + 1) / 2;
        Parallel.forRange(pairs, Math.max(1, GRAIN_FLOPS / Math.max(1, 2 * k * m)), (lo, hi) ->
                dotRows(y, x, w, 2 * lo, Math.min(n, 2 * hi), k, m));
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
        int panels = (rows + 3) / 4;
        Parallel.forRange(panels, Math.max(1, GRAIN_FLOPS / Math.max(1, 4 * cols * depth)), (lo, hi) -> {
            for (int pi = lo; pi < hi; pi++) {
                int i0 = 4 * pi;
                if (i0 + 4 <= rows) tile4(c, a, ars, acs, b, i0, cols, depth, acc);
                else for (int i = i0; i < rows; i++) tile1(c, a, ars, acs, b, i, cols, depth, acc);
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
        for (; j < n; j += L) {
            VectorMask<Float> mk = S.indexInRange(j, n);
            FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0;
            for (int p = 0, bo = j, ao = 0; p < kd; p++, bo += n, ao += acs) {
                FloatVector b0 = FloatVector.fromArray(S, b, bo, mk);
                c0 = FloatVector.broadcast(S, a[a0 + ao]).fma(b0, c0);
                c1 = FloatVector.broadcast(S, a[a1 + ao]).fma(b0, c1);
                c2 = FloatVector.broadcast(S, a[a2 + ao]).fma(b0, c2);
                c3 = FloatVector.broadcast(S, a[a3 + ao]).fma(b0, c3);
            }
            storeMasked(c, i0 * n + j, c0, acc, mk);
            storeMasked(c, (i0 + 1) * n + j, c1, acc, mk);
            storeMasked(c, (i0 + 2) * n + j, c2, acc, mk);
            storeMasked(c, (i0 + 3) * n + j, c3, acc, mk);
        }
    }

    /** One row of C (the last rows when M is not a multiple of 4); same per-element arithmetic as {@link #tile4}. */
    private static void tile1(float[] c, float[] a, int ars, int acs, float[] b, int i, int n, int kd, boolean acc) {
        int a0 = i * ars;
        for (int j = 0; j < n; j += L) {
            VectorMask<Float> mk = S.indexInRange(j, n);
            FloatVector c0 = FloatVector.zero(S);
            for (int p = 0, bo = j, ao = 0; p < kd; p++, bo += n, ao += acs) {
                c0 = FloatVector.broadcast(S, a[a0 + ao]).fma(FloatVector.fromArray(S, b, bo, mk), c0);
            }
            storeMasked(c, i * n + j, c0, acc, mk);
        }
    }

    private static void store(float[] c, int o, FloatVector v, boolean acc) {
        if (acc) v = v.add(FloatVector.fromArray(S, c, o));
        v.intoArray(c, o);
    }

    private static void storeMasked(float[] c, int o, FloatVector v, boolean acc, VectorMask<Float> mk) {
        if (acc) v = v.add(FloatVector.fromArray(S, c, o, mk));
        v.intoArray(c, o, mk);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Dot-product tiles for x·Wᵀ with long rows.

    /** Rows [i0, i1) of y = x·Wᵀ: two rows of x against four rows of w (8 lane accumulators), then the remainders. */
    private static void dotRows(float[] y, float[] x, float[] w, int i0, int i1, int k, int m) {
        int bound = S.loopBound(k);
        int i = i0;
        for (; i + 1 < i1; i += 2) {
            int x0 = i * k, x1 = x0 + k;
            int j = 0;
            for (; j + 3 < m; j += 4) {
                int w0 = j * k, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k;
                FloatVector a00 = FloatVector.zero(S), a01 = a00, a02 = a00, a03 = a00;
                FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
                int p = 0;
                for (; p < bound; p += L) {
                    FloatVector xa = FloatVector.fromArray(S, x, x0 + p);
                    FloatVector xb = FloatVector.fromArray(S, x, x1 + p);
                    FloatVector v0 = FloatVector.fromArray(S, w, w0 + p);
                    FloatVector v1 = FloatVector.fromArray(S, w, w1 + p);
                    FloatVector v2 = FloatVector.fromArray(S, w, w2 + p);
                    FloatVector v3 = FloatVector.fromArray(S, w, w3 + p);
                    a00 = xa.fma(v0, a00); a01 = xa.fma(v1, a01); a02 = xa.fma(v2, a02); a03 = xa.fma(v3, a03);
                    a10 = xb.fma(v0, a10); a11 = xb.fma(v1, a11); a12 = xb.fma(v2, a12); a13 = xb.fma(v3, a13);
                }
                if (p < k) { // the last K % L values in masked lanes (zeros elsewhere)
                    VectorMask<Float> mk = S.indexInRange(p, k);
                    FloatVector xa = FloatVector.fromArray(S, x, x0 + p, mk);
                    FloatVector xb = FloatVector.fromArray(S, x, x1 + p, mk);
                    FloatVector v0 = FloatVector.fromArray(S, w, w0 + p, mk);
                    FloatVector v1 = FloatVector.fromArray(S, w, w1 + p, mk);
                    FloatVector v2 = FloatVector.fromArray(S, w, w2 + p, mk);
                    FloatVector v3 = FloatVector.fromArray(S, w, w3 + p, mk);
                    a00 = xa.fma(v0, a00); a01 = xa.fma(v1, a01); a02 = xa.fma(v2, a02); a03 = xa.fma(v3, a03);
                    a10 = xb.fma(v0, a10); a11 = xb.fma(v1, a11); a12 = xb.fma(v2, a12); a13 = xb.fma(v3, a13);
                }
                int o0 = i * m + j, o1 = o0 + m;
                y[o0] = sum(a00); y[o0 + 1] = sum(a01); y[o0 + 2] = sum(a02); y[o0 + 3] = sum(a03);
                y[o1] = sum(a10); y[o1 + 1] = sum(a11); y[o1 + 2] = sum(a12); y[o1 + 3] = sum(a13);
            }
            for (; j < m; j++) {
                y[i * m + j] = dot(x, x0, w, j * k, k);
                y[(i + 1) * m + j] = dot(x, x1, w, j * k, k);
            }
        }
        for (; i < i1; i++) {
            for (int j = 0; j < m; j++) y[i * m + j] = dot(x, i * k, w, j * k, k);
        }
    }

    private static float sum(FloatVector v) {
        return v.reduceLanes(VectorOperators.ADD);
    }

    /** Σ a[ao+p]·b[bo+p], same lane arithmetic as the tile in {@link #dotRows}. */
    private static float dot(float[] a, int ao, float[] b, int bo, int k) {
        int bound = S.loopBound(k);
        FloatVector acc = FloatVector.zero(S);
        int p = 0;
        for (; p < bound; p += L) {
            acc = FloatVector.fromArray(S, a, ao + p).fma(FloatVector.fromArray(S, b, bo + p), acc);
        }
        if (p < k) {
            VectorMask<Float> mk = S.indexInRange(p, k);
            acc = FloatVector.fromArray(S, a, ao + p, mk).fma(FloatVector.fromArray(S, b, bo + p, mk), acc);
        }
        return sum(acc);
    }
}
