import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * What a Java Vector API FMA microkernel reaches on this machine (issue #22 round 4): GFLOP/s of
 * (peak) 12 independent accumulators, no memory operands;
 * (6x2)  6 rows of A (packed, 6 floats per depth step) × 2 vectors of packed B, 12 accumulators (Gemm.panel6x2);
 * (6x2r) the same with A read in place from 6 row-major rows (Gemm.panel6x2r, the eval MLP path);
 * (4x3r) 4 rows of A in place × 3 vectors of B, 12 accumulators: 4 broadcasts + 3 loads per 12 FMAs instead of 6 + 2.
 * B is one depth block (kb × np floats, row stride np) reused for every panel, so it stays in L1 (l1) or, with the
 * whole 784-deep operand, is read from L2 (l2). Best of 15 timed rounds of ~50 ms after a warm-up.
 *
 * <pre>java --add-modules jdk.incubator.vector tools/infer-ab/FmaCeiling.java</pre>
 */
public class FmaCeiling {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    static float sink;

    static float peak(long iters) {
        FloatVector a = FloatVector.broadcast(S, 1.0001f), b = FloatVector.broadcast(S, 0.9999f);
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (long i = 0; i < iters; i++) {
            c0 = a.fma(b, c0); c1 = a.fma(b, c1); c2 = a.fma(b, c2); c3 = a.fma(b, c3);
            c4 = a.fma(b, c4); c5 = a.fma(b, c5); c6 = a.fma(b, c6); c7 = a.fma(b, c7);
            c8 = a.fma(b, c8); c9 = a.fma(b, c9); c10 = a.fma(b, c10); c11 = a.fma(b, c11);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }

    static void p6x2(float[] c, int co, int ldc, float[] ap, int ao, float[] b, int bo, int ldb, int kb) {
        FloatVector c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        c00 = FloatVector.zero(S);
        c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = c00;
        for (int p = 0; p < kb; p++, bo += ldb, ao += 6) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo), b1 = FloatVector.fromArray(S, b, bo + L);
            FloatVector v = FloatVector.broadcast(S, ap[ao]);
            c00 = v.fma(b0, c00); c01 = v.fma(b1, c01);
            v = FloatVector.broadcast(S, ap[ao + 1]);
            c10 = v.fma(b0, c10); c11 = v.fma(b1, c11);
            v = FloatVector.broadcast(S, ap[ao + 2]);
            c20 = v.fma(b0, c20); c21 = v.fma(b1, c21);
            v = FloatVector.broadcast(S, ap[ao + 3]);
            c30 = v.fma(b0, c30); c31 = v.fma(b1, c31);
            v = FloatVector.broadcast(S, ap[ao + 4]);
            c40 = v.fma(b0, c40); c41 = v.fma(b1, c41);
            v = FloatVector.broadcast(S, ap[ao + 5]);
            c50 = v.fma(b0, c50); c51 = v.fma(b1, c51);
        }
        c00.intoArray(c, co); c01.intoArray(c, co + L);
        c10.intoArray(c, co + ldc); c11.intoArray(c, co + ldc + L);
        c20.intoArray(c, co + 2 * ldc); c21.intoArray(c, co + 2 * ldc + L);
        c30.intoArray(c, co + 3 * ldc); c31.intoArray(c, co + 3 * ldc + L);
        c40.intoArray(c, co + 4 * ldc); c41.intoArray(c, co + 4 * ldc + L);
        c50.intoArray(c, co + 5 * ldc); c51.intoArray(c, co + 5 * ldc + L);
    }

    static void p6x2r(float[] c, int co, int ldc, float[] x, int xo, int lda, float[] b, int bo, int ldb, int kb) {
        FloatVector c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        c00 = FloatVector.zero(S);
        c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = c00;
        int x1 = lda, x2 = 2 * lda, x3 = 3 * lda, x4 = 4 * lda, x5 = 5 * lda;
        for (int p = 0; p < kb; p++, bo += ldb, xo++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo), b1 = FloatVector.fromArray(S, b, bo + L);
            FloatVector v = FloatVector.broadcast(S, x[xo]);
            c00 = v.fma(b0, c00); c01 = v.fma(b1, c01);
            v = FloatVector.broadcast(S, x[xo + x1]);
            c10 = v.fma(b0, c10); c11 = v.fma(b1, c11);
            v = FloatVector.broadcast(S, x[xo + x2]);
            c20 = v.fma(b0, c20); c21 = v.fma(b1, c21);
            v = FloatVector.broadcast(S, x[xo + x3]);
            c30 = v.fma(b0, c30); c31 = v.fma(b1, c31);
            v = FloatVector.broadcast(S, x[xo + x4]);
            c40 = v.fma(b0, c40); c41 = v.fma(b1, c41);
            v = FloatVector.broadcast(S, x[xo + x5]);
            c50 = v.fma(b0, c50); c51 = v.fma(b1, c51);
        }
        c00.intoArray(c, co); c01.intoArray(c, co + L);
        c10.intoArray(c, co + ldc); c11.intoArray(c, co + ldc + L);
        c20.intoArray(c, co + 2 * ldc); c21.intoArray(c, co + 2 * ldc + L);
        c30.intoArray(c, co + 3 * ldc); c31.intoArray(c, co + 3 * ldc + L);
        c40.intoArray(c, co + 4 * ldc); c41.intoArray(c, co + 4 * ldc + L);
        c50.intoArray(c, co + 5 * ldc); c51.intoArray(c, co + 5 * ldc + L);
    }

    static void p4x3r(float[] c, int co, int ldc, float[] x, int xo, int lda, float[] b, int bo, int ldb, int kb) {
        FloatVector c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32;
        c00 = FloatVector.zero(S);
        c01 = c02 = c10 = c11 = c12 = c20 = c21 = c22 = c30 = c31 = c32 = c00;
        int x1 = lda, x2 = 2 * lda, x3 = 3 * lda;
        for (int p = 0; p < kb; p++, bo += ldb, xo++) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo), b1 = FloatVector.fromArray(S, b, bo + L), b2 = FloatVector.fromArray(S, b, bo + 2 * L);
            FloatVector v = FloatVector.broadcast(S, x[xo]);
            c00 = v.fma(b0, c00); c01 = v.fma(b1, c01); c02 = v.fma(b2, c02);
            v = FloatVector.broadcast(S, x[xo + x1]);
            c10 = v.fma(b0, c10); c11 = v.fma(b1, c11); c12 = v.fma(b2, c12);
            v = FloatVector.broadcast(S, x[xo + x2]);
            c20 = v.fma(b0, c20); c21 = v.fma(b1, c21); c22 = v.fma(b2, c22);
            v = FloatVector.broadcast(S, x[xo + x3]);
            c30 = v.fma(b0, c30); c31 = v.fma(b1, c31); c32 = v.fma(b2, c32);
        }
        c00.intoArray(c, co); c01.intoArray(c, co + L); c02.intoArray(c, co + 2 * L);
        c10.intoArray(c, co + ldc); c11.intoArray(c, co + ldc + L); c12.intoArray(c, co + ldc + 2 * L);
        c20.intoArray(c, co + 2 * ldc); c21.intoArray(c, co + 2 * ldc + L); c22.intoArray(c, co + 2 * ldc + 2 * L);
        c30.intoArray(c, co + 3 * ldc); c31.intoArray(c, co + 3 * ldc + L); c32.intoArray(c, co + 3 * ldc + 2 * L);
    }

    static void p4x3(float[] c, int co, int ldc, float[] ap, int ao, float[] b, int bo, int ldb, int kb) {
        FloatVector c00, c01, c02, c10, c11, c12, c20, c21, c22, c30, c31, c32;
        c00 = FloatVector.zero(S);
        c01 = c02 = c10 = c11 = c12 = c20 = c21 = c22 = c30 = c31 = c32 = c00;
        for (int p = 0; p < kb; p++, bo += ldb, ao += 4) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo), b1 = FloatVector.fromArray(S, b, bo + L), b2 = FloatVector.fromArray(S, b, bo + 2 * L);
            FloatVector v = FloatVector.broadcast(S, ap[ao]);
            c00 = v.fma(b0, c00); c01 = v.fma(b1, c01); c02 = v.fma(b2, c02);
            v = FloatVector.broadcast(S, ap[ao + 1]);
            c10 = v.fma(b0, c10); c11 = v.fma(b1, c11); c12 = v.fma(b2, c12);
            v = FloatVector.broadcast(S, ap[ao + 2]);
            c20 = v.fma(b0, c20); c21 = v.fma(b1, c21); c22 = v.fma(b2, c22);
            v = FloatVector.broadcast(S, ap[ao + 3]);
            c30 = v.fma(b0, c30); c31 = v.fma(b1, c31); c32 = v.fma(b2, c32);
        }
        c00.intoArray(c, co); c01.intoArray(c, co + L); c02.intoArray(c, co + 2 * L);
        c10.intoArray(c, co + ldc); c11.intoArray(c, co + ldc + L); c12.intoArray(c, co + ldc + 2 * L);
        c20.intoArray(c, co + 2 * ldc); c21.intoArray(c, co + 2 * ldc + L); c22.intoArray(c, co + 2 * ldc + 2 * L);
        c30.intoArray(c, co + 3 * ldc); c31.intoArray(c, co + 3 * ldc + L); c32.intoArray(c, co + 3 * ldc + 2 * L);
    }

    interface Body { void run(); }

    static double best(Body body, double flopsPerCall) {
        for (int i = 0; i < 2000; i++) body.run();
        double best = Double.MAX_VALUE;
        for (int r = 0; r < 15; r++) {
            long t0 = System.nanoTime();
            int calls = 0;
            while (System.nanoTime() - t0 < 50_000_000L) {
                for (int i = 0; i < 20; i++) body.run();
                calls += 20;
            }
            best = Math.min(best, (System.nanoTime() - t0) / (double) calls);
        }
        return flopsPerCall / best; // flops per ns = GFLOP/s
    }

    public static void main(String[] a) {
        System.out.println("lanes " + L);
        long it = 100_000;
        System.out.printf("peak (12 register accumulators): %.1f GFLOP/s%n", best(() -> sink += peak(it), 2.0 * 12 * L * it));
        // panels over 64 rows x (np = 2 or 3 vectors wide strip of 104 columns), depth kb
        int rows = 66, k = 784, np = 104;
        float[] x = new float[rows * k], ap = new float[rows * k], b = new float[k * np], c = new float[rows * np];
        java.util.Random r = new java.util.Random(1);
        for (int i = 0; i < x.length; i++) x[i] = ap[i] = r.nextFloat();
        for (int i = 0; i < b.length; i++) b[i] = r.nextFloat();
        for (int kb : new int[] {128, 784}) {
            String where = kb == 128 ? "l1 (kb 128)" : "l2 (kb 784)";
            // all 11 panels × the strip of 2 (3) vectors, one depth block
            double g62 = best(() -> { for (int q = 0; q < 11; q++) p6x2(c, q * 6 * np, np, ap, q * 6 * kb, b, 0, np, kb); }, 2.0 * 66 * 2 * L * kb);
            double g62r = best(() -> { for (int q = 0; q < 11; q++) p6x2r(c, q * 6 * np, np, x, q * 6 * k, k, b, 0, np, kb); }, 2.0 * 66 * 2 * L * kb);
            double g43r = best(() -> { for (int q = 0; q < 16; q++) p4x3r(c, q * 4 * np, np, x, q * 4 * k, k, b, 0, np, kb); }, 2.0 * 64 * 3 * L * kb);
            System.out.printf("%s: 6x2 packed A %.1f, 6x2r A in place %.1f, 4x3r A in place %.1f GFLOP/s%n", where, g62, g62r, g43r);
        }
        // the whole 64x784 · 784x96 product: strip -> depth block of 112 -> panels (B's block stays in L1)
        int kb = 112;
        double w62 = best(() -> { for (int j = 0; j + 2 * L <= np; j += 2 * L) for (int d = 0; d < k; d += kb) for (int q = 0; q < 11; q++) p6x2(c, q * 6 * np + j, np, ap, q * 6 * k + d * 6, b, d * np + j, np, kb); }, 2.0 * 66 * 12 * L * k);
        double w62r = best(() -> { for (int j = 0; j + 2 * L <= np; j += 2 * L) for (int d = 0; d < k; d += kb) for (int q = 0; q < 11; q++) p6x2r(c, q * 6 * np + j, np, x, q * 6 * k + d, k, b, d * np + j, np, kb); }, 2.0 * 66 * 12 * L * k);
        double w43 = best(() -> { for (int j = 0; j + 3 * L <= np; j += 3 * L) for (int d = 0; d < k; d += kb) for (int q = 0; q < 16; q++) p4x3(c, q * 4 * np + j, np, ap, q * 4 * k + d * 4, b, d * np + j, np, kb); }, 2.0 * 64 * 12 * L * k);
        double w43r = best(() -> { for (int j = 0; j + 3 * L <= np; j += 3 * L) for (int d = 0; d < k; d += kb) for (int q = 0; q < 16; q++) p4x3r(c, q * 4 * np + j, np, x, q * 4 * k + d, k, b, d * np + j, np, kb); }, 2.0 * 64 * 12 * L * k);
        System.out.printf("whole 64x784x96, strip > depth block 112 > panel: 6x2 packed %.1f, 6x2r %.1f, 4x3 packed %.1f, 4x3r %.1f GFLOP/s%n", w62, w62r, w43, w43r);
    }
}
