package normlab.nn;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Map;
import normlab.kernels.Epilogue;
import normlab.kernels.Parallel;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.testing.KernelSwitches;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * {@link Conv2d#inferInto}: against the ordinary eval forward followed by the activation (and MaxPool2d for the fused
 * pool) over random shapes, on the SIMD and scalar paths, at 1 and 2 threads (identical bits); the cached packed
 * filters follow optimizer steps and loadStateDict. Metric: max|got − ref| / max(1, max|ref|) ≤ 1e-6.
 */
@ExtendWith(KernelSwitches.class)
class ConvInferTest {
    private static Tensor randn(Rng r, int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) t.data[i] = (float) r.nextGaussian();
        return t;
    }

    private static double relErr(float[] got, float[] ref) {
        double d = 0, m = 1;
        for (int i = 0; i < ref.length; i++) {
            d = Math.max(d, Math.abs((double) got[i] - ref[i]));
            m = Math.max(m, Math.abs(ref[i]));
        }
        return d / m;
    }

    private static Module activation(Epilogue f) {
        return switch (f) {
            case IDENTITY -> new Identity();
            case RELU -> new Activation.ReLU();
            case SIGMOID -> new Activation.Sigmoid();
            case TANH -> new Activation.Tanh();
        };
    }

    /** The reference: forward, the activation layer, then MaxPool2d(pool) when pool > 1. */
    private static float[] reference(Conv2d c, Tensor x, Epilogue f, int pool) {
        Tensor y = activation(f).eval().forward(c.forward(x));
        if (pool > 1) y = new MaxPool2d(pool).forward(y);
        return y.data.clone();
    }

    private static float[] infer(Conv2d c, Tensor x, Epilogue f, int pool, int threads, float fill) {
        int old = Parallel.setThreads(threads);
        try {
            int[] s = c.outputShape(x.shape());
            int size = s[0] * s[1] * (pool > 1 ? (s[2] / pool) * (s[3] / pool) : s[2] * s[3]);
            float[] y = new float[size + 3];
            java.util.Arrays.fill(y, fill); // every output element must be written; the slack must stay untouched
            c.inferInto(y, x.data, x.dim(0), x.dim(2), x.dim(3), f, pool);
            for (int i = size; i < y.length; i++) assertEquals(fill, y[i], "wrote past the output");
            return java.util.Arrays.copyOf(y, size);
        } finally {
            Parallel.setThreads(old);
        }
    }

    @Test
    void matchesForwardOverRandomShapes() throws Exception {
        KernelSwitches.onBothPaths(simd -> {
            Rng r = new Rng(simd ? 41 : 42);
            Epilogue[] fs = Epilogue.values();
            for (int trial = 0; trial < (simd ? 60 : 25); trial++) {
                int groups = 1 + r.nextInt(3), cg = 1 + r.nextInt(5), og = 1 + r.nextInt(trial % 3 == 0 ? 40 : 9);
                int kh = 1 + r.nextInt(4), kw = 1 + r.nextInt(4), sh = 1 + r.nextInt(2), sw = 1 + r.nextInt(3);
                int dh = 1 + r.nextInt(2), dw = 1 + r.nextInt(2), ph = r.nextInt(3), pw = r.nextInt(3);
                int h = dh * (kh - 1) + 1 + r.nextInt(12), w = dw * (kw - 1) + 1 + r.nextInt(12), n = 1 + r.nextInt(5);
                boolean bias = r.nextInt(3) > 0;
                Conv2d c = new Conv2d(groups * cg, groups * og, new int[] {kh, kw}, new int[] {sh, sw}, new int[] {ph, pw},
                        new int[] {dh, dw}, groups, bias, r);
                c.eval();
                Tensor x = randn(r, n, groups * cg, h, w);
                Epilogue f = fs[trial % fs.length];
                int[] os = c.outputShape(x.shape());
                int pool = trial % 2 == 1 && os[2] >= 2 && os[3] >= 2 ? 2 + (os[2] >= 3 && os[3] >= 3 ? r.nextInt(2) : 0) : 1;
                String what = "simd=" + simd + " trial " + trial + ": " + c + " x " + x.shapeString() + " " + f + " pool " + pool;
                float[] ref = reference(c, x, f, pool);
                float[] one = infer(c, x, f, pool, 1, Float.NaN), two = infer(c, x, f, pool, 2, -7f);
                assertTrue(relErr(one, ref) <= 1e-6, what + ": error " + relErr(one, ref));
                assertArrayEquals(one, two, what + ": 1 vs 2 threads");
            }
        });
    }

    /**
     * The training forward runs the direct kernel (when SIMD is on and K ≥ one block of output channels), the eval
     * forward im2col + GEMM: the same bits over random shapes (strides, dilations, groups, padding, with and without
     * bias), at 1 and 2 threads, and the same backward afterwards.
     */
    @Test
    void trainingForwardEqualsEvalForward() {
        Rng r = new Rng(43);
        int direct = 0;
        for (int trial = 0; trial < 40; trial++) {
            int groups = 1 + r.nextInt(2), cg = 1 + r.nextInt(trial % 2 == 0 ? 20 : 5), og = 1 + r.nextInt(trial % 3 == 0 ? 40 : 9);
            int kh = 1 + r.nextInt(4), kw = 1 + r.nextInt(4), sh = 1 + r.nextInt(2), sw = 1 + r.nextInt(3);
            int dh = 1 + r.nextInt(2), dw = 1 + r.nextInt(2), ph = r.nextInt(3), pw = r.nextInt(3);
            int h = dh * (kh - 1) + 1 + r.nextInt(12), w = dw * (kw - 1) + 1 + r.nextInt(12), n = 1 + r.nextInt(5);
            Conv2d c = new Conv2d(groups * cg, groups * og, new int[] {kh, kw}, new int[] {sh, sw}, new int[] {ph, pw},
                    new int[] {dh, dw}, groups, r.nextInt(3) > 0, r);
            Tensor x = randn(r, n, groups * cg, h, w);
            if (cg * kh * kw >= normlab.kernels.ConvKernels.OC) direct++;
            String what = "trial " + trial + ": " + c + " x " + x.shapeString();
            float[] ref = c.eval().forward(x).data.clone();
            for (int threads : new int[] {1, 2}) {
                int old = Parallel.setThreads(threads);
                try {
                    assertArrayEquals(ref, c.train().forward(x).data, what + ", training forward at " + threads + " threads");
                } finally {
                    Parallel.setThreads(old);
                }
            }
        }
        assertTrue(direct >= 10, "too few trials on the direct kernel: " + direct);
    }

    /** The shapes of the small CNN, batch 1 and 5, with ReLU and with the fused pool. */
    @Test
    void smallCnnShapes() {
        Rng r = new Rng(3);
        Conv2d c1 = new Conv2d(1, 32, 3, 1, 1, 1, 1, true, r), c2 = new Conv2d(32, 64, 3, 1, 1, 1, 1, true, r);
        c1.eval();
        c2.eval();
        for (int n : new int[] {1, 5}) {
            Tensor x1 = randn(r, n, 1, 28, 28), x2 = randn(r, n, 32, 14, 14);
            for (int pool : new int[] {1, 2}) {
                assertTrue(relErr(infer(c1, x1, Epilogue.RELU, pool, 2, 0f), reference(c1, x1, Epilogue.RELU, pool)) <= 1e-6);
                assertArrayEquals(infer(c2, x2, Epilogue.RELU, pool, 1, 0f), infer(c2, x2, Epilogue.RELU, pool, 2, 0f));
                assertTrue(relErr(infer(c2, x2, Epilogue.RELU, pool, 2, 0f), reference(c2, x2, Epilogue.RELU, pool)) <= 1e-6);
            }
        }
    }

    /**
     * Both inferInto paths (the direct kernel and im2col + GEMM, forced) on the small CNN's second layer and an odd
     * shape, with and without the pool, at 1 and 2 threads: identical to each other and within 1e-6 of the forward.
     */
    @Test
    void directAndGemmPathsAgree() {
        Rng r = new Rng(11);
        Conv2d c2 = new Conv2d(32, 64, 3, 1, 1, 1, 1, true, r), odd = new Conv2d(5, 19, 3, 1, 1, 1, 1, true, r);
        c2.eval();
        odd.eval();
        String old = Conv2d.setInferPath("auto");
        try {
            for (Conv2d c : new Conv2d[] {c2, odd}) {
                Tensor x = randn(r, 3, c.inChannels, 13, 11);
                for (int pool : new int[] {1, 2}) {
                    float[] ref = reference(c, x, Epilogue.RELU, pool);
                    Conv2d.setInferPath("direct");
                    float[] direct = infer(c, x, Epilogue.RELU, pool, 2, 0f);
                    Conv2d.setInferPath("gemm");
                    float[] gemm1 = infer(c, x, Epilogue.RELU, pool, 1, 0f), gemm2 = infer(c, x, Epilogue.RELU, pool, 2, 0f);
                    assertArrayEquals(gemm1, gemm2, c + " pool " + pool);
                    assertTrue(relErr(direct, ref) <= 1e-6, c + " direct pool " + pool);
                    assertTrue(relErr(gemm1, ref) <= 1e-6, c + " gemm pool " + pool);
                }
            }
        } finally {
            Conv2d.setInferPath(old);
        }
    }

    /**
     * The direct kernel forced over unit-stride shapes (its flat tiles: 6 consecutive window offsets, reaching past a
     * row's end and the window's) and strided ones (per-position bases): widths below and around the 6-position tile,
     * dilation, groups, padding, a partial last row block, pools 1–3, SIMD and scalar, 1 and 2 threads.
     */
    @Test
    void directKernelFlatAndStridedTiles() throws Exception {
        String old = Conv2d.setInferPath("direct");
        try {
            KernelSwitches.onBothPaths(simd -> {
                Rng r = new Rng(simd ? 71 : 72);
                int[][] shapes = { // cg, og, k, stride, pad, dil, groups, h, w
                    {3, 20, 3, 1, 1, 1, 1, 9, 5}, {2, 17, 3, 1, 0, 2, 2, 11, 13}, {4, 33, 2, 1, 1, 1, 1, 7, 6},
                    {3, 9, 5, 1, 2, 1, 1, 6, 3}, {2, 16, 3, 2, 1, 1, 1, 12, 10}, {5, 12, 3, 1, 1, 1, 3, 10, 7}};
                for (int[] sh : shapes) {
                    Conv2d c = new Conv2d(sh[6] * sh[0], sh[6] * sh[1], new int[] {sh[2], sh[2]}, new int[] {sh[3], sh[3]},
                            new int[] {sh[4], sh[4]}, new int[] {sh[5], sh[5]}, sh[6], true, r);
                    c.eval();
                    Tensor x = randn(r, 2, c.inChannels, sh[7], sh[8]);
                    int[] os = c.outputShape(x.shape());
                    for (int pool = 1; pool <= Math.min(3, Math.min(os[2], os[3])); pool++) {
                        for (Epilogue f : new Epilogue[] {Epilogue.IDENTITY, Epilogue.RELU}) {
                            String what = "simd=" + simd + " " + c + " x " + x.shapeString() + " " + f + " pool " + pool;
                            float[] ref = reference(c, x, f, pool);
                            float[] one = infer(c, x, f, pool, 1, Float.NaN), two = infer(c, x, f, pool, 2, -7f);
                            assertTrue(relErr(one, ref) <= 1e-6, what + ": error " + relErr(one, ref));
                            assertArrayEquals(one, two, what + ": 1 vs 2 threads");
                        }
                    }
                }
            });
        } finally {
            Conv2d.setInferPath(old);
        }
    }

    /** Eval forward and inferInto, an official weight change, again: as a freshly built model with those weights. */
    @Test
    void packedFiltersFollowOptimizerSteps() {
        Rng r = new Rng(9);
        Conv2d c = new Conv2d(3, 20, 3, 1, 1, 1, 1, true, r);
        Tensor x = randn(r, 2, 3, 9, 7);
        c.eval();
        float[] before = infer(c, x, Epilogue.IDENTITY, 1, 2, 0f), fwdBefore = c.forward(x).data.clone();
        // one SGD step on a made-up gradient (training mode for the backward, then eval again)
        c.train();
        Tensor y = c.forward(x);
        c.zeroGrad();
        c.backward(randn(r, y.shape()));
        new SGD(c.parameters(), 0.5).step();
        c.eval();
        Conv2d fresh = copyOf(c, r);
        float[] after = infer(c, x, Epilogue.IDENTITY, 1, 2, 0f), expected = infer(fresh, x, Epilogue.IDENTITY, 1, 2, 0f);
        assertArrayEquals(expected, after, "inferInto after an SGD step must use the new weights");
        assertArrayEquals(fresh.forward(x).data, c.forward(x).data, "eval forward after an SGD step must use the new weights");
        assertTrue(relErr(after, before) > 1e-3, "the step changed the output");
        assertTrue(relErr(c.forward(x).data, fwdBefore) > 1e-3);
    }

    @Test
    void packedFiltersFollowLoadStateDict() {
        Rng r = new Rng(10);
        Conv2d c = new Conv2d(4, 9, 3, 2, 1, 1, 1, true, r), other = new Conv2d(4, 9, 3, 2, 1, 1, 1, true, r);
        Tensor x = randn(r, 3, 4, 11, 8);
        c.eval();
        other.eval();
        float[] mine = infer(c, x, Epilogue.RELU, 1, 1, 0f);
        c.forward(x);
        Map<String, Tensor> state = other.stateDict();
        c.loadStateDict(state);
        float[] loaded = infer(c, x, Epilogue.RELU, 1, 1, 0f), theirs = infer(other, x, Epilogue.RELU, 1, 1, 0f);
        assertArrayEquals(theirs, loaded, "inferInto after loadStateDict must use the loaded weights");
        assertArrayEquals(other.forward(x).data, c.forward(x).data, "eval forward after loadStateDict");
        assertTrue(relErr(loaded, mine) > 1e-3);
    }

    /** A Conv2d with the same hyperparameters and a copy of c's state, built from scratch. */
    private static Conv2d copyOf(Conv2d c, Rng r) {
        Conv2d f = new Conv2d(c.inChannels, c.outChannels, new int[] {c.kh, c.kw}, new int[] {c.sh, c.sw},
                new int[] {c.ph, c.pw}, new int[] {c.dh, c.dw}, c.groups, c.bias != null, r);
        f.loadStateDict(c.stateDict());
        f.eval();
        return f;
    }

    @Test
    void rejectsShortArrays() {
        Conv2d c = new Conv2d(2, 3, 3, new Rng(1));
        assertThrows(normlab.tensor.ShapeException.class, () -> c.inferInto(new float[3 * 4 * 4 - 1], new float[2 * 6 * 6], 1, 6, 6, Epilogue.RELU));
        assertThrows(normlab.tensor.ShapeException.class, () -> c.inferInto(new float[3 * 4 * 4], new float[2 * 6 * 6 - 1], 1, 6, 6, Epilogue.RELU));
    }
}
