package normlab.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import normlab.norm.BatchNorm;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.testing.KernelSwitches;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.Test;

/**
 * BatchNorm's kernels through the layer: the SIMD path agrees with the scalar reference, and the SIMD path gives
 * bit-identical results at 1 and 2 threads. Shapes cover vector tails, several float blocks per row, several row blocks
 * in the channels-last path, and a channel-count tail there.
 *
 * <p>Agreement metric: max |simd − scalar| ≤ tol · max(1, max |scalar|), tol 1e-5 for outputs and 1e-4 for gradients.
 */
@ExtendWith(KernelSwitches.class)
class ChannelKernelsTest {
    /** (N, C, S) shapes; S == 1 is the channels-last path. */
    private static final int[][] SHAPES = {
        {4, 5, 37}, {3, 6, 2 * Lanes.BLOCK + 19}, {2, 3, 16}, {5, 2, 3},
        // 16 channels and more (the fused passes need large tensors too: fusedBackwardEqualsTheSeparatePasses)
        {3, 16, 37}, {2, 21, 2 * Lanes.BLOCK + 5},
        {130, 37, 1}, {70, 48, 1}, {200, 7, 1}, {64, 16, 1},
        // 4-vector channel groups, then single vectors, then scalar channels (L = 16: 83 = 64 + 16 + 3; 100; 131)
        {130, 83, 1}, {60, 100, 1}, {3, 131, 1},
        // wider than GROUPED_C: the row-by-row elementwise passes (300 = 18 vectors + 12)
        {20, 300, 1}
    };

    /** Everything one training step and one eval forward of BatchNorm produce. */
    private static List<float[]> run(int n, int c, int s, long seed, float offset, float scale) {
        Rng rng = new Rng(seed);
        int[] shape = s == 1 ? new int[] {n, c} : new int[] {n, c, s};
        Tensor x = Tensor.zeros(shape), dy = Tensor.zeros(shape);
        for (int i = 0; i < x.numel(); i++) {
            x.data[i] = offset + scale * (float) rng.nextGaussian();
            dy.data[i] = (float) rng.nextGaussian();
        }
        BatchNorm bn = new BatchNorm(c);
        for (int ch = 0; ch < c; ch++) {
            bn.weight.value.data[ch] = 0.5f + rng.nextFloat();
            bn.bias.value.data[ch] = rng.nextFloat() - 0.5f;
        }
        List<float[]> out = new ArrayList<>();
        bn.train();
        out.add(bn.forward(x).data);
        out.add(bn.backward(dy).data);
        out.add(bn.weight.grad.data.clone());
        out.add(bn.bias.grad.data.clone());
        out.add(bn.runningMean.data.clone());
        out.add(bn.runningVar.data.clone());
        bn.eval();
        out.add(bn.forward(x).data);
        out.add(bn.backward(dy).data);
        return out;
    }

    private static final double[] TOL = {1e-5, 1e-4, 1e-4, 1e-4, 1e-5, 1e-5, 1e-5, 1e-4};

    @Test
    void simdAgreesWithScalarReference() {
        for (int[] sh : SHAPES) {
            for (float offset : new float[] {0f, 3f}) {
                Kernels.setSimd(false);
                List<float[]> ref = run(sh[0], sh[1], sh[2], 11, offset, 2f);
                Kernels.setSimd(true);
                List<float[]> got = run(sh[0], sh[1], sh[2], 11, offset, 2f);
                for (int t = 0; t < ref.size(); t++) {
                    double maxRef = 0, maxErr = 0;
                    for (int i = 0; i < ref.get(t).length; i++) {
                        maxRef = Math.max(maxRef, Math.abs(ref.get(t)[i]));
                        maxErr = Math.max(maxErr, Math.abs(ref.get(t)[i] - got.get(t)[i]));
                    }
                    assertTrue(maxErr <= TOL[t] * Math.max(1, maxRef), "shape " + java.util.Arrays.toString(sh)
                            + " tensor " + t + ": max err " + maxErr + " vs max ref " + maxRef);
                }
            }
        }
    }

    @Test
    void simdIsBitIdenticalAtOneAndTwoThreads() {
        Kernels.setSimd(true);
        // Large enough that the kernels really split the work (more than one task of Lanes.GRAIN elements).
        int[][] shapes = {{8, 16, 3000}, {4000, 40, 1}, {3000, 83, 1}, {700, 300, 1}, {6, 3, 1031}};
        for (int[] sh : shapes) {
            Parallel.setThreads(1);
            List<float[]> one = run(sh[0], sh[1], sh[2], 5, 1f, 3f);
            Parallel.setThreads(2);
            List<float[]> two = run(sh[0], sh[1], sh[2], 5, 1f, 3f);
            for (int t = 0; t < one.size(); t++) {
                assertArrayEquals(one.get(t), two.get(t), "shape " + java.util.Arrays.toString(sh) + " tensor " + t);
            }
        }
    }

    /**
     * The SIMD backward in one call (channel by channel for large NCHW tensors) gives the bits of its three steps done
     * apart (backwardSums, the coefficients, backwardDx), at 1 and 2 threads, on shapes that take the fused path and
     * shapes that do not.
     */
    @Test
    void fusedBackwardEqualsTheSeparatePasses() {
        Kernels.setSimd(true);
        ChannelKernels k = Kernels.channel();
        // channel by channel: 2^21 floats with 16 channels, and an odd shape (vector tails, several float blocks per row);
        // then shapes that keep the two passes (small, too few channels, channels last)
        for (int[] sh : new int[][] {{8, 16, 16384}, {5, 17, 24677}, {5, 16, 37}, {4, 7, 100}, {40, 20, 1}}) {
            int n = sh[0], c = sh[1], s = sh[2], size = n * c * s;
            assertEquals(sh[2] > 10000, SimdChannelKernels.channelByChannel(n, c, s), java.util.Arrays.toString(sh));
            Rng rng = new Rng(5);
            float[] x = new float[size], dy = new float[size], muHi = new float[c], muLo = new float[c];
            for (int i = 0; i < size; i++) {
                x[i] = 1f + 2f * (float) rng.nextGaussian();
                dy[i] = (float) rng.nextGaussian();
            }
            for (int ch = 0; ch < c; ch++) {
                muHi[ch] = 1f + 0.1f * (float) rng.nextGaussian();
                muLo[ch] = 1e-8f * (float) rng.nextGaussian();
            }
            float[] a = new float[c], q = new float[c], p = new float[c], dx = new float[size];
            double[] s1 = new double[c], s2 = new double[c];
            ChannelKernels.Coefficients f = (ch, sDy, sDyXmu) -> {
                a[ch] = 0.5f + ch * 0.01f;
                q[ch] = (float) (sDyXmu * 1e-3);
                p[ch] = (float) (sDy * 1e-3);
            };
            k.backwardSums(s1, s2, dy, x, muHi, muLo, n, c, s);
            for (int ch = 0; ch < c; ch++) f.of(ch, s1[ch], s2[ch]);
            k.backwardDx(dx, dy, x, muHi, muLo, a, q, p, n, c, s);
            float[] a0 = a.clone(), q0 = q.clone(), p0 = p.clone();
            for (int threads = 1; threads <= 2; threads++) {
                Parallel.setThreads(threads);
                java.util.Arrays.fill(a, 0f);
                java.util.Arrays.fill(q, 0f);
                java.util.Arrays.fill(p, 0f);
                float[] fdx = new float[size];
                double[] f1 = new double[c], f2 = new double[c];
                k.backward(fdx, f1, f2, dy, x, muHi, muLo, f, a, q, p, n, c, s);
                String what = java.util.Arrays.toString(sh) + ", " + threads + " thread(s)";
                assertArrayEquals(s1, f1, "Σdy " + what);
                assertArrayEquals(s2, f2, "Σdy·(x−μ) " + what);
                assertArrayEquals(a0, a, "a " + what);
                assertArrayEquals(q0, q, "q " + what);
                assertArrayEquals(p0, p, "p " + what);
                assertArrayEquals(dx, fdx, "dx " + what);
            }
        }
    }

    /**
     * The SIMD training forward in one call (channel by channel for large NCHW tensors) gives the bits of its steps done
     * apart (channelStats, the per-channel coefficients, normalize), at 1 and 2 threads.
     */
    @Test
    void fusedForwardEqualsTheSeparatePasses() {
        Kernels.setSimd(true);
        ChannelKernels k = Kernels.channel();
        // channel by channel: 2^21 floats with 16 channels, and an odd shape (vector tails, several float blocks per row);
        // then shapes that keep the two passes (small, too few channels, channels last)
        for (int[] sh : new int[][] {{8, 16, 16384}, {5, 17, 24677}, {5, 16, 37}, {4, 7, 100}, {40, 20, 1}}) {
            int n = sh[0], c = sh[1], s = sh[2], size = n * c * s;
            assertEquals(sh[2] > 10000, SimdChannelKernels.channelByChannel(n, c, s), java.util.Arrays.toString(sh));
            Rng rng = new Rng(6);
            float[] x = new float[size];
            for (int i = 0; i < size; i++) x[i] = 3f + 2f * (float) rng.nextGaussian();
            float[] muHi = new float[c], muLo = new float[c], kk = new float[c], b = new float[c], y = new float[size];
            double[] mean = new double[c], var = new double[c];
            ChannelKernels.Affine f = (ch, mu, v) -> {
                muHi[ch] = (float) mu;
                muLo[ch] = (float) (mu - muHi[ch]);
                kk[ch] = (float) (1.0 / Math.sqrt(v + 1e-5));
                b[ch] = 0.1f * ch;
            };
            k.channelStats(mean, var, x, n, c, s);
            for (int ch = 0; ch < c; ch++) f.of(ch, mean[ch], var[ch]);
            k.normalize(y, x, muHi, muLo, kk, b, n, c, s);
            float[] h0 = muHi.clone(), l0 = muLo.clone(), k0 = kk.clone(), b0 = b.clone();
            for (int threads = 1; threads <= 2; threads++) {
                Parallel.setThreads(threads);
                java.util.Arrays.fill(muHi, 0f);
                java.util.Arrays.fill(kk, 0f);
                float[] fy = new float[size];
                double[] fm = new double[c], fv = new double[c];
                k.statsNormalize(fy, fm, fv, x, f, muHi, muLo, kk, b, n, c, s);
                String what = java.util.Arrays.toString(sh) + ", " + threads + " thread(s)";
                assertArrayEquals(mean, fm, "mean " + what);
                assertArrayEquals(var, fv, "var " + what);
                assertArrayEquals(h0, muHi, "mu_hi " + what);
                assertArrayEquals(l0, muLo, "mu_lo " + what);
                assertArrayEquals(k0, kk, "k " + what);
                assertArrayEquals(b0, b, "b " + what);
                assertArrayEquals(y, fy, "y " + what);
            }
        }
    }

    @Test
    void largeOffsetStillNormalizesToUnitVariance() {
        // Mean 1e4, std 1e-2: E[x²] − E[x]² in float would lose every digit. With eps → 0 the output variance of each
        // channel must be σ²/(σ²+ε) with σ² the data's own variance (two-pass, double), to 1e-3.
        for (boolean simd : new boolean[] {true, false}) {
            for (int[] sh : new int[][] {{8, 3, 3000}, {5000, 20, 1}}) {
                Kernels.setSimd(simd);
                Parallel.setThreads(2);
                int n = sh[0], c = sh[1], s = sh[2];
                Rng rng = new Rng(3);
                Tensor x = s == 1 ? Tensor.zeros(n, c) : Tensor.zeros(n, c, s);
                for (int i = 0; i < x.numel(); i++) x.data[i] = 1e4f + 1e-2f * (float) rng.nextGaussian();
                double eps = 1e-12;
                BatchNorm bn = new BatchNorm(c, eps, 0.1, false, true);
                Tensor y = bn.forward(x);
                for (int ch = 0; ch < c; ch++) {
                    double mx = 0, my = 0, m = (double) n * s;
                    for (int i = 0; i < n; i++) for (int j = 0; j < s; j++) {
                        mx += x.data[(i * c + ch) * s + j];
                        my += y.data[(i * c + ch) * s + j];
                    }
                    mx /= m;
                    my /= m;
                    double vx = 0, vy = 0;
                    for (int i = 0; i < n; i++) for (int j = 0; j < s; j++) {
                        double dx = x.data[(i * c + ch) * s + j] - mx, dyy = y.data[(i * c + ch) * s + j] - my;
                        vx += dx * dx;
                        vy += dyy * dyy;
                    }
                    vx /= m;
                    vy /= m;
                    assertEquals(vx / (vx + eps), vy, 1e-3, "simd=" + simd + " channel " + ch + " output variance");
                    assertEquals(0.0, my, 1e-3, "simd=" + simd + " channel " + ch + " output mean");
                }
            }
        }
    }
}
