import jdk.incubator.vector.*;
import java.util.Arrays;
/**
 * The GEMM register tile alone on conv2's forward shape, against the FMA peak in the same JVM (issue #20 scope 3): Gemm.panel6x2
 * as written (A: 6 packed rows × 2 vectors, B rows 200 floats apart, C added), a copy whose loads are all indexed by
 * the trip counter from a contiguous B block, and 12 accumulators without memory operands, alternating in 60
 * repetitions of 2000 × 11 panels × 96 depth steps (B's block and A's panels in L1/L2, as in multiplyPacked).
 * <pre>java --add-modules jdk.incubator.vector tools/conv-prof/PanelCeiling.java</pre>
 */
public class PanelCeiling {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    static float sink;
    static void a6x2(float[] c, int co, int ldc, float[] ap, int ao, float[] b, int bo, int ldb, int kb) {
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
        c00.add(FloatVector.fromArray(S, c, co)).intoArray(c, co); c01.add(FloatVector.fromArray(S, c, co + L)).intoArray(c, co + L);
        c10.add(FloatVector.fromArray(S, c, co + ldc)).intoArray(c, co + ldc); c11.add(FloatVector.fromArray(S, c, co + ldc + L)).intoArray(c, co + ldc + L);
        c20.add(FloatVector.fromArray(S, c, co + 2 * ldc)).intoArray(c, co + 2 * ldc); c21.add(FloatVector.fromArray(S, c, co + 2 * ldc + L)).intoArray(c, co + 2 * ldc + L);
        c30.add(FloatVector.fromArray(S, c, co + 3 * ldc)).intoArray(c, co + 3 * ldc); c31.add(FloatVector.fromArray(S, c, co + 3 * ldc + L)).intoArray(c, co + 3 * ldc + L);
        c40.add(FloatVector.fromArray(S, c, co + 4 * ldc)).intoArray(c, co + 4 * ldc); c41.add(FloatVector.fromArray(S, c, co + 4 * ldc + L)).intoArray(c, co + 4 * ldc + L);
        c50.add(FloatVector.fromArray(S, c, co + 5 * ldc)).intoArray(c, co + 5 * ldc); c51.add(FloatVector.fromArray(S, c, co + 5 * ldc + L)).intoArray(c, co + 5 * ldc + L);
    }
    /** B: B rows copied to a contiguous block (ldb = 2L) so both loads are at 2L·p + const, and A at 6p + const: all indices linear in p. */
    static void b6x2(float[] c, int co, int ldc, float[] ap, int ao, float[] b, int bo, int kb) {
        FloatVector c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        c00 = FloatVector.zero(S);
        c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = c00;
        for (int p = 0; p < kb; p++) {
            int q = bo + 2 * L * p, r = ao + 6 * p;
            FloatVector b0 = FloatVector.fromArray(S, b, q), b1 = FloatVector.fromArray(S, b, q + L);
            FloatVector v = FloatVector.broadcast(S, ap[r]);
            c00 = v.fma(b0, c00); c01 = v.fma(b1, c01);
            v = FloatVector.broadcast(S, ap[r + 1]);
            c10 = v.fma(b0, c10); c11 = v.fma(b1, c11);
            v = FloatVector.broadcast(S, ap[r + 2]);
            c20 = v.fma(b0, c20); c21 = v.fma(b1, c21);
            v = FloatVector.broadcast(S, ap[r + 3]);
            c30 = v.fma(b0, c30); c31 = v.fma(b1, c31);
            v = FloatVector.broadcast(S, ap[r + 4]);
            c40 = v.fma(b0, c40); c41 = v.fma(b1, c41);
            v = FloatVector.broadcast(S, ap[r + 5]);
            c50 = v.fma(b0, c50); c51 = v.fma(b1, c51);
        }
        c00.add(FloatVector.fromArray(S, c, co)).intoArray(c, co); c01.add(FloatVector.fromArray(S, c, co + L)).intoArray(c, co + L);
        c10.add(FloatVector.fromArray(S, c, co + ldc)).intoArray(c, co + ldc); c11.add(FloatVector.fromArray(S, c, co + ldc + L)).intoArray(c, co + ldc + L);
        c20.add(FloatVector.fromArray(S, c, co + 2 * ldc)).intoArray(c, co + 2 * ldc); c21.add(FloatVector.fromArray(S, c, co + 2 * ldc + L)).intoArray(c, co + 2 * ldc + L);
        c30.add(FloatVector.fromArray(S, c, co + 3 * ldc)).intoArray(c, co + 3 * ldc); c31.add(FloatVector.fromArray(S, c, co + 3 * ldc + L)).intoArray(c, co + 3 * ldc + L);
        c40.add(FloatVector.fromArray(S, c, co + 4 * ldc)).intoArray(c, co + 4 * ldc); c41.add(FloatVector.fromArray(S, c, co + 4 * ldc + L)).intoArray(c, co + 4 * ldc + L);
        c50.add(FloatVector.fromArray(S, c, co + 5 * ldc)).intoArray(c, co + 5 * ldc); c51.add(FloatVector.fromArray(S, c, co + 5 * ldc + L)).intoArray(c, co + 5 * ldc + L);
    }
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
    public static void main(String[] x) {
        // conv2 forward's shape: 64 rows (11 panels of 6), depth block 96, strip 2L of 200 columns; B block in L1
        int kb = 96, ldb = 200, panels = 11;
        float[] ap = new float[panels * 6 * kb], b = new float[kb * ldb], bc = new float[kb * 2 * L], c = new float[66 * ldb];
        java.util.Random r = new java.util.Random(1);
        for (int i = 0; i < ap.length; i++) ap[i] = r.nextFloat();
        for (int i = 0; i < b.length; i++) b[i] = r.nextFloat();
        for (int i = 0; i < bc.length; i++) bc[i] = r.nextFloat();
        int R = 60, inner = 2000; long[][] t = new long[3][R];
        for (int rep = -20; rep < R; rep++) {
            long t0 = System.nanoTime();
            for (int it = 0; it < inner; it++) for (int q = 0; q < panels; q++) a6x2(c, q * 6 * ldb, ldb, ap, q * 6 * kb, b, 0, ldb, kb);
            long t1 = System.nanoTime();
            for (int it = 0; it < inner; it++) for (int q = 0; q < panels; q++) b6x2(c, q * 6 * ldb, ldb, ap, q * 6 * kb, bc, 0, kb);
            long t2 = System.nanoTime();
            sink += peak((long) inner * panels * kb);
            long t3 = System.nanoTime();
            if (rep >= 0) { t[0][rep] = t1 - t0; t[1][rep] = t2 - t1; t[2][rep] = t3 - t2; }
        }
        double flop = 2.0 * 12 * L * kb * panels * inner;
        String[] nm = {"6x2 (Gemm)", "6x2 linear idx", "peak"};
        for (int k = 0; k < 3; k++) {
            long[] v = t[k].clone(); Arrays.sort(v);
            System.out.printf("%-16s med %.1f q25 %.1f GFLOP/s%n", nm[k], flop / v[R / 2], flop / v[R / 4]);
        }
    }
}
