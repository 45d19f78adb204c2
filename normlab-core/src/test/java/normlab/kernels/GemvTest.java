package normlab.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import normlab.tensor.Rng;
import normlab.testing.KernelSwitches;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@link Gemv#linear} against a double-precision reference on odd sizes (depth tails k mod L, a last block of W rows
 * with 1…7 rows, 1…16 x rows), with every epilogue, on both kernel paths; its results at 1 and 2 threads and for a
 * row alone or inside a batch are the same bits; {@link Gemm#matmulNTPacked} gives {@link Gemm#matmulNT}'s bits.
 *
 * <p>Agreement: |y − ref| ≤ 1e-5 · (1 + Σ|x·w|) per element (float sums of k products in some order).
 */
@ExtendWith(KernelSwitches.class)
class GemvTest {
    private static final int[][] SHAPES = {{1, 1, 1}, {1, 7, 3}, {2, 9, 5}, {3, 17, 9}, {5, 33, 13}, {7, 100, 10}, {1, 784, 100},
        {4, 100, 100}, {16, 63, 31}, {9, 129, 7}, {13, 8, 8}, {6, 4097, 6}};

    private static float[] rand(Rng r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    private static double ref(Epilogue f, double v) {
        return switch (f) {
            case IDENTITY -> v;
            case RELU -> Math.max(v, 0);
            case SIGMOID -> 1 / (1 + Math.exp(-v));
            case TANH -> Math.tanh(v);
        };
    }

    @Test
    void matchesADoublePrecisionReferenceOnOddSizes() throws Exception {
        KernelSwitches.onBothPaths(simd -> {
            for (int[] s : SHAPES) {
                int n = s[0], k = s[1], m = s[2];
                Rng r = new Rng(n * 1000L + k * 10L + m);
                float[] x = rand(r, n * k), w = rand(r, m * k), b = rand(r, m);
                for (Epilogue f : Epilogue.values()) {
                    for (boolean bias : new boolean[] {true, false}) {
                        float[] y = new float[n * m];
                        java.util.Arrays.fill(y, Float.NaN);
                        Gemv.linear(y, m, x, k, w, bias ? b : null, n, k, m, f);
                        for (int i = 0; i < n; i++) {
                            for (int j = 0; j < m; j++) {
                                double acc = bias ? b[j] : 0, mag = 1;
                                for (int p = 0; p < k; p++) {
                                    acc += (double) x[i * k + p] * w[j * k + p];
                                    mag += Math.abs((double) x[i * k + p] * w[j * k + p]);
                                }
                                double want = ref(f, acc), got = y[i * m + j];
                                String at = "simd=" + simd + " " + n + "x" + k + "->" + m + " " + f + " bias=" + bias + " at (" + i + "," + j + ")";
                                assertTrue(Math.abs(got - want) <= 1e-5 * mag, at + ": got " + got + ", want " + want);
                            }
                        }
                    }
                }
            }
        });
    }

    @Test
    void sameBitsAtAnyThreadCountAndForARowAloneOrInABatch() {
        int n = 11, k = 900, m = 203;
        Rng r = new Rng(5);
        float[] x = rand(r, n * k), w = rand(r, m * k), b = rand(r, m);
        Parallel.setThreads(1);
        float[] one = new float[n * m];
        Gemv.linear(one, m, x, k, w, b, n, k, m, Epilogue.SIGMOID);
        Parallel.setThreads(2);
        float[] two = new float[n * m];
        Gemv.linear(two, m, x, k, w, b, n, k, m, Epilogue.SIGMOID);
        assertArrayEquals(one, two);
        for (int i : new int[] {0, 5, 10}) {
            float[] row = new float[m];
            Gemv.linear(row, m, java.util.Arrays.copyOfRange(x, i * k, i * k + k), k, w, b, 1, k, m, Epilogue.SIGMOID);
            assertArrayEquals(java.util.Arrays.copyOfRange(one, i * m, i * m + m), row, "row " + i + " alone");
        }
    }

    @Test
    void packedProductGivesMatmulNTsBits() {
        for (int[] s : new int[][] {{17, 784, 100}, {64, 100, 100}, {64, 100, 10}, {300, 70, 33}, {5, 5000, 7}, {40, 513, 9}}) {
            int n = s[0], k = s[1], m = s[2];
            Rng r = new Rng(n + k + m);
            float[] x = rand(r, n * k), w = rand(r, m * k);
            float[] want = new float[n * m], got = new float[n * m];
            Gemm.matmulNT(want, x, w, n, k, m);
            Gemm.matmulNTPacked(got, x, Gemm.packNT(w, k, m), w, n, k, m);
            assertArrayEquals(want, got, n + "x" + k + "->" + m);
        }
    }

    @Test
    void epilogueMatchesTheActivationKernelsBitForBit() {
        Rng r = new Rng(9);
        float[] v = rand(r, 37);
        float[] want = new float[37], got = v.clone();
        Elementwise.sigmoid(want, v, 37);
        Gemv.epilogue(got, 0, null, 0, 37, Epilogue.SIGMOID);
        assertArrayEquals(want, got);
        assertEquals(Gemv.preferred(1, 100), true);
    }
}
