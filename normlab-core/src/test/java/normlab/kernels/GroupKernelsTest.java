package normlab.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import normlab.nn.Layout;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.norm.GroupNorm;
import normlab.norm.InstanceNorm2d;
import normlab.norm.LayerNorm;
import normlab.norm.RMSNorm;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.testing.KernelSwitches;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.Test;

/**
 * The group kernels behind LayerNorm, GroupNorm (NCHW), InstanceNorm and RMSNorm, through the layers: SIMD agrees
 * with the scalar reference (ScalarGroupKernels' loops), and SIMD results are bit-identical at 1 and 2 threads.
 *
 * <p>Agreement metric: max |simd − scalar| ≤ tol · max(1, max |scalar|), tol 1e-5 for outputs, 1e-4 for gradients.
 */
@ExtendWith(KernelSwitches.class)
class GroupKernelsTest {
    /** A layer factory and an input shape. */
    private record Case(String name, Supplier<Module> make, int[] shape) {}

    private static List<Case> cases(boolean large) {
        List<Case> cs = new ArrayList<>();
        if (!large) {
            cs.add(new Case("LayerNorm 37", () -> new LayerNorm(37), new int[] {9, 37}));
            cs.add(new Case("LayerNorm 2x24 no affine", () -> new LayerNorm(new int[] {2, 24}, 1e-5, false, false), new int[] {5, 2, 24}));
            cs.add(new Case("GroupNorm 3/6", () -> new GroupNorm(3, 6), new int[] {4, 6, 5, 7}));
            cs.add(new Case("GroupNorm 2/4 no affine", () -> new GroupNorm(2, 4, 1e-5, false, Layout.NCHW), new int[] {3, 4, 33}));
            cs.add(new Case("InstanceNorm2d affine", () -> new InstanceNorm2d(5, 1e-5, 0.1, true, false), new int[] {3, 5, 6, 7}));
            cs.add(new Case("InstanceNorm2d", () -> new InstanceNorm2d(4), new int[] {2, 4, 40, 41}));
            cs.add(new Case("RMSNorm 37", () -> new RMSNorm(37), new int[] {9, 37}));
            cs.add(new Case("RMSNorm 1100", () -> new RMSNorm(1100), new int[] {3, 1100}));
        } else {
            cs.add(new Case("LayerNorm 768", () -> new LayerNorm(768), new int[] {300, 768}));
            cs.add(new Case("GroupNorm 8/16", () -> new GroupNorm(8, 16), new int[] {6, 16, 30, 30}));
            cs.add(new Case("InstanceNorm2d affine", () -> new InstanceNorm2d(8, 1e-5, 0.1, true, false), new int[] {5, 8, 33, 33}));
            cs.add(new Case("RMSNorm 768", () -> new RMSNorm(768), new int[] {300, 768}));
        }
        return cs;
    }

    /** Output, dx and every parameter gradient after one forward and backward in training mode. */
    private static List<float[]> run(Case c, long seed) {
        Rng rng = new Rng(seed);
        Module m = c.make.get();
        for (Parameter p : m.parameters()) {
            for (int i = 0; i < p.value.numel(); i++) p.value.data[i] = 0.5f + rng.nextFloat();
        }
        Tensor x = Tensor.zeros(c.shape), dy = Tensor.zeros(c.shape);
        for (int i = 0; i < x.numel(); i++) {
            x.data[i] = 2f + 3f * (float) rng.nextGaussian();
            dy.data[i] = (float) rng.nextGaussian();
        }
        m.train();
        List<float[]> out = new ArrayList<>();
        out.add(m.forward(x).data);
        out.add(m.backward(dy).data);
        for (Parameter p : m.parameters()) out.add(p.grad.data.clone());
        return out;
    }

    @Test
    void simdAgreesWithScalarReference() {
        for (Case c : cases(false)) {
            Kernels.setSimd(false);
            List<float[]> ref = run(c, 3);
            Kernels.setSimd(true);
            List<float[]> got = run(c, 3);
            assertEquals(ref.size(), got.size());
            for (int t = 0; t < ref.size(); t++) {
                double maxRef = 0, maxErr = 0;
                for (int i = 0; i < ref.get(t).length; i++) {
                    maxRef = Math.max(maxRef, Math.abs(ref.get(t)[i]));
                    maxErr = Math.max(maxErr, Math.abs(ref.get(t)[i] - got.get(t)[i]));
                }
                double tol = (t == 0 ? 1e-5 : 1e-4) * Math.max(1, maxRef);
                assertTrue(maxErr <= tol, c.name + " tensor " + t + ": max err " + maxErr + " > " + tol);
            }
        }
    }

    @Test
    void simdIsBitIdenticalAtOneAndTwoThreads() {
        Kernels.setSimd(true);
        for (Case c : cases(true)) {
            Parallel.setThreads(1);
            List<float[]> one = run(c, 9);
            Parallel.setThreads(2);
            List<float[]> two = run(c, 9);
            for (int t = 0; t < one.size(); t++) assertArrayEquals(one.get(t), two.get(t), c.name + " tensor " + t);
        }
    }

    /**
     * The fused forwards (statistics and normalization group by group: {@code momentsNormalize}, {@code rmsForward})
     * give the bits of the separate passes ({@code moments}, {@code rstd}, {@code normalize}; {@code rms},
     * {@code rmsNormalize}) on the SIMD kernels, at 1 and 2 threads: LayerNorm, GroupNorm NCHW and InstanceNorm views,
     * with and without an affine, and RMSNorm rows.
     */
    @Test
    void fusedForwardsEqualTheSeparatePasses() {
        Kernels.setSimd(true);
        GroupKernels k = Kernels.group();
        Rng rng = new Rng(11);
        GroupView[] views = {GroupView.rows(300, 768), GroupView.rows(7, 37), GroupView.channelsFirst(6, 8, 2, 900),
                GroupView.instances(5, 8, 1089)};
        double eps = 1e-5;
        for (GroupView v : views) {
            int n = v.groups() * v.q(), nAff = v.g() * (v.q() / v.inner());
            float[] x = new float[n], gamma = new float[nAff], beta = new float[nAff];
            for (int i = 0; i < n; i++) x[i] = 2f + 3f * (float) rng.nextGaussian();
            for (int i = 0; i < nAff; i++) {
                gamma[i] = 0.5f + rng.nextFloat();
                beta[i] = (float) rng.nextGaussian();
            }
            for (boolean affine : new boolean[] {true, false}) {
                float[] g = affine ? gamma : null, b = affine ? beta : null;
                int groups = v.groups();
                double[] mean = new double[groups], var = new double[groups], rstd = new double[groups];
                float[] y = new float[n];
                k.moments(mean, var, x, v);
                GroupKernels.rstd(rstd, var, eps, groups);
                k.normalize(y, x, mean, rstd, g, b, v);
                for (int threads = 1; threads <= 2; threads++) {
                    Parallel.setThreads(threads);
                    double[] fm = new double[groups], fv = new double[groups], fr = new double[groups];
                    float[] fy = new float[n];
                    k.momentsNormalize(fy, fm, fv, fr, x, eps, g, b, v);
                    String what = v + (affine ? " affine" : "") + ", " + threads + " thread(s)";
                    assertArrayEquals(mean, fm, "mean " + what);
                    assertArrayEquals(var, fv, "var " + what);
                    assertArrayEquals(rstd, fr, "rstd " + what);
                    assertArrayEquals(y, fy, "y " + what);
                }
            }
        }
        int rows = 300, d = 768;
        float[] x = new float[rows * d], w = new float[d];
        for (int i = 0; i < x.length; i++) x[i] = (float) rng.nextGaussian();
        for (int i = 0; i < d; i++) w[i] = 0.5f + rng.nextFloat();
        for (float[] ww : new float[][] {w, null}) {
            double[] rr = new double[rows];
            float[] y = new float[x.length];
            k.rms(rr, x, eps, rows, d);
            k.rmsNormalize(y, x, rr, ww, rows, d);
            for (int threads = 1; threads <= 2; threads++) {
                Parallel.setThreads(threads);
                double[] fr = new double[rows];
                float[] fy = new float[x.length];
                k.rmsForward(fy, fr, x, eps, ww, rows, d);
                assertArrayEquals(rr, fr, "rrms, " + threads + " thread(s)");
                assertArrayEquals(y, fy, "RMSNorm y, " + threads + " thread(s)");
            }
        }
    }

    @Test
    void largeOffsetRowsStillNormalize() {
        // Rows with mean 1e4 and std 1e-2: LayerNorm's output must have unit variance to 1e-3 (eps → 0), SIMD path.
        Kernels.setSimd(true);
        Rng rng = new Rng(4);
        int rows = 6, d = 2000;
        Tensor x = Tensor.zeros(rows, d);
        for (int i = 0; i < x.numel(); i++) x.data[i] = 1e4f + 1e-2f * (float) rng.nextGaussian();
        Tensor y = new LayerNorm(new int[] {d}, 1e-12, false, false).forward(x);
        for (int r = 0; r < rows; r++) {
            double mx = 0, my = 0;
            for (int j = 0; j < d; j++) {
                mx += x.data[r * d + j];
                my += y.data[r * d + j];
            }
            mx /= d;
            my /= d;
            double vx = 0, vy = 0;
            for (int j = 0; j < d; j++) {
                vx += Math.pow(x.data[r * d + j] - mx, 2);
                vy += Math.pow(y.data[r * d + j] - my, 2);
            }
            assertEquals(vx / (vx + 1e-12 * d), vy / d, 1e-3, "row " + r + " output variance");
        }
    }
}
