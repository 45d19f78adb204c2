package normlab.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import normlab.kernels.Kernels;
import normlab.kernels.Parallel;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The specialised paths of the CNN layers against plain reference loops written here: MaxPool2d's 2×2/stride-2 path
 * (ties → first in row-major order, NaN wins, odd sizes leave the last row/column out) for outputs and routed
 * gradients, at 1 and 2 threads, reused buffers included; ReLU's vector path (NaN stays NaN, −0 → 0, gradient only
 * where x > 0) against the scalar path.
 */
class PoolingFastPathTest {
    private static Tensor ties(Rng rng, int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) {
            int r = rng.nextInt(12);
            t.data[i] = r == 0 ? Float.NaN : r == 1 ? -0f : (float) (r % 4) - 1; // many ties, some NaN
        }
        return t;
    }

    @Test
    void maxPool2x2MatchesTheDefinition() {
        int old = Parallel.threads();
        boolean simd0 = Kernels.simd();
        try {
            for (boolean simd : new boolean[] {true, false}) {
                Kernels.setSimd(simd);
                for (int threads : new int[] {1, 2}) {
                    Parallel.setThreads(threads);
                    // planes of fewer outputs than one vector, of several vectors plus a tail (14×14, 7×16), odd sizes
                    for (int[] sh : new int[][] {{3, 5, 7, 9}, {2, 3, 28, 28}, {2, 2, 15, 33}, {1, 1, 2, 2}}) {
                        int n = sh[0], c = sh[1], h = sh[2], w = sh[3], oh = h / 2, ow = w / 2;
                        MaxPool2d pool = new MaxPool2d(2);
                        pool.reuseOutputs(true);
                        Rng rng = new Rng(threads * 7L + h);
                        for (int call = 0; call < 2; call++) {
                            Tensor x = ties(rng, n, c, h, w), dy = Tensor.zeros(n, c, oh, ow);
                            for (int i = 0; i < dy.numel(); i++) dy.data[i] = i % 5 == 0 ? -0f : i + 1;
                            Tensor y = pool.forward(x), dx = pool.backward(dy);
                            float[] wantY = new float[dy.numel()], wantDx = new float[x.numel()];
                            for (int nc = 0; nc < n * c; nc++)
                                for (int a = 0; a < oh; a++)
                                    for (int b = 0; b < ow; b++) {
                                        int arg = -1;
                                        for (int i = 0; i < 2; i++)
                                            for (int j = 0; j < 2; j++) {
                                                int at = nc * h * w + (2 * a + i) * w + 2 * b + j;
                                                float v = x.data[at];
                                                if (arg < 0 || v > x.data[arg] || Float.isNaN(v) && !Float.isNaN(x.data[arg])) arg = at;
                                            }
                                        int o = (nc * oh + a) * ow + b;
                                        wantY[o] = x.data[arg];
                                        wantDx[arg] += dy.data[o];
                                    }
                            String what = "simd " + simd + " threads " + threads + " shape " + java.util.Arrays.toString(sh) + " call " + call;
                            assertArrayEquals(wantY, y.data, what);
                            assertArrayEquals(wantDx, dx.data, what);
                        }
                    }
                }
            }
        } finally {
            Kernels.setSimd(simd0);
            Parallel.setThreads(old);
        }
    }

    @Test
    void reluVectorPathEqualsScalarPath() {
        boolean simd = Kernels.simd();
        try {
            Rng rng = new Rng(3);
            Tensor x = ties(rng, 7, 101), dy = Tensor.zeros(7, 101);
            for (int i = 0; i < dy.numel(); i++) dy.data[i] = (float) rng.nextGaussian();
            float[][] out = new float[2][], grad = new float[2][];
            for (int v = 0; v < 2; v++) {
                Kernels.setSimd(v == 1);
                Activation.ReLU r = new Activation.ReLU();
                out[v] = r.forward(x).data.clone();
                grad[v] = r.backward(dy).data.clone();
            }
            for (int i = 0; i < x.numel(); i++) {
                assertEquals(Float.floatToRawIntBits(out[0][i]), Float.floatToRawIntBits(out[1][i]), "y at " + i);
                assertEquals(Float.floatToRawIntBits(grad[0][i]), Float.floatToRawIntBits(grad[1][i]), "dx at " + i);
            }
        } finally {
            Kernels.setSimd(simd);
        }
    }
}
