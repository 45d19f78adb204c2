package normlab.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Dense matrix products on flat row-major arrays, the three that Linear needs. Outputs first, then inputs, then sizes.
 * Each has a Vector API path with a scalar tail; {@link Kernels#simd()} off selects the scalar reference loops.
 */
public final class Gemm {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private Gemm() {}

    /** y[n,m] = Σₖ x[n,k]·w[m,k]  (y = x·Wᵀ; x is N×K, w is M×K, y is N×M; y is overwritten). */
    public static void matmulNT(float[] y, float[] x, float[] w, int n, int k, int m) {
        if (!Kernels.simd()) {
            for (int i = 0; i < n; i++)
                for (int j = 0; j < m; j++) {
                    float s = 0;
                    for (int p = 0; p < k; p++) s += x[i * k + p] * w[j * k + p];
                    y[i * m + j] = s;
                }
            return;
        }
        int bound = S.loopBound(k);
        int i = 0;
        // Two rows of x against four rows of w: 8 vector accumulators, each x/w load reused twice/four times.
        for (; i + 1 < n; i += 2) {
            int x0 = i * k, x1 = x0 + k;
            int j = 0;
            for (; j + 3 < m; j += 4) {
                int w0 = j * k, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k;
                FloatVector a00 = FloatVector.zero(S), a01 = a00, a02 = a00, a03 = a00;
                FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
                int p = 0;
                for (; p < bound; p += S.length()) {
                    FloatVector xa = FloatVector.fromArray(S, x, x0 + p);
                    FloatVector xb = FloatVector.fromArray(S, x, x1 + p);
                    FloatVector v0 = FloatVector.fromArray(S, w, w0 + p);
                    FloatVector v1 = FloatVector.fromArray(S, w, w1 + p);
                    FloatVector v2 = FloatVector.fromArray(S, w, w2 + p);
                    FloatVector v3 = FloatVector.fromArray(S, w, w3 + p);
                    a00 = xa.fma(v0, a00); a01 = xa.fma(v1, a01); a02 = xa.fma(v2, a02); a03 = xa.fma(v3, a03);
                    a10 = xb.fma(v0, a10); a11 = xb.fma(v1, a11); a12 = xb.fma(v2, a12); a13 = xb.fma(v3, a13);
                }
                float s00 = a00.reduceLanes(VectorOperators.ADD), s01 = a01.reduceLanes(VectorOperators.ADD);
                float s02 = a02.reduceLanes(VectorOperators.ADD), s03 = a03.reduceLanes(VectorOperators.ADD);
                float s10 = a10.reduceLanes(VectorOperators.ADD), s11 = a11.reduceLanes(VectorOperators.ADD);
                float s12 = a12.reduceLanes(VectorOperators.ADD), s13 = a13.reduceLanes(VectorOperators.ADD);
                for (; p < k; p++) {
                    float xa = x[x0 + p], xb = x[x1 + p];
                    s00 += xa * w[w0 + p]; s01 += xa * w[w1 + p]; s02 += xa * w[w2 + p]; s03 += xa * w[w3 + p];
                    s10 += xb * w[w0 + p]; s11 += xb * w[w1 + p]; s12 += xb * w[w2 + p]; s13 += xb * w[w3 + p];
                }
                y[i * m + j] = s00; y[i * m + j + 1] = s01; y[i * m + j + 2] = s02; y[i * m + j + 3] = s03;
                y[(i + 1) * m + j] = s10; y[(i + 1) * m + j + 1] = s11; y[(i + 1) * m + j + 2] = s12; y[(i + 1) * m + j + 3] = s13;
            }
            for (; j < m; j++) {
                y[i * m + j] = dot(x, x0, w, j * k, k, bound);
                y[(i + 1) * m + j] = dot(x, x1, w, j * k, k, bound);
            }
        }
        for (; i < n; i++) {
            for (int j = 0; j < m; j++) y[i * m + j] = dot(x, i * k, w, j * k, k, bound);
        }
    }

    private static float dot(float[] a, int ao, float[] b, int bo, int k, int bound) {
        FloatVector acc = FloatVector.zero(S);
        int p = 0;
        for (; p < bound; p += S.length()) {
            acc = FloatVector.fromArray(S, a, ao + p).fma(FloatVector.fromArray(S, b, bo + p), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; p < k; p++) s += a[ao + p] * b[bo + p];
        return s;
    }

    /** dw[m,k] += Σₙ dy[n,m]·x[n,k]  (dW += dyᵀ·x; dy is N×M, x is N×K, dw is M×K). */
    public static void matmulTNAcc(float[] dw, float[] dy, float[] x, int n, int m, int k) {
        for (int j = 0; j < m; j++) {
            int o = j * k;
            for (int i = 0; i < n; i++) {
                float a = dy[i * m + j];
                if (a != 0f) axpy(dw, o, a, x, i * k, k);
            }
        }
    }

    /** dx[n,k] = Σₘ dy[n,m]·w[m,k]  (dx = dy·W; dy is N×M, w is M×K, dx is N×K; dx is overwritten). */
    public static void matmulNN(float[] dx, float[] dy, float[] w, int n, int m, int k) {
        java.util.Arrays.fill(dx, 0, n * k, 0f);
        for (int i = 0; i < n; i++) {
            int o = i * k;
            for (int j = 0; j < m; j++) {
                float a = dy[i * m + j];
                if (a != 0f) axpy(dx, o, a, w, j * k, k);
            }
        }
    }

    /** y[yo..yo+k) += a·x[xo..xo+k). */
    static void axpy(float[] y, int yo, float a, float[] x, int xo, int k) {
        int p = 0;
        if (Kernels.simd()) {
            int bound = S.loopBound(k);
            FloatVector va = FloatVector.broadcast(S, a);
            for (; p < bound; p += S.length()) {
                FloatVector.fromArray(S, x, xo + p).fma(va, FloatVector.fromArray(S, y, yo + p)).intoArray(y, yo + p);
            }
        }
        for (; p < k; p++) y[yo + p] += a * x[xo + p];
    }
}
