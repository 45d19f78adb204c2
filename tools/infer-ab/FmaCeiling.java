import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * What a Java Vector API FMA microkernel reaches on this machine (issue #22 round 4): GFLOP/s of
 * (peak) 12 independent accumulators, no memory operands;
 * (6x2)  6 rows of A (packed, 6 floats per depth step) × 2 vectors of packed B, 12 accumulators (Gemm.panel6x2);
 * (6x2r) the same with A read in place from 6 row-major rows (the eval MLP path until round 4's 4 × 3 tile; since removed from Gemm);
 * (4x3r) 4 rows of A in place × 3 vectors of B, 12 accumulators: 4 broadcasts + 3 loads per 12 FMAs instead of 6 + 2;
 * (4x3)  the same with A packed (4 floats per depth step);
 * on the MLP's first product (64 × 784 × 96: strip of B → depth block of 112 → panels, so B's block stays in L1);
 * (conv6x2) ConvKernels.tileFlat's loop on the CNN's conv2 (32 → 64 channels, 3×3, one item of 30 flat positions);
 * (conv3x4) the same with 3 positions × 4 vectors of output channels (17 registers); altstride alternates packed A
 * read with constant offsets and through two strides (6x2 and 8x1, as Gemm's kernels); altconv and altgemm alternate
 * conv 6×2 with 4 positions × 3 vectors, and gemm 6x2r, 4x3r and the register peak, in 20 ms chunks in one JVM (for a
 * loaded machine: compare the medians side by side; altall: gemm 4x3r, conv 6x2 and the peak). Otherwise best of
 * 15 timed rounds of ~50 ms after a
 * warm-up; pure compute (no window building, epilogue or pool).
 *
 * <pre>java --add-modules jdk.incubator.vector tools/infer-ab/FmaCeiling.java [peak|6x2|6x2r|4x3|4x3r|conv6x2|conv3x4|altstride|altconv|altgemm|altall]</pre>
 * One kernel per JVM gives steadier numbers (the JIT compiles each kernel once, for its one call site).
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

    /** {@link #p6x2} reading A through two strides, a[ao + r·ars + p·acs], as Gemm.panel8x1 does (here ars = 1, acs = 6). */
    static void p6x2s(float[] c, int co, int ldc, float[] a, int ao, int ars, int acs, float[] b, int bo, int ldb, int kb) {
        FloatVector c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
        c00 = FloatVector.zero(S);
        c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = c00;
        int a1 = ars, a2 = 2 * ars, a3 = 3 * ars, a4 = 4 * ars, a5 = 5 * ars;
        for (int p = 0; p < kb; p++, bo += ldb, ao += acs) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo), b1 = FloatVector.fromArray(S, b, bo + L);
            FloatVector v = FloatVector.broadcast(S, a[ao]);
            c00 = v.fma(b0, c00); c01 = v.fma(b1, c01);
            v = FloatVector.broadcast(S, a[ao + a1]);
            c10 = v.fma(b0, c10); c11 = v.fma(b1, c11);
            v = FloatVector.broadcast(S, a[ao + a2]);
            c20 = v.fma(b0, c20); c21 = v.fma(b1, c21);
            v = FloatVector.broadcast(S, a[ao + a3]);
            c30 = v.fma(b0, c30); c31 = v.fma(b1, c31);
            v = FloatVector.broadcast(S, a[ao + a4]);
            c40 = v.fma(b0, c40); c41 = v.fma(b1, c41);
            v = FloatVector.broadcast(S, a[ao + a5]);
            c50 = v.fma(b0, c50); c51 = v.fma(b1, c51);
        }
        c00.intoArray(c, co); c01.intoArray(c, co + L);
        c10.intoArray(c, co + ldc); c11.intoArray(c, co + ldc + L);
        c20.intoArray(c, co + 2 * ldc); c21.intoArray(c, co + 2 * ldc + L);
        c30.intoArray(c, co + 3 * ldc); c31.intoArray(c, co + 3 * ldc + L);
        c40.intoArray(c, co + 4 * ldc); c41.intoArray(c, co + 4 * ldc + L);
        c50.intoArray(c, co + 5 * ldc); c51.intoArray(c, co + 5 * ldc + L);
    }

    /** 8 rows × 1 vector, A packed (8 floats per depth step), constant offsets. */
    static void p8x1(float[] c, int co, int ldc, float[] ap, int ao, float[] b, int bo, int ldb, int kb) {
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
        for (int p = 0; p < kb; p++, bo += ldb, ao += 8) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo);
            c0 = FloatVector.broadcast(S, ap[ao]).fma(b0, c0); c1 = FloatVector.broadcast(S, ap[ao + 1]).fma(b0, c1);
            c2 = FloatVector.broadcast(S, ap[ao + 2]).fma(b0, c2); c3 = FloatVector.broadcast(S, ap[ao + 3]).fma(b0, c3);
            c4 = FloatVector.broadcast(S, ap[ao + 4]).fma(b0, c4); c5 = FloatVector.broadcast(S, ap[ao + 5]).fma(b0, c5);
            c6 = FloatVector.broadcast(S, ap[ao + 6]).fma(b0, c6); c7 = FloatVector.broadcast(S, ap[ao + 7]).fma(b0, c7);
        }
        c0.intoArray(c, co); c1.intoArray(c, co + ldc); c2.intoArray(c, co + 2 * ldc); c3.intoArray(c, co + 3 * ldc);
        c4.intoArray(c, co + 4 * ldc); c5.intoArray(c, co + 5 * ldc); c6.intoArray(c, co + 6 * ldc); c7.intoArray(c, co + 7 * ldc);
    }

    /** {@link #p8x1} through two strides (Gemm.panel8x1's form; here ars = 1, acs = 8). */
    static void p8x1s(float[] c, int co, int ldc, float[] a, int ao, int ars, int acs, float[] b, int bo, int ldb, int kb) {
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
        int a1 = ars, a2 = 2 * ars, a3 = 3 * ars, a4 = 4 * ars, a5 = 5 * ars, a6 = 6 * ars, a7 = 7 * ars;
        for (int p = 0; p < kb; p++, bo += ldb, ao += acs) {
            FloatVector b0 = FloatVector.fromArray(S, b, bo);
            c0 = FloatVector.broadcast(S, a[ao]).fma(b0, c0); c1 = FloatVector.broadcast(S, a[ao + a1]).fma(b0, c1);
            c2 = FloatVector.broadcast(S, a[ao + a2]).fma(b0, c2); c3 = FloatVector.broadcast(S, a[ao + a3]).fma(b0, c3);
            c4 = FloatVector.broadcast(S, a[ao + a4]).fma(b0, c4); c5 = FloatVector.broadcast(S, a[ao + a5]).fma(b0, c5);
            c6 = FloatVector.broadcast(S, a[ao + a6]).fma(b0, c6); c7 = FloatVector.broadcast(S, a[ao + a7]).fma(b0, c7);
        }
        c0.intoArray(c, co); c1.intoArray(c, co + ldc); c2.intoArray(c, co + 2 * ldc); c3.intoArray(c, co + 3 * ldc);
        c4.intoArray(c, co + 4 * ldc); c5.intoArray(c, co + 5 * ldc); c6.intoArray(c, co + 6 * ldc); c7.intoArray(c, co + 7 * ldc);
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

    /**
     * ConvKernels.tileFlat's inner loop: 6 consecutive window positions × 2 vectors of output channels, per tap one
     * offset from the tap table, 6 broadcasts of the window and 2 loads of the packed filters (tap-major, 2L floats).
     */
    static void conv6x2(float[] scr, int so, float[] wp, int wo, float[] xw, int[] taps, int d0, int d1, int s0) {
        FloatVector a00 = FloatVector.zero(S), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00;
        FloatVector a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
        int oc = 2 * L;
        for (int t = d0, wt = wo + d0 * oc; t < d1; t++, wt += oc) {
            FloatVector w0 = FloatVector.fromArray(S, wp, wt), w1 = FloatVector.fromArray(S, wp, wt + L);
            int off = s0 + taps[t];
            FloatVector v = FloatVector.broadcast(S, xw[off]);
            a00 = v.fma(w0, a00); a01 = v.fma(w1, a01);
            v = FloatVector.broadcast(S, xw[off + 1]);
            a10 = v.fma(w0, a10); a11 = v.fma(w1, a11);
            v = FloatVector.broadcast(S, xw[off + 2]);
            a20 = v.fma(w0, a20); a21 = v.fma(w1, a21);
            v = FloatVector.broadcast(S, xw[off + 3]);
            a30 = v.fma(w0, a30); a31 = v.fma(w1, a31);
            v = FloatVector.broadcast(S, xw[off + 4]);
            a40 = v.fma(w0, a40); a41 = v.fma(w1, a41);
            v = FloatVector.broadcast(S, xw[off + 5]);
            a50 = v.fma(w0, a50); a51 = v.fma(w1, a51);
        }
        a00.intoArray(scr, so); a01.intoArray(scr, so + L); a10.intoArray(scr, so + oc); a11.intoArray(scr, so + oc + L);
        a20.intoArray(scr, so + 2 * oc); a21.intoArray(scr, so + 2 * oc + L); a30.intoArray(scr, so + 3 * oc); a31.intoArray(scr, so + 3 * oc + L);
        a40.intoArray(scr, so + 4 * oc); a41.intoArray(scr, so + 4 * oc + L); a50.intoArray(scr, so + 5 * oc); a51.intoArray(scr, so + 5 * oc + L);
    }

    /** The alternative conv tile: 3 consecutive positions × 4 vectors of output channels (filters packed 4L per tap). */
    static void conv3x4(float[] scr, int so, float[] wp, int wo, float[] xw, int[] taps, int d0, int d1, int s0) {
        FloatVector a00 = FloatVector.zero(S), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        int oc = 4 * L;
        for (int t = d0, wt = wo + d0 * oc; t < d1; t++, wt += oc) {
            FloatVector w0 = FloatVector.fromArray(S, wp, wt), w1 = FloatVector.fromArray(S, wp, wt + L);
            FloatVector w2 = FloatVector.fromArray(S, wp, wt + 2 * L), w3 = FloatVector.fromArray(S, wp, wt + 3 * L);
            int off = s0 + taps[t];
            FloatVector v = FloatVector.broadcast(S, xw[off]);
            a00 = v.fma(w0, a00); a01 = v.fma(w1, a01); a02 = v.fma(w2, a02); a03 = v.fma(w3, a03);
            v = FloatVector.broadcast(S, xw[off + 1]);
            a10 = v.fma(w0, a10); a11 = v.fma(w1, a11); a12 = v.fma(w2, a12); a13 = v.fma(w3, a13);
            v = FloatVector.broadcast(S, xw[off + 2]);
            a20 = v.fma(w0, a20); a21 = v.fma(w1, a21); a22 = v.fma(w2, a22); a23 = v.fma(w3, a23);
        }
        a00.intoArray(scr, so); a01.intoArray(scr, so + L); a02.intoArray(scr, so + 2 * L); a03.intoArray(scr, so + 3 * L);
        a10.intoArray(scr, so + oc); a11.intoArray(scr, so + oc + L); a12.intoArray(scr, so + oc + 2 * L); a13.intoArray(scr, so + oc + 3 * L);
        a20.intoArray(scr, so + 2 * oc); a21.intoArray(scr, so + 2 * oc + L); a22.intoArray(scr, so + 2 * oc + 2 * L); a23.intoArray(scr, so + 2 * oc + 3 * L);
    }

    /** 4 consecutive positions × 3 vectors of output channels (filters packed 3L per tap): 12 accumulators + 3 + 1 = 16 registers. */
    static void conv4x3(float[] scr, int so, float[] wp, int wo, float[] xw, int[] taps, int d0, int d1, int s0) {
        FloatVector a00 = FloatVector.zero(S), a01 = a00, a02 = a00, a10 = a00, a11 = a00, a12 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a30 = a00, a31 = a00, a32 = a00;
        int oc = 3 * L;
        for (int t = d0, wt = wo + d0 * oc; t < d1; t++, wt += oc) {
            FloatVector w0 = FloatVector.fromArray(S, wp, wt), w1 = FloatVector.fromArray(S, wp, wt + L), w2 = FloatVector.fromArray(S, wp, wt + 2 * L);
            int off = s0 + taps[t];
            FloatVector v = FloatVector.broadcast(S, xw[off]);
            a00 = v.fma(w0, a00); a01 = v.fma(w1, a01); a02 = v.fma(w2, a02);
            v = FloatVector.broadcast(S, xw[off + 1]);
            a10 = v.fma(w0, a10); a11 = v.fma(w1, a11); a12 = v.fma(w2, a12);
            v = FloatVector.broadcast(S, xw[off + 2]);
            a20 = v.fma(w0, a20); a21 = v.fma(w1, a21); a22 = v.fma(w2, a22);
            v = FloatVector.broadcast(S, xw[off + 3]);
            a30 = v.fma(w0, a30); a31 = v.fma(w1, a31); a32 = v.fma(w2, a32);
        }
        a00.intoArray(scr, so); a01.intoArray(scr, so + L); a02.intoArray(scr, so + 2 * L);
        a10.intoArray(scr, so + oc); a11.intoArray(scr, so + oc + L); a12.intoArray(scr, so + oc + 2 * L);
        a20.intoArray(scr, so + 2 * oc); a21.intoArray(scr, so + 2 * oc + L); a22.intoArray(scr, so + 2 * oc + 2 * L);
        a30.intoArray(scr, so + 3 * oc); a31.intoArray(scr, so + 3 * oc + L); a32.intoArray(scr, so + 3 * oc + 2 * L);
    }

    /** Alternates bodies in 20 ms chunks, rotating order, 40 rounds after a warm-up; median GFLOP/s of each. */
    static double[] alternate(Body[] bodies, double[] flops) {
        for (Body b : bodies) for (int i = 0; i < 3000; i++) b.run();
        java.util.List<java.util.List<Double>> g = new java.util.ArrayList<>();
        for (Body b : bodies) g.add(new java.util.ArrayList<>());
        for (int r = 0; r < 40; r++) {
            for (int v = 0; v < bodies.length; v++) {
                int q = (v + r) % bodies.length;
                long t0 = System.nanoTime();
                int calls = 0;
                while (System.nanoTime() - t0 < 20_000_000L) {
                    for (int i = 0; i < 10; i++) bodies[q].run();
                    calls += 10;
                }
                g.get(q).add(flops[q] * calls / (System.nanoTime() - t0));
            }
        }
        double[] med = new double[bodies.length];
        for (int q = 0; q < bodies.length; q++) {
            java.util.Collections.sort(g.get(q));
            med[q] = g.get(q).get(g.get(q).size() / 2);
        }
        return med;
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
        String which = a.length > 0 ? a[0] : "all";
        boolean all = which.equals("all");
        System.out.println("lanes " + L);
        long it = 100_000;
        if (all || which.equals("peak")) System.out.printf("peak (12 register accumulators): %.1f GFLOP/s%n", best(() -> sink += peak(it), 2.0 * 12 * L * it));
        // the MLP's first product: 64 (66) rows x 784 deep x 104 columns (96 used by the strips here)
        int rows = 66, k = 784, np = 104;
        float[] x = new float[rows * k], ap = new float[rows * k], b = new float[k * np], c = new float[rows * np];
        java.util.Random r = new java.util.Random(1);
        for (int i = 0; i < x.length; i++) x[i] = ap[i] = r.nextFloat();
        for (int i = 0; i < b.length; i++) b[i] = r.nextFloat();
        // strip -> depth block of 112 -> panels (B's block stays in L1 across the panels), as Gemm's eval path
        int kb = 112;
        if (all || which.equals("6x2")) System.out.printf("gemm 6x2, A packed: %.1f GFLOP/s%n", best(() -> { for (int j = 0; j + 2 * L <= np; j += 2 * L) for (int d = 0; d < k; d += kb) for (int q = 0; q < 11; q++) p6x2(c, q * 6 * np + j, np, ap, q * 6 * k + d * 6, b, d * np + j, np, kb); }, 2.0 * 66 * 12 * L * k));
        if (all || which.equals("6x2r")) System.out.printf("gemm 6x2r, A in place: %.1f GFLOP/s%n", best(() -> { for (int j = 0; j + 2 * L <= np; j += 2 * L) for (int d = 0; d < k; d += kb) for (int q = 0; q < 11; q++) p6x2r(c, q * 6 * np + j, np, x, q * 6 * k + d, k, b, d * np + j, np, kb); }, 2.0 * 66 * 12 * L * k));
        if (all || which.equals("4x3")) System.out.printf("gemm 4x3, A packed: %.1f GFLOP/s%n", best(() -> { for (int j = 0; j + 3 * L <= np; j += 3 * L) for (int d = 0; d < k; d += kb) for (int q = 0; q < 16; q++) p4x3(c, q * 4 * np + j, np, ap, q * 4 * k + d * 4, b, d * np + j, np, kb); }, 2.0 * 64 * 12 * L * k));
        if (all || which.equals("4x3r")) System.out.printf("gemm 4x3r, A in place: %.1f GFLOP/s%n", best(() -> { for (int j = 0; j + 3 * L <= np; j += 3 * L) for (int d = 0; d < k; d += kb) for (int q = 0; q < 16; q++) p4x3r(c, q * 4 * np + j, np, x, q * 4 * k + d, k, b, d * np + j, np, kb); }, 2.0 * 64 * 12 * L * k));
        // conv2 of the CNN: 32 channels x 3x3 taps over a window of 4 rows x 16 (2 pooled output rows of 14 + padding),
        // 30 flat positions per item, 64 output channels, depth blocks of 96 taps
        int cg = 32, wr = 4, wpd = 16, taps = cg * 9, npos = 30;
        int[] tap = new int[taps];
        for (int ch = 0, t = 0; ch < cg; ch++) for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) tap[t++] = (ch * wr + i) * wpd + j;
        float[] win = new float[cg * wr * wpd + 8], filt = new float[72 * taps], scr = new float[32 * 64];
        for (int i = 0; i < win.length; i++) win[i] = r.nextFloat();
        for (int i = 0; i < filt.length; i++) filt[i] = r.nextFloat();
        double convFlops = 2.0 * npos * 64 * taps;
        if (all || which.equals("conv6x2")) System.out.printf("conv 6 positions x 2 vectors: %.1f GFLOP/s%n", best(() -> { for (int blk = 0; blk < 64 / (2 * L); blk++) for (int q = 0; q < npos; q += 6) for (int d = 0; d < taps; d += 96) conv6x2(scr, q * 2 * L, filt, blk * taps * 2 * L, win, tap, d, d + 96, q); }, convFlops));
        if (all || which.equals("conv3x4")) System.out.printf("conv 3 positions x 4 vectors: %.1f GFLOP/s%n", best(() -> { for (int blk = 0; blk < 64 / (4 * L); blk++) for (int q = 0; q < npos; q += 3) for (int d = 0; d < taps; d += 96) conv3x4(scr, q * 4 * L, filt, blk * taps * 4 * L, win, tap, d, d + 96, q); }, convFlops));
        if (which.equals("altconv")) {
            double[] m = alternate(new Body[] {
                () -> { for (int blk = 0; blk < 64 / (2 * L); blk++) for (int q = 0; q < npos; q += 6) for (int d = 0; d < taps; d += 96) conv6x2(scr, q * 2 * L, filt, blk * taps * 2 * L, win, tap, d, d + 96, q); },
                () -> { for (int blk = 0; blk < 3; blk++) for (int q = 0; q < 32; q += 4) for (int d = 0; d < taps; d += 96) conv4x3(scr, q * 3 * L, filt, blk * taps * 3 * L, win, tap, d, d + 96, q); }},
                new double[] {convFlops, 2.0 * 32 * 72 * taps});
            System.out.printf("alternated, median of 40 chunks: conv 6x2 %.1f, conv 4x3 (72 channels, 32 positions computed) %.1f GFLOP/s of computed flops%n", m[0], m[1]);
        }
        if (which.equals("altgemm")) {
            double[] m = alternate(new Body[] {
                () -> { for (int j = 0; j + 2 * L <= np; j += 2 * L) for (int d = 0; d < k; d += kb) for (int q = 0; q < 11; q++) p6x2r(c, q * 6 * np + j, np, x, q * 6 * k + d, k, b, d * np + j, np, kb); },
                () -> { for (int j = 0; j + 3 * L <= np; j += 3 * L) for (int d = 0; d < k; d += kb) for (int q = 0; q < 16; q++) p4x3r(c, q * 4 * np + j, np, x, q * 4 * k + d, k, b, d * np + j, np, kb); },
                () -> { for (int q = 0; q < 1000; q++) sink += peak(100); }},
                new double[] {2.0 * 66 * 12 * L * k, 2.0 * 64 * 12 * L * k, 1000 * 2.0 * 12 * L * 100});
            System.out.printf("alternated, median of 40 chunks: gemm 6x2r %.1f, 4x3r %.1f, register peak %.1f GFLOP/s%n", m[0], m[1], m[2]);
        }
        if (which.equals("altstride")) {
            // packed A read with constant offsets (Gemm.panel6x2) or through two strides (Gemm.panel8x1's form)
            double f62 = 2.0 * 66 * k * ((np / (2 * L)) * 2 * L), f81 = 2.0 * 64 * k * np;
            double[] m = alternate(new Body[] {
                () -> { for (int j = 0; j + 2 * L <= np; j += 2 * L) for (int d = 0; d < k; d += kb) for (int q = 0; q < 11; q++) p6x2(c, q * 6 * np + j, np, ap, q * 6 * k + d * 6, b, d * np + j, np, kb); },
                () -> { for (int j = 0; j + 2 * L <= np; j += 2 * L) for (int d = 0; d < k; d += kb) for (int q = 0; q < 11; q++) p6x2s(c, q * 6 * np + j, np, ap, q * 6 * k + d * 6, 1, 6, b, d * np + j, np, kb); },
                () -> { for (int j = 0; j < np; j += L) for (int d = 0; d < k; d += kb) for (int q = 0; q < 8; q++) p8x1(c, q * 8 * np + j, np, ap, q * 8 * k + d * 8, b, d * np + j, np, kb); },
                () -> { for (int j = 0; j < np; j += L) for (int d = 0; d < k; d += kb) for (int q = 0; q < 8; q++) p8x1s(c, q * 8 * np + j, np, ap, q * 8 * k + d * 8, 1, 8, b, d * np + j, np, kb); }},
                new double[] {f62, f62, f81, f81});
            System.out.printf("alternated, median of 40 chunks, A packed: 6x2 constant offsets %.1f, 6x2 strided %.1f, 8x1 constant %.1f, 8x1 strided %.1f GFLOP/s%n", m[0], m[1], m[2], m[3]);
        }
        if (which.equals("altall")) {
            double[] m = alternate(new Body[] {
                () -> { for (int j = 0; j + 3 * L <= np; j += 3 * L) for (int d = 0; d < k; d += kb) for (int q = 0; q < 16; q++) p4x3r(c, q * 4 * np + j, np, x, q * 4 * k + d, k, b, d * np + j, np, kb); },
                () -> { for (int blk = 0; blk < 64 / (2 * L); blk++) for (int q = 0; q < npos; q += 6) for (int d = 0; d < taps; d += 96) conv6x2(scr, q * 2 * L, filt, blk * taps * 2 * L, win, tap, d, d + 96, q); },
                () -> { for (int q = 0; q < 1000; q++) sink += peak(100); }},
                new double[] {2.0 * 64 * 12 * L * k, convFlops, 1000 * 2.0 * 12 * L * 100});
            System.out.printf("alternated, median of 40 chunks: gemm 4x3r %.1f, conv 6x2 %.1f, register peak %.1f GFLOP/s%n", m[0], m[1], m[2]);
        }
    }
}
