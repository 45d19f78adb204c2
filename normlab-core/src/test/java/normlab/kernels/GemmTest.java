package normlab.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import normlab.tensor.Rng;
import normlab.testing.KernelSwitches;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.Test;

/**
 * The three products: SIMD tiles against the scalar reference loops, and bit-identical SIMD results at 1 and 2
 * threads. Shapes: the paper's MLP (forward and both backward products), im2col shapes of a small CNN (K = 9 and 288),
 * and odd sizes that exercise every tail (row remainder, masked columns, K tails).
 *
 * <p>Agreement metric: max |simd − scalar| ≤ 1e-5 · max(1, max |scalar|) · √K (float sums of K products in a
 * different order).
 */
@ExtendWith(KernelSwitches.class)
class GemmTest {
    /** (rows of the left operand, inner K, output columns) as passed to matmulNT(y, x, w, n, k, m). */
    private static final int[][] SHAPES = {
        {60, 784, 100}, {60, 100, 100}, {60, 100, 10}, {32, 9, 784}, {64, 288, 196}, {7, 13, 5}, {1, 1, 1},
        {5, 70, 3}, {9, 17, 33}, {3, 130, 47},
        // depth cut into blocks (> 256 for x·Wᵀ, > 512 otherwise), more than one 64-row group, uneven strips
        {70, 1100, 45}, {130, 40, 300}, {67, 600, 17},
        // x·Wᵀ's dot-product path (depth ≥ 4096, fewer than 2 vectors of columns), with and without a depth tail
        {9, 5000, 13}, {33, 8193, 5}, {4, 4096, 31},
        // x·Wᵀ as yᵀ = W·xᵀ for at most 256 rows: several strips, m mod 5 = 1..4, rows past the last whole vector
        {128, 300, 101}, {100, 64, 4}, {17, 513, 7}, {256, 40, 12}, {257, 30, 9}
    };

    private static float[] rand(Rng rng, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rng.nextGaussian();
        return a;
    }

    /** Runs all three products for one shape; returns {y, dx, dw}. */
    private static float[][] products(int n, int k, int m) {
        Rng rng = new Rng(n * 31L + k * 7L + m);
        float[] x = rand(rng, n * k), w = rand(rng, m * k), dy = rand(rng, n * m);
        float[] y = new float[n * m], dx = new float[n * k], dw = rand(rng, m * k);
        Gemm.matmulNT(y, x, w, n, k, m);
        Gemm.matmulNN(dx, dy, w, n, m, k);
        Gemm.matmulTNAcc(dw, dy, x, n, m, k);
        return new float[][] {y, dx, dw};
    }

    @Test
    void simdAgreesWithScalarReference() {
        for (int[] sh : SHAPES) {
            Kernels.setSimd(false);
            float[][] ref = products(sh[0], sh[1], sh[2]);
            Kernels.setSimd(true);
            float[][] got = products(sh[0], sh[1], sh[2]);
            int[] depth = {sh[1], sh[2], sh[0]};
            for (int t = 0; t < 3; t++) {
                double maxRef = 0, maxErr = 0;
                for (int i = 0; i < ref[t].length; i++) {
                    maxRef = Math.max(maxRef, Math.abs(ref[t][i]));
                    maxErr = Math.max(maxErr, Math.abs(ref[t][i] - got[t][i]));
                }
                double tol = 1e-5 * Math.max(1, maxRef) * Math.sqrt(depth[t]);
                assertTrue(maxErr <= tol, "shape " + java.util.Arrays.toString(sh) + " product " + t + ": max err "
                        + maxErr + " > " + tol);
            }
        }
    }

    /**
     * x·Wᵀ of a few rows (the yᵀ = W·xᵀ path, up to 256 rows) gives the same bits as the same rows inside a taller x
     * (the general tiles): both cut the depth into the same blocks, so a row's result does not depend on the batch.
     */
    @Test
    void fewRowsProductIsBitIdenticalToTheGeneralTiles() {
        Kernels.setSimd(true);
        for (int[] sh : new int[][] {{60, 784, 100}, {128, 300, 101}, {256, 200, 37}, {5, 1100, 13}, {1, 100, 10}, {33, 70, 3}}) {
            int n = sh[0], k = sh[1], m = sh[2], tall = 300;
            Rng rng = new Rng(n * 13L + k + m);
            float[] x = rand(rng, tall * k), w = rand(rng, m * k), yTall = new float[tall * m], yFew = new float[n * m];
            Gemm.matmulNT(yTall, x, w, tall, k, m);
            Gemm.matmulNT(yFew, java.util.Arrays.copyOf(x, n * k), w, n, k, m);
            assertArrayEquals(java.util.Arrays.copyOf(yTall, n * m), yFew, "shape " + java.util.Arrays.toString(sh));
        }
    }

    /**
     * The two register-panel families (8-row panels for 32 registers, 6-row panels for AVX2's 16) give the same bits:
     * a tile's shape never changes an element's fma chain. Covers partial panels (rows mod 6 and mod 8), odd vector
     * counts (the 3-vector and 1-vector last strips), depth blocks, the packed entry points with both packings, and
     * packs whose depth is not a multiple of the gather span (4 steps for 6 rows of 8 lanes).
     */
    @Test
    void panelFamiliesAreBitIdentical() {
        Kernels.setSimd(true);
        int l = Gemm.lanes();
        int old = Gemm.panelRows();
        try {
            for (int[] sh : new int[][] {{300, 784, 100}, {64, 288, 196}, {7, 13, 5}, {13, 130, 47}, {97, 600, 3 * l}, {5, 3, l}, {61, 101, 37}, {49, 7, 13 * l}}) {
                Gemm.setPanelRows(8);
                float[][] wide = products(sh[0], sh[1], sh[2]);
                float[] wideP = packed(sh[0], sh[1], sh[2]);
                Gemm.setPanelRows(6);
                float[][] narrow = products(sh[0], sh[1], sh[2]);
                float[] narrowP = packed(sh[0], sh[1], sh[2]);
                for (int t = 0; t < 3; t++) assertArrayEquals(wide[t], narrow[t], "shape " + java.util.Arrays.toString(sh) + " product " + t);
                assertArrayEquals(wideP, narrowP, "packed " + java.util.Arrays.toString(sh));
            }
        } finally {
            Gemm.setPanelRows(old);
        }
    }

    /**
     * matmulNTPacked (Wᵀ packed once; with 6-row panels x is read in place by 4-row tiles, all depth blocks in one item) gives
     * matmulNT's bits, in both panel families and with the in-place path off, at 1 and 2 threads: rows mod 6 and
     * mod 8 tails, odd vector counts, depths of one and several blocks.
     */
    @Test
    void packedNTMatchesMatmulNTInBothFamilies() {
        Kernels.setSimd(true);
        int old = Gemm.panelRows();
        try {
            // m = 100, 37, 9, 13, 33, 24, 8, 50: 13, 5, 2, 2, 5, 3, 1, 7 vectors with AVX2 (every remainder of the eval
            // tile's 3-vector strips), n = 64, 61, 5, 300, 7, 1, 3, 66: full and partial panels of 4, 6 and 8 rows
            for (int[] sh : new int[][] {{64, 784, 100}, {61, 300, 37}, {5, 513, 9}, {300, 100, 13}, {7, 1100, 33}, {1, 40, 24},
                                         {3, 77, 8}, {66, 129, 50}}) {
                int n = sh[0], k = sh[1], m = sh[2];
                Rng rng = new Rng(n * 7L + k * 3L + m);
                float[] x = rand(rng, n * k), w = rand(rng, m * k), want = new float[n * m];
                Gemm.matmulNT(want, x, w, n, k, m);
                float[] wt = Gemm.packNT(w, k, m);
                for (int rows : new int[] {8, 6}) {
                    Gemm.setPanelRows(rows);
                    for (boolean inPlace : new boolean[] {true, false}) {
                        boolean was = Gemm.setRowMajorA(inPlace);
                        for (int t : new int[] {1, 2}) {
                            Parallel.setThreads(t);
                            float[] got = new float[n * m];
                            Gemm.matmulNTPacked(got, x, wt, w, n, k, m);
                            assertArrayEquals(want, got, java.util.Arrays.toString(sh) + " rows " + rows + " in place " + inPlace
                                    + " threads " + t);
                        }
                        Gemm.setRowMajorA(was);
                    }
                }
            }
        } finally {
            Gemm.setPanelRows(old);
        }
    }

    /** packA (row- and column-major A) + multiplyPacked with accumulation, both results concatenated. */
    private static float[] packed(int rows, int depth, int cols0) {
        int cols = (cols0 + Gemm.lanes() - 1) / Gemm.lanes() * Gemm.lanes();
        Rng rng = new Rng(rows * 3L + depth * 5L + cols);
        float[] a = rand(rng, rows * depth), b = rand(rng, depth * cols), c = rand(rng, 2 * rows * cols);
        float[] aCol = new float[rows * depth];
        for (int i = 0; i < rows; i++) for (int p = 0; p < depth; p++) aCol[p * rows + i] = a[i * depth + p];
        float[] ap = new float[Gemm.packedSize(rows, depth)], apc = new float[Gemm.packedSize(rows, depth)];
        Gemm.packA(ap, 0, a, 0, depth, 1, rows, depth);
        Gemm.packA(apc, 0, aCol, 0, 1, rows, rows, depth);
        Gemm.multiplyPacked(c, 0, cols, ap, 0, rows, depth, b, 0, cols, cols, true);
        Gemm.multiplyPacked(c, rows * cols, cols, apc, 0, rows, depth, b, 0, cols, cols, false);
        return c;
    }

    @Test
    void simdIsBitIdenticalAtOneAndTwoThreads() {
        Kernels.setSimd(true);
        for (int[] sh : new int[][] {{60, 784, 100}, {256, 288, 196}, {1000, 9, 64}, {61, 101, 37}, {128, 300, 101}, {70, 1100, 45}, {130, 600, 300}, {33, 8193, 5}, {64, 6000, 9}}) {
            Parallel.setThreads(1);
            float[][] one = products(sh[0], sh[1], sh[2]);
            Parallel.setThreads(2);
            float[][] two = products(sh[0], sh[1], sh[2]);
            for (int t = 0; t < 3; t++) assertArrayEquals(one[t], two[t], "shape " + java.util.Arrays.toString(sh) + " product " + t);
        }
    }

    /**
     * The entry points Conv2d uses per sample: A packed once ({@code packA} + {@code multiplyPacked}), row-major and
     * column-major, with offsets, output row strides wider than the columns, partial 8-row panels and
     * accumulation, against the direct sum in double; and {@code transpose}.
     */
    @Test
    void packedAndStridedProductsMatchTheDefinition() {
        int l = Gemm.lanes();
        for (boolean simd : new boolean[] {true, false}) {
            Kernels.setSimd(simd);
            for (int[] sh : new int[][] {{64, 288, 13 * l}, {288, 64, 13 * l}, {9, 784, 2 * l}, {5, 7, l}, {17, 3, 3 * l}, {1, 1, l}}) {
                int rows = sh[0], depth = sh[1], cols = sh[2], ldc = cols + 3, aOff = 5, bOff = 11, cOff = 2;
                Rng rng = new Rng(rows * 131L + depth * 7L + cols);
                // A row-major with an offset (ars = depth, acs = 1) and column-major (ars = 1, acs = rows)
                float[] aRow = rand(rng, aOff + rows * depth), aCol = new float[aOff + rows * depth];
                for (int i = 0; i < rows; i++) for (int p = 0; p < depth; p++) aCol[aOff + p * rows + i] = aRow[aOff + i * depth + p];
                float[] b = rand(rng, bOff + depth * cols), c0 = rand(rng, cOff + rows * ldc);
                for (boolean acc : new boolean[] {false, true}) {
                    double[] want = new double[rows * cols];
                    for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) {
                        double sum = acc ? c0[cOff + i * ldc + j] : 0;
                        for (int p = 0; p < depth; p++) sum += (double) aRow[aOff + i * depth + p] * b[bOff + p * cols + j];
                        want[i * cols + j] = sum;
                    }
                    float[] ap = new float[3 + Gemm.packedSize(rows, depth)], apc = new float[Gemm.packedSize(rows, depth)];
                    Gemm.packA(ap, 3, aRow, aOff, depth, 1, rows, depth);
                    Gemm.packA(apc, 0, aCol, aOff, 1, rows, rows, depth);
                    float[][] got = {c0.clone(), c0.clone()};
                    Gemm.multiplyPacked(got[0], cOff, ldc, ap, 3, rows, depth, b, bOff, cols, cols, acc);
                    Gemm.multiplyPacked(got[1], cOff, ldc, apc, 0, rows, depth, b, bOff, cols, cols, acc);
                    for (float[] g : got) {
                        for (int i = 0; i < rows; i++) {
                            for (int j = 0; j < cols; j++) {
                                double w = want[i * cols + j], e = Math.abs(g[cOff + i * ldc + j] - w);
                                assertTrue(e <= 1e-5 * Math.sqrt(depth) * Math.max(1, Math.abs(w) + 1),
                                        "simd " + simd + " shape " + java.util.Arrays.toString(sh) + " acc " + acc + " at " + i + "," + j);
                            }
                            // columns past cols in a wider row stay untouched
                            for (int j = cols; j < ldc && cOff + i * ldc + j < g.length; j++) assertTrue(g[cOff + i * ldc + j] == c0[cOff + i * ldc + j]);
                        }
                    }
                }
            }
        }
        // dotsAcc: c (+)= a·bᵀ along a depth of whole vectors, with offsets and strides, 4×4 tiles and their remainders
        for (boolean simd : new boolean[] {true, false}) {
            Kernels.setSimd(simd);
            for (int[] sh : new int[][] {{32, 9, 49 * l}, {5, 7, 2 * l}, {8, 4, l}, {3, 2, 3 * l}}) {
                int rows = sh[0], cols = sh[1], depth = sh[2], lda = depth + 3, ldb = depth + 1, ldc = cols + 2;
                Rng rng = new Rng(rows * 17L + cols);
                float[] a = rand(rng, 4 + rows * lda), b = rand(rng, 6 + cols * ldb), c = rand(rng, 1 + rows * ldc), c0 = c.clone();
                Gemm.dotsAcc(c, 1, ldc, a, 4, lda, b, 6, ldb, rows, cols, depth);
                for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) {
                    double want = c0[1 + i * ldc + j];
                    for (int p = 0; p < depth; p++) want += (double) a[4 + i * lda + p] * b[6 + j * ldb + p];
                    assertTrue(Math.abs(c[1 + i * ldc + j] - want) <= 1e-5 * Math.sqrt(depth) * (1 + Math.abs(want)),
                            "dotsAcc simd " + simd + " " + java.util.Arrays.toString(sh) + " at " + i + "," + j);
                }
            }
        }
        float[] src = new float[3 + 5 * 9], dst = new float[2 + 9 * 7];
        for (int i = 0; i < src.length; i++) src[i] = i;
        Gemm.transpose(dst, 2, 7, src, 3, 9, 5, 9);
        for (int i = 0; i < 5; i++) for (int j = 0; j < 9; j++) assertTrue(dst[2 + j * 7 + i] == src[3 + i * 9 + j]);
    }
}
