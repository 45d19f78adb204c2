import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import normlab.kernels.ConvKernels;
import normlab.kernels.Epilogue;
import normlab.kernels.Gemm;
import normlab.kernels.Im2col;
import normlab.kernels.Parallel;
import normlab.nn.*;
import normlab.nn.Module;
import normlab.norm.BatchNorm2d;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;

/**
 * Where the small CNN's training step spends its time (issue #20 scope 3): per layer forward / backward of the
 * peer comparison's CNN+BN step (batch 64, 28×28, conv 1→32 and 32→64 3×3 pad 1), and conv2's per-sample products
 * run alone with the step's shapes (im2col, W·col, im2colT + dy packing + dy·colᵀ, Wᵀ·dy + col2im, and the direct
 * kernel's forward and input gradient), and conv1's dW both ways, in GFLOP/s and as a fraction of the FMA peak
 * measured in the same repetitions (12 accumulators, no memory operands), so a loaded machine slows both alike.
 * Usage: java --add-modules jdk.incubator.vector -cp normlab-core/target/classes tools/conv-prof/ConvProf.java [THREADS] [STEPS]
 */
public class ConvProf {
    public static void main(String[] a) {
        int threads = a.length > 0 ? Integer.parseInt(a[0]) : 1, steps = a.length > 1 ? Integer.parseInt(a[1]) : 60;
        Parallel.setThreads(threads);
        Rng rng = new Rng(2);
        Module[] ls = {new Conv2d(1, 32, 3, 1, 1, 1, 1, true, rng), new BatchNorm2d(32), new Activation.ReLU(), new MaxPool2d(2),
                new Conv2d(32, 64, 3, 1, 1, 1, 1, true, rng), new BatchNorm2d(64), new Activation.ReLU(), new MaxPool2d(2),
                new Flatten(), new Linear(64 * 7 * 7, 10, rng)};
        Sequential m = new Sequential(ls);
        Tensor x = Tensor.zeros(64, 1, 28, 28);
        for (int i = 0; i < x.data.length; i++) x.data[i] = (float) rng.nextGaussian();
        int[] labels = new int[64];
        for (int i = 0; i < labels.length; i++) labels[i] = rng.nextInt(10);
        SGD opt = new SGD(m.parameters(), 0.01);
        CrossEntropyLoss loss = new CrossEntropyLoss();
        m.train();
        m.reuseOutputs(true);
        int L = ls.length;
        long[][] tf = new long[steps][L], tb = new long[steps][L];
        long[] tot = new long[steps];
        for (int s = -20; s < steps; s++) {
            long t0 = System.nanoTime();
            m.zeroGrad();
            Tensor h = x;
            for (int i = 0; i < L; i++) {
                long u = System.nanoTime();
                h = ls[i].forward(h);
                if (s >= 0) tf[s][i] = System.nanoTime() - u;
            }
            loss.forward(h, labels);
            Tensor g = loss.backward();
            for (int i = L - 1; i >= 0; i--) {
                long u = System.nanoTime();
                if (i == 0) ls[i].backwardParams(g); else g = ls[i].backward(g);
                if (s >= 0) tb[s][i] = System.nanoTime() - u;
            }
            opt.step();
            if (s >= 0) tot[s] = System.nanoTime() - t0;
        }
        System.out.printf("threads %d, %d steps, step median %.2f ms (min %.2f)%n", threads, steps, med(tot) / 1e6, Arrays.stream(tot).min().getAsLong() / 1e6);
        String[] names = {"conv1", "bn1", "relu1", "pool1", "conv2", "bn2", "relu2", "pool2", "flatten", "linear"};
        for (int i = 0; i < L; i++) {
            final int ii = i;
            long[] f = Arrays.stream(tf).mapToLong(r -> r[ii]).toArray(), b = Arrays.stream(tb).mapToLong(r -> r[ii]).toArray();
            System.out.printf("  %-8s fwd %7.3f ms  bwd %7.3f ms%n", names[i], med(f) / 1e6, med(b) / 1e6);
        }
        if (threads == 1) products();
    }

    static final long PEAK_ITERS = 2_000_000;
    static float sink;
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /** The FMA peak: 12 independent accumulators, no memory operands (tools/infer-ab/FmaCeiling.java's peak). */
    static float peak(long iters) {
        FloatVector a = FloatVector.broadcast(S, 1.0001f), b = FloatVector.broadcast(S, 0.9999f);
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (long i = 0; i < iters; i++) {
            c0 = a.fma(b, c0); c1 = a.fma(b, c1); c2 = a.fma(b, c2); c3 = a.fma(b, c3);
            c4 = a.fma(b, c4); c5 = a.fma(b, c5); c6 = a.fma(b, c6); c7 = a.fma(b, c7);
            c8 = a.fma(b, c8); c9 = a.fma(b, c9); c10 = a.fma(b, c10); c11 = a.fma(b, c11);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11).reduceLanes(VectorOperators.ADD);
    }

    static double med(long[] v) {
        long[] c = v.clone();
        Arrays.sort(c);
        return c[c.length / 2];
    }

    /** conv2's per-sample products alone, 64 samples per rep, as Conv2d runs them (1 thread). */
    static void products() {
        int L = S.length(), n = 64, cg = 32, og = 64, h = 14, w = 14, k = cg * 9, p = h * w, l = Gemm.lanes(), pp = (p + l - 1) / l * l, kp = (k + l - 1) / l * l;
        Rng rng = new Rng(3);
        float[] xd = new float[n * cg * h * w], wd = new float[og * k], dy = new float[n * og * p], y = new float[n * og * p];
        for (int i = 0; i < xd.length; i++) xd[i] = (float) rng.nextGaussian();
        for (int i = 0; i < wd.length; i++) wd[i] = (float) rng.nextGaussian();
        for (int i = 0; i < dy.length; i++) dy[i] = (float) rng.nextGaussian();
        float[] wp = new float[Gemm.packedSize(og, k)], wtp = new float[Gemm.packedSize(k, og)];
        Gemm.packA(wp, 0, wd, 0, k, 1, og, k);
        Gemm.packA(wtp, 0, wd, 0, 1, k, k, og);
        float[] col = new float[k * pp], yw = new float[og * pp], colt = new float[pp * kp], xt = new float[h * w * cg],
                dyp = new float[og * pp], dypk = new float[Gemm.packedSize(og, pp)], dwp = new float[og * kp], dcol = new float[k * pp],
                dx = new float[n * cg * h * w];
        double flop = 2.0 * og * k * p * n;
        // conv1 (1 → 32, 28×28): its patches (9 × 784) and dW += dy·colᵀ as dot products (Gemm.dotsAcc), per sample
        int p1 = 28 * 28;
        float[] x1 = new float[n * p1], dy1 = new float[n * 32 * p1], col1 = new float[9 * p1], dw1 = new float[32 * 9];
        for (int i = 0; i < x1.length; i++) x1[i] = (float) rng.nextGaussian();
        for (int i = 0; i < dy1.length; i++) dy1[i] = (float) rng.nextGaussian();
        double flop1 = 2.0 * 32 * 9 * p1 * n;
        ConvKernels.Plan fwdPlan = new ConvKernels.Plan(32, 14, 14, 64, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1),
                dxPlan = new ConvKernels.Plan(64, 14, 14, 32, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1);
        int fwdWs = ConvKernels.packedSize(1, 64, 288), dxWs = ConvKernels.packedSize(1, 32, 576);
        float[] fwdW = new float[fwdWs + 64], dxW = new float[dxWs + 32], flip = new float[32 * 576];
        ConvKernels.packFilters(fwdW, fwdW, fwdWs, wd, null, 1, 64, 288);
        for (int c = 0; c < 32; c++) for (int o = 0; o < 64; o++) for (int t = 0; t < 9; t++) flip[c * 576 + o * 9 + t] = wd[(o * 32 + c) * 9 + 8 - t];
        ConvKernels.packFilters(dxW, dxW, dxWs, flip, null, 1, 32, 576);
        float[] colt1 = new float[p1 * 16], xt1 = new float[p1], dyk1 = new float[Gemm.packedSize(32, p1)], dwt1 = new float[32 * 16];
        String[] nm = {"fwd im2col", "fwd W·col", "dW im2colT", "dW pack dy", "dW dy·colT", "dX Wt·dy", "dX col2im", "c1 im2col", "c1 dW dy·colT", "FMA peak", "c1T im2colT", "c1T pack dy", "c1T dy·colT", "fwd direct·", "dX direct·"};
        int R = 30;
        long[][] t = new long[nm.length][R];
        for (int r = -10; r < R; r++) {
            long[] acc = new long[nm.length];
            for (int i = 0; i < n; i++) {
                long t0 = System.nanoTime();
                Im2col.im2col(col, 0, pp, xd, i * cg * h * w, cg, h, w, 3, 3, 1, 1, 1, 1, 1, 1, h, w);
                long t1 = System.nanoTime();
                Gemm.multiplyPacked(yw, 0, pp, wp, 0, og, k, col, 0, pp, pp, false);
                long t2 = System.nanoTime();
                for (int o = 0; o < og; o++) System.arraycopy(dy, (i * og + o) * p, dyp, o * pp, p);
                Im2col.im2colT(colt, kp, pp, xt, xd, i * cg * h * w, cg, h, w, 3, 3, 1, 1, 1, 1, 1, 1, h, w);
                long t3 = System.nanoTime();
                Gemm.packA(dypk, 0, dyp, 0, pp, 1, og, pp);
                long t4 = System.nanoTime();
                Gemm.multiplyPacked(dwp, 0, kp, dypk, 0, og, pp, colt, 0, kp, kp, true);
                long t5 = System.nanoTime();
                Gemm.multiplyPacked(dcol, 0, pp, wtp, 0, k, og, dyp, 0, pp, pp, false);
                long t6 = System.nanoTime();
                Im2col.col2im(dx, i * cg * h * w, dcol, 0, pp, cg, h, w, 3, 3, 1, 1, 1, 1, 1, 1, h, w);
                long t7 = System.nanoTime();
                Im2col.im2col(col1, 0, p1, x1, i * p1, 1, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1, 28, 28);
                long t8 = System.nanoTime();
                Gemm.dotsAcc(dw1, 0, 9, dy1, i * 32 * p1, p1, col1, 0, p1, 32, 9, p1);
                long t9 = System.nanoTime();
                acc[7] += t8 - t7; acc[8] += t9 - t8;
                // conv1's dW as Conv2d runs it today (K = 9 ≥ one vector: tap-major, padded to 16 columns)
                Im2col.im2colT(colt1, 16, p1, xt1, x1, i * p1, 1, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1, 28, 28);
                long ta = System.nanoTime();
                Gemm.packA(dyk1, 0, dy1, i * 32 * p1, p1, 1, 32, p1);
                long tb = System.nanoTime();
                Gemm.multiplyPacked(dwt1, 0, 16, dyk1, 0, 32, p1, colt1, 0, 16, 16, true);
                long tc = System.nanoTime();
                acc[10] += ta - t9; acc[11] += tb - ta; acc[12] += tc - tb;
                // what Conv2d runs since issue #20 scope 3: forward and dx as direct convolutions (ConvKernels), dx over
                // dy with the flipped, transposed filters
                int[] key = {-1};
                for (int rb = 0; rb < fwdPlan.rowBlocks; rb++) ConvKernels.item(y, xd, fwdW, fwdW, fwdWs, fwdPlan, Epilogue.IDENTITY, i, 0, rb, 0, 4, key);
                long td = System.nanoTime();
                key[0] = -1;
                for (int rb = 0; rb < dxPlan.rowBlocks; rb++) ConvKernels.item(dx, dy, dxW, dxW, dxWs, dxPlan, Epilogue.IDENTITY, i, 0, rb, 0, 2, key);
                long te = System.nanoTime();
                acc[13] += td - tc; acc[14] += te - td;
                acc[0] += t1 - t0; acc[1] += t2 - t1; acc[2] += t3 - t2; acc[3] += t4 - t3; acc[4] += t5 - t4; acc[5] += t6 - t5; acc[6] += t7 - t6;
            }
            long u = System.nanoTime();
            sink += peak(PEAK_ITERS);
            acc[9] = System.nanoTime() - u;
            if (r >= 0) for (int j = 0; j < nm.length; j++) t[j][r] = acc[j];
        }
        double peak = 24.0 * L * PEAK_ITERS / med(t[9]);
        System.out.println("conv2 products, 64 samples, 1 thread (median of " + R + " reps; GFLOP/s on the 2·64·288·196·64 useful FLOP):");
        for (int j : new int[] {0, 1, 13, 2, 3, 4, 5, 6, 14, 7, 8, 10, 11, 12, 9}) {
            double ms = med(t[j]) / 1e6;
            boolean gemm = nm[j].contains("·");
            if (j == 7) System.out.println("conv1 (1 → 32, 28×28), 64 samples:");
            double f = nm[j].startsWith("c1") ? flop1 : flop;
            if (j == 9) System.out.printf("  %-14s %6.1f GFLOP/s (12 accumulators, no memory operands, same reps)%n", nm[j], peak);
            else System.out.printf("  %-14s %7.3f ms%s%n", nm[j], ms, gemm ? String.format("  %6.1f GFLOP/s = %3.0f %% of peak", f / ms / 1e6, 100 * f / ms / 1e6 / peak) : "");
        }
    }
}
