package normlab.kernels;

import static normlab.kernels.Lanes.BLOCK;
import static normlab.kernels.Lanes.GRAIN;
import static normlab.kernels.Lanes.L;
import static normlab.kernels.Lanes.S;
import static normlab.kernels.Lanes.laneSum;
import static normlab.kernels.Lanes.rowsPerTask;
import static normlab.kernels.Lanes.statsRow;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;

/**
 * {@link GroupKernels} with Vector API lanes and a scalar tail, spread over {@link Parallel}'s pool, for contiguous
 * groups (P == 1: LayerNorm, GroupNorm NCHW, InstanceNorm — every group one row of Q values) and RMSNorm's rows. Same
 * conventions as {@link SimdChannelKernels} ({@link Lanes}): float lanes over short blocks folded into double, fixed
 * blocks of rows for parameter-gradient sums, combined in block order.
 *
 * <p>The strided view (P &gt; 1, NHWC GroupNorm) and the fixed-statistics backward have no vector version: they run
 * {@link ScalarGroupKernels}' loops.
 */
public final class SimdGroupKernels implements GroupKernels {
    static final SimdGroupKernels INSTANCE = new SimdGroupKernels();

    /** Where the views without a vector version go. */
    private static final GroupKernels SCALAR = ScalarGroupKernels.INSTANCE;

    private SimdGroupKernels() {}

    @Override
    public void moments(double[] mean, double[] var, float[] x, GroupView v) {
        if (v.contiguous()) rowMoments(mean, var, x, v.groups(), v.q());
        else SCALAR.moments(mean, var, x, v);
    }

    @Override
    public void normalize(float[] y, float[] x, double[] mean, double[] rstd, float[] gamma, float[] beta,
                          GroupView v) {
        if (v.contiguous()) groupNormalize(y, x, mean, rstd, gamma, beta, v.groups(), v.g(), v.q(), v.inner());
        else SCALAR.normalize(y, x, mean, rstd, gamma, beta, v);
    }

    @Override
    public void backward(float[] dx, float[] dgamma, float[] dbeta, float[] dy, float[] x, double[] mean,
                         double[] rstd, float[] gamma, GroupView v) {
        if (v.contiguous()) groupBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, v.groups(), v.g(), v.q(), v.inner());
        else SCALAR.backward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, v);
    }

    @Override
    public void backwardFixed(float[] dx, float[] dgamma, float[] dbeta, float[] dy, float[] x, double[] mean,
                              double[] rstd, float[] gamma, GroupView v) {
        SCALAR.backwardFixed(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, v);
    }

    /** An array of n copies of v (stands in for an absent γ or w: multiplying by 1 is exact). */
    private static float[] filled(float v, int n) {
        float[] a = new float[n];
        Arrays.fill(a, v);
        return a;
    }

    /** Blocks of rows for parameter-gradient partials: at most 64 blocks, fixed by the row count alone. */
    private static int rowsPerBlock(int rows) {
        return Math.max(1, (rows + 63) / 64);
    }

    /** Mean and biased variance of each contiguous row of {@code len} values (shift: the row's first value). */
    private static void rowMoments(double[] mean, double[] var, float[] x, int rows, int len) {
        double[] p1 = new double[rows], p2 = new double[rows];
        Parallel.forRange(rows, rowsPerTask(len), (r0, r1) -> {
            float[] lane = new float[L];
            for (int r = r0; r < r1; r++) statsRow(p1, p2, r, x, r * len, len, x[r * len], lane);
        });
        double m = len;
        for (int r = 0; r < rows; r++) {
            double dm = p1[r] / m;
            mean[r] = x[r * len] + dm;
            var[r] = Math.max(0, p2[r] / m - dm * dm);
        }
    }

    /**
     * y = x̂·γ_c + β_c with x̂ = ((x − μ_hi) − μ_lo)·rstd per row; row r = (ia, ig) of {@code g} groups, affine index
     * c = ig·(len/inner) + j/inner (γ, β may be null: 1 and 0).
     */
    private static void groupNormalize(float[] y, float[] x, double[] mean, double[] rstd, float[] gamma0, float[] beta0,
                                      int rows, int g, int len, int inner) {
        int per = len / inner;
        float[] gamma = gamma0 != null ? gamma0 : filled(1f, g * per), beta = beta0 != null ? beta0 : new float[g * per];
        Parallel.forRange(rows, rowsPerTask(len), (r0, r1) -> {
            for (int r = r0; r < r1; r++) normalizeRow(y, x, mean[r], rstd[r], gamma, beta, r * len, (r % g) * per, len, inner, per);
        });
    }

    /** One row of {@link #groupNormalize}: y = ((x − μ_hi) − μ_lo)·rstd·γ_c + β_c over the {@code len} values at o. */
    private static void normalizeRow(float[] y, float[] x, double mu, double rsd, float[] gamma, float[] beta, int o,
                                     int cBase, int len, int inner, int per) {
        float hi = (float) mu, lo = (float) (mu - hi), rs = (float) rsd;
        FloatVector vh = FloatVector.broadcast(S, hi), vl = FloatVector.broadcast(S, lo);
        FloatVector vr = FloatVector.broadcast(S, rs);
        if (inner == 1) {
            int vs = S.loopBound(len), j = 0;
            for (; j < vs; j += L) {
                FloatVector gm = FloatVector.fromArray(S, gamma, cBase + j);
                FloatVector bt = FloatVector.fromArray(S, beta, cBase + j);
                FloatVector.fromArray(S, x, o + j).sub(vh).sub(vl).mul(vr).fma(gm, bt).intoArray(y, o + j);
            }
            for (; j < len; j++) {
                float xh = ((x[o + j] - hi) - lo) * rs;
                y[o + j] = Math.fma(xh, gamma[cBase + j], beta[cBase + j]);
            }
        } else {
            int vs = S.loopBound(inner);
            for (int run = 0; run < per; run++) {
                int c = cBase + run, ro = o + run * inner;
                float gm = gamma[c], bt = beta[c];
                FloatVector vg = FloatVector.broadcast(S, gm), vb = FloatVector.broadcast(S, bt);
                int j = 0;
                for (; j < vs; j += L) {
                    FloatVector.fromArray(S, x, ro + j).sub(vh).sub(vl).mul(vr).fma(vg, vb).intoArray(y, ro + j);
                }
                for (; j < inner; j++) y[ro + j] = Math.fma(((x[ro + j] - hi) - lo) * rs, gm, bt);
            }
        }
    }

    /**
     * {@link #rowMoments}, rstd and {@link #groupNormalize} row by row: each row's statistics (the same
     * {@link Lanes#statsRow} sums and formulas, so the same bits), then its normalization while the row is in L1/L2.
     * x is read from memory once instead of twice (LayerNorm (8192, 768): 3 passes over memory → 2).
     */
    @Override
    public void momentsNormalize(float[] y, double[] mean, double[] var, double[] rstd, float[] x, double eps,
                                 float[] gamma0, float[] beta0, GroupView v) {
        if (!v.contiguous()) {
            GroupKernels.super.momentsNormalize(y, mean, var, rstd, x, eps, gamma0, beta0, v);
            return;
        }
        int rows = v.groups(), g = v.g(), len = v.q(), inner = v.inner(), per = len / inner;
        float[] gamma = gamma0 != null ? gamma0 : filled(1f, g * per), beta = beta0 != null ? beta0 : new float[g * per];
        double m = len;
        Parallel.forRange(rows, rowsPerTask(len), (r0, r1) -> {
            float[] lane = new float[L];
            double[] p1 = new double[1], p2 = new double[1];
            for (int r = r0; r < r1; r++) {
                int o = r * len;
                statsRow(p1, p2, 0, x, o, len, x[o], lane);
                double dm = p1[0] / m;
                mean[r] = x[o] + dm;
                var[r] = Math.max(0, p2[0] / m - dm * dm);
                rstd[r] = 1.0 / Math.sqrt(var[r] + eps);
                normalizeRow(y, x, mean[r], rstd[r], gamma, beta, o, (r % g) * per, len, inner, per);
            }
        });
    }

    /**
     * Backward of {@link #groupNormalize} with batch statistics, per row with x̂ = ((x − μ_hi) − μ_lo)·rstd and
     * ĝ = dy·γ_c:
     * <pre>
     *   dx  = rstd · (ĝ − (1/M)Σĝ − x̂·(1/M)Σ ĝ·x̂)
     *   dγ_c += Σ dy·x̂,   dβ_c += Σ dy     (skipped when dgamma / dbeta is null)
     * </pre>
     * Pass 1 reads dy and x for the row sums and the parameter sums; pass 2 reads them again and writes dx.
     */
    private static void groupBackward(float[] dx, float[] dgamma, float[] dbeta, float[] dy, float[] x, double[] mean,
                                     double[] rstd, float[] gamma0, int rows, int g, int len, int inner) {
        int per = len / inner, nAff = g * per;
        float[] gamma = gamma0 != null ? gamma0 : filled(1f, nAff);
        int rpb = rowsPerBlock(rows), blocks = (rows + rpb - 1) / rpb;
        boolean params = dgamma != null || dbeta != null;
        double[] pg = params ? new double[blocks * nAff] : null, pb = params ? new double[blocks * nAff] : null;
        Parallel.forRange(blocks, Math.max(1, GRAIN / Math.max(1, rpb * len)), (b0, b1) -> {
            float[] lane = new float[L];
            float[] colG = inner == 1 && params ? new float[nAff] : null, colB = colG == null ? null : new float[nAff];
            float[] sinkG = g == 1 && inner == 1 && !params ? new float[nAff] : null, sinkB = sinkG == null ? null : new float[nAff];
            for (int b = b0; b < b1; b++) {
                if (colG != null) {
                    Arrays.fill(colG, 0f);
                    Arrays.fill(colB, 0f);
                }
                int r = b * rpb, rEnd = Math.min(rows, (b + 1) * rpb);
                if (g == 1 && inner == 1) { // LayerNorm rows: four at a time share the loads and stores of dγ, dβ
                    // (without parameters into scratch columns: a vector that is null on one path stays boxed)
                    float[] cg = colG != null ? colG : sinkG, cb = colB != null ? colB : sinkB;
                    for (; r + 4 <= rEnd; r += 4) layerBackwardRows4(dx, cg, cb, dy, x, mean, rstd, gamma, r, len, lane);
                }
                for (; r < rEnd; r++) {
                    groupBackwardRow(dx, pg, pb, colG, colB, dy, x, mean[r], rstd[r], gamma, r, b * nAff, g, len,
                            inner, per, lane);
                }
                if (colG != null) {
                    for (int c = 0; c < nAff; c++) {
                        pg[b * nAff + c] = colG[c];
                        pb[b * nAff + c] = colB[c];
                    }
                }
            }
        });
        if (!params) return;
        for (int c = 0; c < nAff; c++) {
            double sg = 0, sb = 0;
            for (int b = 0; b < blocks; b++) {
                sg += pg[b * nAff + c];
                sb += pb[b * nAff + c];
            }
            if (dgamma != null) dgamma[c] += (float) sg;
            if (dbeta != null) dbeta[c] += (float) sb;
        }
    }

    /**
     * Pass 1 of {@link #groupBackwardRow} for four consecutive rows of one group per row with a per-position affine
     * (LayerNorm), then pass 2 per row. Per position the four rows' contributions to dγ and dβ are added in row order
     * as in the one-row loop (identical arithmetic), but dγ and dβ are loaded and stored once per four rows. The four
     * rows are written out by hand: a helper taking their vectors would box them (JDK 17) when left out of line, and
     * this method is over 80 lines for that reason.
     */
    private static void layerBackwardRows4(float[] dx, float[] colG, float[] colB, float[] dy, float[] x, double[] mean,
                                           double[] rstd, float[] gamma, int r0, int len, float[] lane) {
        int o0 = r0 * len, o1 = o0 + len, o2 = o1 + len, o3 = o2 + len;
        float h0 = (float) mean[r0], h1 = (float) mean[r0 + 1], h2 = (float) mean[r0 + 2], h3 = (float) mean[r0 + 3];
        float l0 = (float) (mean[r0] - h0), l1 = (float) (mean[r0 + 1] - h1), l2 = (float) (mean[r0 + 2] - h2),
                l3 = (float) (mean[r0 + 3] - h3);
        float s0 = (float) rstd[r0], s1 = (float) rstd[r0 + 1], s2 = (float) rstd[r0 + 2], s3 = (float) rstd[r0 + 3];
        FloatVector vh0 = FloatVector.broadcast(S, h0), vh1 = FloatVector.broadcast(S, h1), vh2 = FloatVector.broadcast(S, h2),
                vh3 = FloatVector.broadcast(S, h3);
        FloatVector vl0 = FloatVector.broadcast(S, l0), vl1 = FloatVector.broadcast(S, l1), vl2 = FloatVector.broadcast(S, l2),
                vl3 = FloatVector.broadcast(S, l3);
        FloatVector vr0 = FloatVector.broadcast(S, s0), vr1 = FloatVector.broadcast(S, s1), vr2 = FloatVector.broadcast(S, s2),
                vr3 = FloatVector.broadcast(S, s3);
        double sg0 = 0, sg1 = 0, sg2 = 0, sg3 = 0, sx0 = 0, sx1 = 0, sx2 = 0, sx3 = 0;
        int vs = S.loopBound(len);
        for (int j0 = 0; j0 < len; j0 += BLOCK) {
            int end = Math.min(len, j0 + BLOCK), vend = Math.min(vs, end);
            FloatVector a10 = FloatVector.zero(S), a11 = a10, a12 = a10, a13 = a10, a20 = a10, a21 = a10, a22 = a10, a23 = a10;
            int j = j0;
            for (; j < vend; j += L) {
                FloatVector gm = FloatVector.fromArray(S, gamma, j);
                FloatVector cg = FloatVector.fromArray(S, colG, j), cb = FloatVector.fromArray(S, colB, j);
                FloatVector d = FloatVector.fromArray(S, dy, o0 + j);
                FloatVector xh = FloatVector.fromArray(S, x, o0 + j).sub(vh0).sub(vl0).mul(vr0);
                FloatVector gh = d.mul(gm);
                a10 = a10.add(gh);
                a20 = gh.fma(xh, a20);
                cg = d.fma(xh, cg);
                cb = d.add(cb);
                d = FloatVector.fromArray(S, dy, o1 + j);
                xh = FloatVector.fromArray(S, x, o1 + j).sub(vh1).sub(vl1).mul(vr1);
                gh = d.mul(gm);
                a11 = a11.add(gh);
                a21 = gh.fma(xh, a21);
                cg = d.fma(xh, cg);
                cb = d.add(cb);
                d = FloatVector.fromArray(S, dy, o2 + j);
                xh = FloatVector.fromArray(S, x, o2 + j).sub(vh2).sub(vl2).mul(vr2);
                gh = d.mul(gm);
                a12 = a12.add(gh);
                a22 = gh.fma(xh, a22);
                cg = d.fma(xh, cg);
                cb = d.add(cb);
                d = FloatVector.fromArray(S, dy, o3 + j);
                xh = FloatVector.fromArray(S, x, o3 + j).sub(vh3).sub(vl3).mul(vr3);
                gh = d.mul(gm);
                a13 = a13.add(gh);
                a23 = gh.fma(xh, a23);
                cg = d.fma(xh, cg);
                cb = d.add(cb);
                cg.intoArray(colG, j);
                cb.intoArray(colB, j);
            }
            float[] t = new float[8];
            for (; j < end; j++) {
                for (int r = 0; r < 4; r++) {
                    int o = o0 + r * len;
                    float hi = r == 0 ? h0 : r == 1 ? h1 : r == 2 ? h2 : h3, lo = r == 0 ? l0 : r == 1 ? l1 : r == 2 ? l2 : l3;
                    float rs = r == 0 ? s0 : r == 1 ? s1 : r == 2 ? s2 : s3;
                    float d = dy[o + j], xh = ((x[o + j] - hi) - lo) * rs, gh = d * gamma[j];
                    t[r] += gh;
                    t[4 + r] = Math.fma(gh, xh, t[4 + r]);
                    colG[j] = Math.fma(d, xh, colG[j]);
                    colB[j] += d;
                }
            }
            a10.intoArray(lane, 0);
            sg0 += laneSum(lane) + t[0];
            a11.intoArray(lane, 0);
            sg1 += laneSum(lane) + t[1];
            a12.intoArray(lane, 0);
            sg2 += laneSum(lane) + t[2];
            a13.intoArray(lane, 0);
            sg3 += laneSum(lane) + t[3];
            a20.intoArray(lane, 0);
            sx0 += laneSum(lane) + t[4];
            a21.intoArray(lane, 0);
            sx1 += laneSum(lane) + t[5];
            a22.intoArray(lane, 0);
            sx2 += laneSum(lane) + t[6];
            a23.intoArray(lane, 0);
            sx3 += laneSum(lane) + t[7];
        }
        groupDx(dx, dy, x, gamma, o0, 0, len, 1, len, h0, l0, s0, sg0, sx0);
        groupDx(dx, dy, x, gamma, o1, 0, len, 1, len, h1, l1, s1, sg1, sx1);
        groupDx(dx, dy, x, gamma, o2, 0, len, 1, len, h2, l2, s2, sg2, sx2);
        groupDx(dx, dy, x, gamma, o3, 0, len, 1, len, h3, l3, s3, sg3, sx3);
    }

    private static void groupBackwardRow(float[] dx, double[] pg, double[] pb, float[] colG, float[] colB, float[] dy,
                                         float[] x, double mu, double rsd, float[] gamma, int r, int pOff, int g,
                                         int len, int inner, int per, float[] lane) {
        int o = r * len, cBase = (r % g) * per;
        float hi = (float) mu, lo = (float) (mu - hi), rs = (float) rsd;
        FloatVector vh = FloatVector.broadcast(S, hi), vl = FloatVector.broadcast(S, lo), vr = FloatVector.broadcast(S, rs);
        double sg = 0, sgx = 0;
        // Pass 1: Σĝ, Σĝ·x̂ for the row; Σdy·x̂, Σdy per affine index.
        if (inner == 1) {
            int vs = S.loopBound(len);
            for (int j0 = 0; j0 < len; j0 += BLOCK) {
                int end = Math.min(len, j0 + BLOCK), vend = Math.min(vs, end);
                FloatVector a1 = FloatVector.zero(S), a2 = a1;
                int j = j0;
                for (; j < vend; j += L) {
                    FloatVector d = FloatVector.fromArray(S, dy, o + j);
                    FloatVector xh = FloatVector.fromArray(S, x, o + j).sub(vh).sub(vl).mul(vr);
                    FloatVector gh = d.mul(FloatVector.fromArray(S, gamma, cBase + j));
                    a1 = a1.add(gh);
                    a2 = gh.fma(xh, a2);
                    if (colG != null) {
                        d.fma(xh, FloatVector.fromArray(S, colG, cBase + j)).intoArray(colG, cBase + j);
                        d.add(FloatVector.fromArray(S, colB, cBase + j)).intoArray(colB, cBase + j);
                    }
                }
                float t1 = 0f, t2 = 0f;
                for (; j < end; j++) {
                    float d = dy[o + j], xh = ((x[o + j] - hi) - lo) * rs;
                    float gh = d * gamma[cBase + j];
                    t1 += gh;
                    t2 = Math.fma(gh, xh, t2);
                    if (colG != null) {
                        colG[cBase + j] = Math.fma(d, xh, colG[cBase + j]);
                        colB[cBase + j] += d;
                    }
                }
                a1.intoArray(lane, 0);
                sg += laneSum(lane) + t1;
                a2.intoArray(lane, 0);
                sgx += laneSum(lane) + t2;
            }
        } else {
            int vs = S.loopBound(inner);
            for (int run = 0; run < per; run++) {
                int c = cBase + run, ro = o + run * inner;
                float gm = gamma[c];
                double rb = 0, rbx = 0;
                for (int j0 = 0; j0 < inner; j0 += BLOCK) {
                    int end = Math.min(inner, j0 + BLOCK), vend = Math.min(vs, end);
                    FloatVector a1 = FloatVector.zero(S), a2 = a1;
                    int j = j0;
                    for (; j < vend; j += L) {
                        FloatVector d = FloatVector.fromArray(S, dy, ro + j);
                        FloatVector xh = FloatVector.fromArray(S, x, ro + j).sub(vh).sub(vl).mul(vr);
                        a1 = a1.add(d);
                        a2 = d.fma(xh, a2);
                    }
                    float t1 = 0f, t2 = 0f;
                    for (; j < end; j++) {
                        float d = dy[ro + j];
                        t1 += d;
                        t2 = Math.fma(d, ((x[ro + j] - hi) - lo) * rs, t2);
                    }
                    a1.intoArray(lane, 0);
                    rb += laneSum(lane) + t1;
                    a2.intoArray(lane, 0);
                    rbx += laneSum(lane) + t2;
                }
                // γ is constant over the run: Σĝ = γ·Σdy, Σĝ·x̂ = γ·Σdy·x̂.
                sg += gm * rb;
                sgx += gm * rbx;
                if (pg != null) {
                    pg[pOff + c] += rbx;
                    pb[pOff + c] += rb;
                }
            }
        }
        groupDx(dx, dy, x, gamma, o, cBase, len, inner, per, hi, lo, rs, sg, sgx);
    }

    /** Pass 2 of a row's backward: dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), given Σĝ (sg) and Σĝ·x̂ (sgx). */
    private static void groupDx(float[] dx, float[] dy, float[] x, float[] gamma, int o, int cBase, int len, int inner,
                                int per, float hi, float lo, float rs, double sg, double sgx) {
        FloatVector vh = FloatVector.broadcast(S, hi), vl = FloatVector.broadcast(S, lo), vr = FloatVector.broadcast(S, rs);
        double m = len;
        float mg = (float) (sg / m), mgx = (float) (sgx / m);
        FloatVector vmg = FloatVector.broadcast(S, -mg), vmgx = FloatVector.broadcast(S, -mgx);
        if (inner == 1) {
            int vs = S.loopBound(len), j = 0;
            for (; j < vs; j += L) {
                FloatVector d = FloatVector.fromArray(S, dy, o + j);
                FloatVector gm = FloatVector.fromArray(S, gamma, cBase + j);
                FloatVector xh = FloatVector.fromArray(S, x, o + j).sub(vh).sub(vl).mul(vr);
                xh.fma(vmgx, d.fma(gm, vmg)).mul(vr).intoArray(dx, o + j);
            }
            for (; j < len; j++) {
                float xh = ((x[o + j] - hi) - lo) * rs;
                float t = Math.fma(dy[o + j], gamma[cBase + j], -mg);
                dx[o + j] = Math.fma(xh, -mgx, t) * rs;
            }
        } else {
            int vs = S.loopBound(inner);
            for (int run = 0; run < per; run++) {
                int c = cBase + run, ro = o + run * inner;
                float gm = gamma[c];
                FloatVector vg = FloatVector.broadcast(S, gm);
                int j = 0;
                for (; j < vs; j += L) {
                    FloatVector d = FloatVector.fromArray(S, dy, ro + j);
                    FloatVector xh = FloatVector.fromArray(S, x, ro + j).sub(vh).sub(vl).mul(vr);
                    xh.fma(vmgx, d.fma(vg, vmg)).mul(vr).intoArray(dx, ro + j);
                }
                for (; j < inner; j++) {
                    float xh = ((x[ro + j] - hi) - lo) * rs;
                    dx[ro + j] = Math.fma(xh, -mgx, Math.fma(dy[ro + j], gm, -mg)) * rs;
                }
            }
        }
    }

    /** Per row of d values: rrms = 1/√(mean(x²) + ε); x² summed in float lanes per block, folded into double. */
    @Override
    public void rms(double[] rrms, float[] x, double eps, int rows, int d) {
        Parallel.forRange(rows, rowsPerTask(d), (r0, r1) -> {
            float[] lane = new float[L];
            for (int r = r0; r < r1; r++) rrms[r] = 1.0 / Math.sqrt(sumSquares(x, r * d, d, lane) / d + eps);
        });
    }

    /** Σx² of the d values at o: float lanes per block of {@link Lanes#BLOCK}, blocks folded into double in order. */
    private static double sumSquares(float[] x, int o, int d, float[] lane) {
        double sq = 0;
        for (int j0 = 0; j0 < d; j0 += BLOCK) {
            int end = Math.min(d, j0 + BLOCK), vend = j0 + S.loopBound(end - j0);
            FloatVector a = FloatVector.zero(S);
            int j = j0;
            for (; j < vend; j += L) {
                FloatVector v = FloatVector.fromArray(S, x, o + j);
                a = v.fma(v, a);
            }
            float t = 0f;
            for (; j < end; j++) t = Math.fma(x[o + j], x[o + j], t);
            a.intoArray(lane, 0);
            sq += laneSum(lane) + t;
        }
        return sq;
    }

    /** y = (x·rrms)·w per row (w per position; null means 1). */
    @Override
    public void rmsNormalize(float[] y, float[] x, double[] rrms, float[] w0, int rows, int d) {
        float[] w = w0 != null ? w0 : filled(1f, d);
        Parallel.forRange(rows, rowsPerTask(d), (r0, r1) -> {
            for (int r = r0; r < r1; r++) rmsNormalizeRow(y, x, (float) rrms[r], w, r * d, d);
        });
    }

    /** One row of {@link #rmsNormalize}: y = (x·rr)·w over the d values at o. */
    private static void rmsNormalizeRow(float[] y, float[] x, float rr, float[] w, int o, int d) {
        FloatVector vr = FloatVector.broadcast(S, rr);
        int vs = S.loopBound(d), j = 0;
        for (; j < vs; j += L) {
            FloatVector xh = FloatVector.fromArray(S, x, o + j).mul(vr);
            xh.mul(FloatVector.fromArray(S, w, j)).intoArray(y, o + j);
        }
        for (; j < d; j++) {
            y[o + j] = x[o + j] * rr * w[j];
        }
    }

    /** {@link #rms} and {@link #rmsNormalize} row by row (same bits): each row normalized while it is in L1. */
    @Override
    public void rmsForward(float[] y, double[] rrms, float[] x, double eps, float[] w0, int rows, int d) {
        float[] w = w0 != null ? w0 : filled(1f, d);
        Parallel.forRange(rows, rowsPerTask(d), (r0, r1) -> {
            float[] lane = new float[L];
            for (int r = r0; r < r1; r++) {
                rrms[r] = 1.0 / Math.sqrt(sumSquares(x, r * d, d, lane) / d + eps);
                rmsNormalizeRow(y, x, (float) rrms[r], w, r * d, d);
            }
        });
    }

    /**
     * RMSNorm backward per row, x̂ = x·rrms, ĝ = dy·w: dx = rrms·(ĝ − x̂·(1/d)Σĝ·x̂); dw += Σ_rows dy·x̂ (per-block
     * float column sums, blocks combined in order in double).
     */
    @Override
    public void rmsBackward(float[] dx, float[] dw, float[] dy, float[] x, double[] rrms, float[] w0, int rows,
                                   int d) {
        float[] w = w0 != null ? w0 : filled(1f, d);
        int rpb = rowsPerBlock(rows), blocks = (rows + rpb - 1) / rpb;
        double[] pw = dw == null ? null : new double[blocks * d];
        int vs = S.loopBound(d);
        Parallel.forRange(blocks, Math.max(1, GRAIN / Math.max(1, rpb * d)), (b0, b1) -> {
            float[] lane = new float[L];
            float[] col = dw == null ? null : new float[d];
            for (int b = b0; b < b1; b++) {
                if (col != null) Arrays.fill(col, 0f);
                for (int r = b * rpb; r < Math.min(rows, (b + 1) * rpb); r++) {
                    int o = r * d;
                    float rr = (float) rrms[r];
                    FloatVector vr = FloatVector.broadcast(S, rr);
                    double sgx = 0;
                    for (int j0 = 0; j0 < d; j0 += BLOCK) {
                        int end = Math.min(d, j0 + BLOCK), vend = Math.min(vs, end);
                        FloatVector a = FloatVector.zero(S);
                        int j = j0;
                        for (; j < vend; j += L) {
                            FloatVector g = FloatVector.fromArray(S, dy, o + j);
                            FloatVector xh = FloatVector.fromArray(S, x, o + j).mul(vr);
                            FloatVector gh = g.mul(FloatVector.fromArray(S, w, j));
                            a = gh.fma(xh, a);
                            if (col != null) g.fma(xh, FloatVector.fromArray(S, col, j)).intoArray(col, j);
                        }
                        float t = 0f;
                        for (; j < end; j++) {
                            float g = dy[o + j], xh = x[o + j] * rr;
                            t = Math.fma(g * w[j], xh, t);
                            if (col != null) col[j] = Math.fma(g, xh, col[j]);
                        }
                        a.intoArray(lane, 0);
                        sgx += laneSum(lane) + t;
                    }
                    float mgx = (float) (sgx / d);
                    FloatVector vm = FloatVector.broadcast(S, -mgx);
                    int j = 0;
                    for (; j < vs; j += L) {
                        FloatVector g = FloatVector.fromArray(S, dy, o + j);
                        FloatVector gh = g.mul(FloatVector.fromArray(S, w, j));
                        FloatVector.fromArray(S, x, o + j).mul(vr).fma(vm, gh).mul(vr).intoArray(dx, o + j);
                    }
                    for (; j < d; j++) {
                        float g = dy[o + j], gh = g * w[j];
                        dx[o + j] = Math.fma(x[o + j] * rr, -mgx, gh) * rr;
                    }
                }
                if (col != null) for (int j = 0; j < d; j++) pw[b * d + j] = col[j];
            }
        });
        if (dw == null) return;
        for (int j = 0; j < d; j++) {
            double s = 0;
            for (int b = 0; b < blocks; b++) s += pw[b * d + j];
            dw[j] += (float) s;
        }
    }
}
