package normlab.nn;

import static org.junit.jupiter.api.Assertions.*;

import normlab.kernels.ConvKernels;
import normlab.kernels.Parallel;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * Conv2d's input gradient, which runs as a direct convolution of dy with the flipped, transposed filters at unit stride
 * (and as Wᵀ·dy + col2im otherwise): against the definition in double precision over random shapes (strides,
 * dilations, groups, padding up to and past the kernel's reach), identical at 1 and 2 threads. Metric: max|got − ref|
 * / max(1, max|ref|) ≤ 1e-5.
 */
class ConvBackwardTest {
    /** dx[n, g·cg + c, y, x] = Σ_o Σ_ij w[g·og + o, c, i, j]·dy[n, g·og + o, a, b] over (a, b) with a·sh − ph + i·dh = y, likewise x. */
    private static double[] reference(Conv2d cv, Tensor dy, int n, int h, int w) {
        int groups = cv.groups, cg = cv.inChannels / groups, og = cv.outChannels / groups, oh = dy.dim(2), ow = dy.dim(3);
        double[] dx = new double[n * cv.inChannels * h * w];
        float[] wd = cv.weight.value.data;
        for (int s = 0; s < n; s++)
            for (int g = 0; g < groups; g++)
                for (int o = 0; o < og; o++)
                    for (int a = 0; a < oh; a++)
                        for (int b = 0; b < ow; b++) {
                            double gy = dy.data[((s * cv.outChannels + g * og + o) * oh + a) * ow + b];
                            for (int c = 0; c < cg; c++)
                                for (int i = 0; i < cv.kh; i++)
                                    for (int j = 0; j < cv.kw; j++) {
                                        int y = a * cv.sh - cv.ph + i * cv.dh, x = b * cv.sw - cv.pw + j * cv.dw;
                                        if (y < 0 || y >= h || x < 0 || x >= w) continue;
                                        dx[((s * cv.inChannels + g * cg + c) * h + y) * w + x] +=
                                                gy * wd[(((g * og + o) * cg + c) * cv.kh + i) * cv.kw + j];
                                    }
                        }
        return dx;
    }

    @Test
    void inputGradientMatchesDefinitionAtEveryThreadCount() {
        Rng r = new Rng(44);
        int unitStrideDirect = 0;
        for (int trial = 0; trial < 40; trial++) {
            int groups = 1 + r.nextInt(2), cg = 1 + r.nextInt(6), og = 1 + r.nextInt(trial % 2 == 0 ? 24 : 6);
            int kh = 1 + r.nextInt(4), kw = 1 + r.nextInt(4), sh = trial % 3 == 0 ? 2 : 1, sw = trial % 5 == 0 ? 2 : sh;
            int dh = 1 + r.nextInt(2), dw = 1 + r.nextInt(2);
            // even trials: padding within the kernel's reach (the direct path's condition); odd: up to 3, past it too
            int ph = r.nextInt(trial % 2 == 0 ? dh * (kh - 1) + 1 : 4), pw = r.nextInt(trial % 2 == 0 ? dw * (kw - 1) + 1 : 4);
            int h = dh * (kh - 1) + 1 + r.nextInt(10), w = dw * (kw - 1) + 1 + r.nextInt(10), n = 1 + r.nextInt(4);
            Conv2d c = new Conv2d(groups * cg, groups * og, new int[] {kh, kw}, new int[] {sh, sw}, new int[] {ph, pw},
                    new int[] {dh, dw}, groups, r.nextInt(2) > 0, r);
            c.train();
            Tensor x = Tensor.zeros(n, groups * cg, h, w);
            for (int i = 0; i < x.numel(); i++) x.data[i] = (float) r.nextGaussian();
            int[] os = c.outputShape(x.shape());
            Tensor dy = Tensor.zeros(os);
            for (int i = 0; i < dy.numel(); i++) dy.data[i] = (float) r.nextGaussian();
            if (sh == 1 && sw == 1 && dh * (kh - 1) >= ph && dw * (kw - 1) >= pw && og * kh * kw >= ConvKernels.OC) unitStrideDirect++;
            double[] ref = reference(c, dy, n, h, w);
            float[] first = null;
            for (int threads : new int[] {1, 2}) {
                int old = Parallel.setThreads(threads);
                try {
                    c.forward(x);
                    float[] got = c.backward(dy).data.clone();
                    double d = 0, m = 1;
                    for (int i = 0; i < ref.length; i++) {
                        d = Math.max(d, Math.abs(got[i] - ref[i]));
                        m = Math.max(m, Math.abs(ref[i]));
                    }
                    String what = "trial " + trial + ": " + c + " x " + x.shapeString() + " at " + threads + " threads";
                    assertTrue(d / m <= 1e-5, what + ": error " + d / m);
                    if (first == null) first = got;
                    else assertArrayEquals(first, got, what + ": 1 vs 2 threads");
                } finally {
                    Parallel.setThreads(old);
                }
            }
        }
        assertTrue(unitStrideDirect >= 8, "too few trials on the direct input gradient: " + unitStrideDirect);
    }
}
