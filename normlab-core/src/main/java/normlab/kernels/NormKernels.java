package normlab.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The fast paths of the per-channel normalization kernels (BatchNorm's statistics, normalize, and the two backward
 * passes): Vector API lanes with a scalar tail, spread over {@link Parallel}'s pool. The scalar reference loops live
 * next to the layer ({@code BatchNorm}'s static kernels), which call these when {@link Kernels#simd()} is on.
 *
 * <p>Layout: x is (N, C, S) row-major. For S &gt; 1 every (n, c) is a contiguous "row" of S values; for S == 1 the
 * channels are contiguous in each of the N rows (channels last) and the lanes run over channels.
 *
 * <p>Reductions, for speed and exactness: lanes accumulate in float over short blocks (at most {@link #BLOCK}
 * elements per row, or {@link #ROWS} rows), each block's lanes are added into double in lane order, and blocks are
 * combined in index order. Shifted sums keep a large mean harmless: d = x − K with K the channel's first value is exact
 * in float when x and K are within a factor of two, so a channel with mean 1e4 and std 1e-2 sums small exact numbers.
 * The blocks are fixed by the sizes alone, so the results are the same at every thread count. Floating reductions never
 * use {@code reduceLanes}, whose order the API leaves open.
 */
public final class NormKernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Elements of one row summed in float before folding into double (a multiple of the lane count). */
    static final int BLOCK = 1024;
    /** Rows summed in float before folding into double, channels-last path. */
    static final int ROWS = 64;
    /**
     * Channels last: floats per sweep over the channel groups. Each group of four vectors is read down a block of
     * {@code SUB_FLOATS / C} rows (16 KB), then the next group; down all of a task's rows, wide rows (1024 channels: a
     * 4 KB stride) became dozens of concurrent page-crossing streams the prefetchers did not follow (BN1d (256,1024)
     * eval forward 0.064 → 0.09 ms).
     */
    static final int SUB_FLOATS = 4096;

    private static int subRows(int c) {
        return Math.max(1, SUB_FLOATS / c);
    }
    /** Channels last: the widest rows (channels) whose elementwise passes go channel group by channel group. */
    static final int GROUPED_C = 256;
    /** Minimum elements per parallel task (below this a thread hand-off costs more than it saves). */
    static final int GRAIN = 32 * 1024;

    private NormKernels() {}

    private static int rowsPerTask(int len) {
        return Math.max(1, GRAIN / Math.max(1, len));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Statistics

    /**
     * Per-channel mean and biased variance over (N, S), shifted by K = each channel's first value:
     * μ = K + Σd/m, σ² = Σd²/m − (Σd/m)², d = x − K, m = N·S.
     */
    public static void channelStats(double[] mean, double[] var, float[] x, int n, int c, int s) {
        float[] shift = new float[c];
        for (int ch = 0; ch < c; ch++) shift[ch] = x[ch * s];
        double[] s1 = new double[c], s2 = new double[c];
        if (s == 1) channelsLastSums(s1, s2, x, null, shift, null, n, c);
        else rowSumsByChannel(s1, s2, x, null, shift, null, n, c, s);
        double m = (double) n * s;
        for (int ch = 0; ch < c; ch++) {
            double dm = s1[ch] / m;
            mean[ch] = shift[ch] + dm;
            var[ch] = Math.max(0, s2[ch] / m - dm * dm);
        }
    }

    /** Σdy and Σdy·((x − μ_hi) − μ_lo) per channel (sumDy and sumDyXmu are overwritten). */
    public static void backwardSums(double[] sumDy, double[] sumDyXmu, float[] dy, float[] x, float[] muHi,
                                    float[] muLo, int n, int c, int s) {
        java.util.Arrays.fill(sumDy, 0, c, 0.0);
        java.util.Arrays.fill(sumDyXmu, 0, c, 0.0);
        if (s == 1) channelsLastSums(sumDy, sumDyXmu, dy, x, muHi, muLo, n, c);
        else rowSumsByChannel(sumDy, sumDyXmu, dy, x, muHi, muLo, n, c, s);
    }

    /**
     * S &gt; 1: per-row partials, then per channel in order of n. Two modes share the loop:
     * statistics (a = x, g == null):  s1 += d, s2 += d², d = x − hi;
     * backward   (a = dy, g = x):     s1 += dy, s2 += dy·((x − hi) − lo).
     */
    private static void rowSumsByChannel(double[] s1, double[] s2, float[] a, float[] g, float[] hi, float[] lo,
                                         int n, int c, int s) {
        int rows = n * c;
        double[] p1 = new double[rows], p2 = new double[rows];
        Parallel.forRange(rows, rowsPerTask(s), (r0, r1) -> {
            float[] lane = new float[L];
            for (int r = r0; r < r1; r++) {
                int ch = r % c;
                if (g == null) statsRow(p1, p2, r, a, r * s, s, hi[ch], lane);
                else backwardRow(p1, p2, r, a, g, r * s, s, hi[ch], lo[ch], lane);
            }
        });
        for (int i = 0; i < n; i++) {
            for (int ch = 0; ch < c; ch++) {
                s1[ch] += p1[i * c + ch];
                s2[ch] += p2[i * c + ch];
            }
        }
    }

    /** Σd and Σd² of one row, d = x − k, folded into p1[r], p2[r]. */
    private static void statsRow(double[] p1, double[] p2, int r, float[] x, int o, int len, float k, float[] lane) {
        FloatVector vk = FloatVector.broadcast(S, k);
        double d1 = 0, d2 = 0;
        for (int j0 = 0; j0 < len; j0 += BLOCK) {
            int end = Math.min(len, j0 + BLOCK);
            int vend = j0 + S.loopBound(end - j0);
            FloatVector a1 = FloatVector.zero(S), a2 = a1;
            int j = j0;
            for (; j < vend; j += L) {
                FloatVector d = FloatVector.fromArray(S, x, o + j).sub(vk);
                a1 = a1.add(d);
                a2 = d.fma(d, a2);
            }
            float t1 = 0f, t2 = 0f;
            for (; j < end; j++) {
                float d = x[o + j] - k;
                t1 += d;
                t2 = Math.fma(d, d, t2);
            }
            a1.intoArray(lane, 0);
            d1 += laneSum(lane) + t1;
            a2.intoArray(lane, 0);
            d2 += laneSum(lane) + t2;
        }
        p1[r] = d1;
        p2[r] = d2;
    }

    /** Σdy and Σdy·((x − hi) − lo) of one row, folded into p1[r], p2[r]. */
    private static void backwardRow(double[] p1, double[] p2, int r, float[] dy, float[] x, int o, int len, float hi,
                                    float lo, float[] lane) {
        FloatVector vh = FloatVector.broadcast(S, hi), vl = FloatVector.broadcast(S, lo);
        double d1 = 0, d2 = 0;
        for (int j0 = 0; j0 < len; j0 += BLOCK) {
            int end = Math.min(len, j0 + BLOCK);
            int vend = j0 + S.loopBound(end - j0);
            FloatVector a1 = FloatVector.zero(S), a2 = a1;
            int j = j0;
            for (; j < vend; j += L) {
                FloatVector g = FloatVector.fromArray(S, dy, o + j);
                FloatVector xm = FloatVector.fromArray(S, x, o + j).sub(vh).sub(vl);
                a1 = a1.add(g);
                a2 = g.fma(xm, a2);
            }
            float t1 = 0f, t2 = 0f;
            for (; j < end; j++) {
                float g = dy[o + j];
                t1 += g;
                t2 = Math.fma(g, (x[o + j] - hi) - lo, t2);
            }
            a1.intoArray(lane, 0);
            d1 += laneSum(lane) + t1;
            a2.intoArray(lane, 0);
            d2 += laneSum(lane) + t2;
        }
        p1[r] = d1;
        p2[r] = d2;
    }

    /**
     * A vector's lanes, stored into {@code lane} by the caller, added into a double in lane order. The caller stores
     * them: a helper of ours taking a vector can be left out of line by C2 and then boxes it on every call.
     */
    private static double laneSum(float[] lane) {
        double s = 0;
        for (int i = 0; i < L; i++) s += lane[i];
        return s;
    }

    /**
     * S == 1 (channels last, x is N×C): per block of {@link #ROWS} rows, per channel partials; blocks combined in
     * order. Same two modes as {@link #rowSumsByChannel}.
     */
    private static void channelsLastSums(double[] s1, double[] s2, float[] a, float[] g, float[] hi, float[] lo,
                                         int n, int c) {
        int blocks = (n + ROWS - 1) / ROWS;
        double[] p1 = new double[blocks * c], p2 = new double[blocks * c];
        int vc = S.loopBound(c);
        Parallel.forRange(blocks, Math.max(1, GRAIN / (ROWS * c)), (b0, b1) -> {
            float[] acc1 = new float[c], acc2 = new float[c];
            for (int b = b0; b < b1; b++) {
                int i0 = b * ROWS, i1 = Math.min(n, i0 + ROWS), po = b * c;
                if (g == null) statsBlockChannelsLast(p1, p2, po, a, hi, i0, i1, c, vc, acc1, acc2);
                else backwardBlockChannelsLast(p1, p2, po, a, g, hi, lo, i0, i1, c, vc, acc1, acc2);
            }
        });
        for (int b = 0; b < blocks; b++) {
            for (int ch = 0; ch < c; ch++) {
                s1[ch] += p1[b * c + ch];
                s2[ch] += p2[b * c + ch];
            }
        }
    }

    /**
     * One block of rows [i0, i1), statistics mode: per channel Σd and Σd² (d = x − shift) into p1, p2 at po, each a
     * float sum down the rows in row order. Four vectors of channels at a time, their 8 accumulators in registers for
     * the whole block (accumulating in memory, each row's add waited on the previous row's store); then single vectors,
     * then scalar channels. The block (at most {@link #ROWS} rows) stays in L1/L2 while it is read channel group by group.
     */
    private static void statsBlockChannelsLast(double[] p1, double[] p2, int po, float[] x, float[] shift, int i0,
                                               int i1, int c, int vc, float[] acc1, float[] acc2) {
        java.util.Arrays.fill(acc1, 0, c, 0f);
        java.util.Arrays.fill(acc2, 0, c, 0f);
        for (int r0 = i0, sub = subRows(c); r0 < i1; r0 += sub) {
            int r1 = Math.min(i1, r0 + sub);
            int ch = 0;
            for (; ch + 4 * L <= vc; ch += 4 * L) {
                FloatVector k0 = FloatVector.fromArray(S, shift, ch), k1 = FloatVector.fromArray(S, shift, ch + L);
                FloatVector k2 = FloatVector.fromArray(S, shift, ch + 2 * L), k3 = FloatVector.fromArray(S, shift, ch + 3 * L);
                FloatVector s0 = FloatVector.fromArray(S, acc1, ch), s1 = FloatVector.fromArray(S, acc1, ch + L);
                FloatVector s2 = FloatVector.fromArray(S, acc1, ch + 2 * L), s3 = FloatVector.fromArray(S, acc1, ch + 3 * L);
                FloatVector q0 = FloatVector.fromArray(S, acc2, ch), q1 = FloatVector.fromArray(S, acc2, ch + L);
                FloatVector q2 = FloatVector.fromArray(S, acc2, ch + 2 * L), q3 = FloatVector.fromArray(S, acc2, ch + 3 * L);
                for (int i = r0, o = r0 * c + ch; i < r1; i++, o += c) {
                    FloatVector d0 = FloatVector.fromArray(S, x, o).sub(k0);
                    FloatVector d1 = FloatVector.fromArray(S, x, o + L).sub(k1);
                    FloatVector d2 = FloatVector.fromArray(S, x, o + 2 * L).sub(k2);
                    FloatVector d3 = FloatVector.fromArray(S, x, o + 3 * L).sub(k3);
                    s0 = s0.add(d0);
                    s1 = s1.add(d1);
                    s2 = s2.add(d2);
                    s3 = s3.add(d3);
                    q0 = d0.fma(d0, q0);
                    q1 = d1.fma(d1, q1);
                    q2 = d2.fma(d2, q2);
                    q3 = d3.fma(d3, q3);
                }
                s0.intoArray(acc1, ch);
                s1.intoArray(acc1, ch + L);
                s2.intoArray(acc1, ch + 2 * L);
                s3.intoArray(acc1, ch + 3 * L);
                q0.intoArray(acc2, ch);
                q1.intoArray(acc2, ch + L);
                q2.intoArray(acc2, ch + 2 * L);
                q3.intoArray(acc2, ch + 3 * L);
            }
            for (; ch < vc; ch += L) {
                FloatVector k0 = FloatVector.fromArray(S, shift, ch), s0 = FloatVector.fromArray(S, acc1, ch), q0 = FloatVector.fromArray(S, acc2, ch);
                for (int i = r0, o = r0 * c + ch; i < r1; i++, o += c) {
                    FloatVector d0 = FloatVector.fromArray(S, x, o).sub(k0);
                    s0 = s0.add(d0);
                    q0 = d0.fma(d0, q0);
                }
                s0.intoArray(acc1, ch);
                q0.intoArray(acc2, ch);
            }
            for (; ch < c; ch++) {
                float k = shift[ch], s1 = acc1[ch], s2 = acc2[ch];
                for (int i = r0, o = r0 * c + ch; i < r1; i++, o += c) {
                    float d = x[o] - k;
                    s1 += d;
                    s2 = Math.fma(d, d, s2);
                }
                acc1[ch] = s1;
                acc2[ch] = s2;
            }
        }
        for (int ch = 0; ch < c; ch++) {
            p1[po + ch] = acc1[ch];
            p2[po + ch] = acc2[ch];
        }
    }

    /**
     * One block of rows [i0, i1), backward mode: per channel Σdy and Σdy·((x − hi) − lo) into p1, p2 at po; register
     * accumulators down the rows as {@link #statsBlockChannelsLast}.
     */
    private static void backwardBlockChannelsLast(double[] p1, double[] p2, int po, float[] dy, float[] x, float[] hi,
                                                  float[] lo, int i0, int i1, int c, int vc, float[] acc1,
                                                  float[] acc2) {
        java.util.Arrays.fill(acc1, 0, c, 0f);
        java.util.Arrays.fill(acc2, 0, c, 0f);
        for (int r0 = i0, sub = subRows(c); r0 < i1; r0 += sub) {
            int r1 = Math.min(i1, r0 + sub);
            int ch = 0;
            for (; ch + 4 * L <= vc; ch += 4 * L) {
                FloatVector h0 = FloatVector.fromArray(S, hi, ch), h1 = FloatVector.fromArray(S, hi, ch + L);
                FloatVector h2 = FloatVector.fromArray(S, hi, ch + 2 * L), h3 = FloatVector.fromArray(S, hi, ch + 3 * L);
                FloatVector l0 = FloatVector.fromArray(S, lo, ch), l1 = FloatVector.fromArray(S, lo, ch + L);
                FloatVector l2 = FloatVector.fromArray(S, lo, ch + 2 * L), l3 = FloatVector.fromArray(S, lo, ch + 3 * L);
                FloatVector s0 = FloatVector.fromArray(S, acc1, ch), s1 = FloatVector.fromArray(S, acc1, ch + L);
                FloatVector s2 = FloatVector.fromArray(S, acc1, ch + 2 * L), s3 = FloatVector.fromArray(S, acc1, ch + 3 * L);
                FloatVector q0 = FloatVector.fromArray(S, acc2, ch), q1 = FloatVector.fromArray(S, acc2, ch + L);
                FloatVector q2 = FloatVector.fromArray(S, acc2, ch + 2 * L), q3 = FloatVector.fromArray(S, acc2, ch + 3 * L);
                for (int i = r0, o = r0 * c + ch; i < r1; i++, o += c) {
                    FloatVector g0 = FloatVector.fromArray(S, dy, o), g1 = FloatVector.fromArray(S, dy, o + L);
                    FloatVector g2 = FloatVector.fromArray(S, dy, o + 2 * L), g3 = FloatVector.fromArray(S, dy, o + 3 * L);
                    s0 = s0.add(g0);
                    s1 = s1.add(g1);
                    s2 = s2.add(g2);
                    s3 = s3.add(g3);
                    q0 = g0.fma(FloatVector.fromArray(S, x, o).sub(h0).sub(l0), q0);
                    q1 = g1.fma(FloatVector.fromArray(S, x, o + L).sub(h1).sub(l1), q1);
                    q2 = g2.fma(FloatVector.fromArray(S, x, o + 2 * L).sub(h2).sub(l2), q2);
                    q3 = g3.fma(FloatVector.fromArray(S, x, o + 3 * L).sub(h3).sub(l3), q3);
                }
                s0.intoArray(acc1, ch);
                s1.intoArray(acc1, ch + L);
                s2.intoArray(acc1, ch + 2 * L);
                s3.intoArray(acc1, ch + 3 * L);
                q0.intoArray(acc2, ch);
                q1.intoArray(acc2, ch + L);
                q2.intoArray(acc2, ch + 2 * L);
                q3.intoArray(acc2, ch + 3 * L);
            }
            for (; ch < vc; ch += L) {
                FloatVector h0 = FloatVector.fromArray(S, hi, ch), l0 = FloatVector.fromArray(S, lo, ch);
                FloatVector s0 = FloatVector.fromArray(S, acc1, ch), q0 = FloatVector.fromArray(S, acc2, ch);
                for (int i = r0, o = r0 * c + ch; i < r1; i++, o += c) {
                    FloatVector g0 = FloatVector.fromArray(S, dy, o);
                    s0 = s0.add(g0);
                    q0 = g0.fma(FloatVector.fromArray(S, x, o).sub(h0).sub(l0), q0);
                }
                s0.intoArray(acc1, ch);
                q0.intoArray(acc2, ch);
            }
            for (; ch < c; ch++) {
                float h = hi[ch], l = lo[ch], s1 = acc1[ch], s2 = acc2[ch];
                for (int i = r0, o = r0 * c + ch; i < r1; i++, o += c) {
                    float g = dy[o];
                    s1 += g;
                    s2 = Math.fma(g, (x[o] - h) - l, s2);
                }
                acc1[ch] = s1;
                acc2[ch] = s2;
            }
        }
        for (int ch = 0; ch < c; ch++) {
            p1[po + ch] = acc1[ch];
            p2[po + ch] = acc2[ch];
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Elementwise passes

    /**
     * y = ((x − μ_hi) − μ_lo)·k + β per channel (one read of x, one write of y). Channels last with at most
     * {@link #GROUPED_C} channels, channel groups down blocks of rows (BatchNorm1d (60,100): 1.1 → 0.7 µs); wider rows
     * row by row, which the prefetchers follow.
     */
    public static void normalize(float[] y, float[] x, float[] muHi, float[] muLo, float[] k, float[] b,
                                 int n, int c, int s) {
        if (s == 1) {
            int vc = S.loopBound(c);
            if (c <= GROUPED_C) {
                // narrow rows: four vectors of channels at a time down blocks of rows, the per-channel vectors loaded once
                Parallel.forRange(n, rowsPerTask(c), (i0, i1) -> {
                    for (int r0 = i0, sub = subRows(c); r0 < i1; r0 += sub) {
                        int r1 = Math.min(i1, r0 + sub);
                        int ch = 0;
                        for (; ch + 4 * L <= vc; ch += 4 * L) {
                            FloatVector h0 = FloatVector.fromArray(S, muHi, ch), h1 = FloatVector.fromArray(S, muHi, ch + L);
                            FloatVector h2 = FloatVector.fromArray(S, muHi, ch + 2 * L), h3 = FloatVector.fromArray(S, muHi, ch + 3 * L);
                            FloatVector l0 = FloatVector.fromArray(S, muLo, ch), l1 = FloatVector.fromArray(S, muLo, ch + L);
                            FloatVector l2 = FloatVector.fromArray(S, muLo, ch + 2 * L), l3 = FloatVector.fromArray(S, muLo, ch + 3 * L);
                            FloatVector k0 = FloatVector.fromArray(S, k, ch), k1 = FloatVector.fromArray(S, k, ch + L);
                            FloatVector k2 = FloatVector.fromArray(S, k, ch + 2 * L), k3 = FloatVector.fromArray(S, k, ch + 3 * L);
                            FloatVector b0 = FloatVector.fromArray(S, b, ch), b1 = FloatVector.fromArray(S, b, ch + L);
                            FloatVector b2 = FloatVector.fromArray(S, b, ch + 2 * L), b3 = FloatVector.fromArray(S, b, ch + 3 * L);
                            for (int i = r0, o = r0 * c + ch; i < r1; i++, o += c) {
                                FloatVector.fromArray(S, x, o).sub(h0).sub(l0).fma(k0, b0).intoArray(y, o);
                                FloatVector.fromArray(S, x, o + L).sub(h1).sub(l1).fma(k1, b1).intoArray(y, o + L);
                                FloatVector.fromArray(S, x, o + 2 * L).sub(h2).sub(l2).fma(k2, b2).intoArray(y, o + 2 * L);
                                FloatVector.fromArray(S, x, o + 3 * L).sub(h3).sub(l3).fma(k3, b3).intoArray(y, o + 3 * L);
                            }
                        }
                        for (; ch < vc; ch += L) {
                            FloatVector h0 = FloatVector.fromArray(S, muHi, ch), l0 = FloatVector.fromArray(S, muLo, ch);
                            FloatVector k0 = FloatVector.fromArray(S, k, ch), b0 = FloatVector.fromArray(S, b, ch);
                            for (int i = r0, o = r0 * c + ch; i < r1; i++, o += c) {
                                FloatVector.fromArray(S, x, o).sub(h0).sub(l0).fma(k0, b0).intoArray(y, o);
                            }
                        }
                        for (; ch < c; ch++) {
                            float mh = muHi[ch], ml = muLo[ch], kk = k[ch], bb = b[ch];
                            for (int i = r0, o = r0 * c + ch; i < r1; i++, o += c) y[o] = Math.fma((x[o] - mh) - ml, kk, bb);
                        }
                    }
                });
                return;
            }
            Parallel.forRange(n, rowsPerTask(c), (i0, i1) -> {
                for (int i = i0; i < i1; i++) {
                    int o = i * c;
                    int ch = 0;
                    for (; ch < vc; ch += L) {
                        FloatVector.fromArray(S, x, o + ch)
                                .sub(FloatVector.fromArray(S, muHi, ch)).sub(FloatVector.fromArray(S, muLo, ch))
                                .fma(FloatVector.fromArray(S, k, ch), FloatVector.fromArray(S, b, ch))
                                .intoArray(y, o + ch);
                    }
                    for (; ch < c; ch++) y[o + ch] = Math.fma((x[o + ch] - muHi[ch]) - muLo[ch], k[ch], b[ch]);
                }
            });
            return;
        }
        int vs = S.loopBound(s);
        Parallel.forRange(n * c, rowsPerTask(s), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int ch = r % c, o = r * s;
                float mh = muHi[ch], ml = muLo[ch], kk = k[ch], bb = b[ch];
                FloatVector vh = FloatVector.broadcast(S, mh), vl = FloatVector.broadcast(S, ml);
                FloatVector vk = FloatVector.broadcast(S, kk), vb = FloatVector.broadcast(S, bb);
                int j = 0;
                for (; j < vs; j += L) {
                    FloatVector.fromArray(S, x, o + j).sub(vh).sub(vl).fma(vk, vb).intoArray(y, o + j);
                }
                for (; j < s; j++) y[o + j] = Math.fma((x[o + j] - mh) - ml, kk, bb);
            }
        });
    }

    /**
     * dx = a·dy − q·((x − μ_hi) − μ_lo) − p per channel (reads dy and x once, writes dx once); channels last as
     * {@link #normalize}.
     */
    public static void backwardDx(float[] dx, float[] dy, float[] x, float[] muHi, float[] muLo, float[] a, float[] q,
                                  float[] p, int n, int c, int s) {
        if (s == 1) {
            int vc = S.loopBound(c);
            if (c <= GROUPED_C) {
                // narrow rows: four vectors of channels at a time down blocks of rows, the per-channel vectors loaded once
                Parallel.forRange(n, rowsPerTask(c), (i0, i1) -> {
                    for (int r0 = i0, sub = subRows(c); r0 < i1; r0 += sub) {
                        int r1 = Math.min(i1, r0 + sub);
                        int ch = 0;
                        for (; ch + 4 * L <= vc; ch += 4 * L) {
                            FloatVector h0 = FloatVector.fromArray(S, muHi, ch), h1 = FloatVector.fromArray(S, muHi, ch + L);
                            FloatVector h2 = FloatVector.fromArray(S, muHi, ch + 2 * L), h3 = FloatVector.fromArray(S, muHi, ch + 3 * L);
                            FloatVector l0 = FloatVector.fromArray(S, muLo, ch), l1 = FloatVector.fromArray(S, muLo, ch + L);
                            FloatVector l2 = FloatVector.fromArray(S, muLo, ch + 2 * L), l3 = FloatVector.fromArray(S, muLo, ch + 3 * L);
                            FloatVector a0 = FloatVector.fromArray(S, a, ch), a1 = FloatVector.fromArray(S, a, ch + L);
                            FloatVector a2 = FloatVector.fromArray(S, a, ch + 2 * L), a3 = FloatVector.fromArray(S, a, ch + 3 * L);
                            FloatVector q0 = FloatVector.fromArray(S, q, ch).neg(), q1 = FloatVector.fromArray(S, q, ch + L).neg();
                            FloatVector q2 = FloatVector.fromArray(S, q, ch + 2 * L).neg(), q3 = FloatVector.fromArray(S, q, ch + 3 * L).neg();
                            FloatVector p0 = FloatVector.fromArray(S, p, ch).neg(), p1 = FloatVector.fromArray(S, p, ch + L).neg();
                            FloatVector p2 = FloatVector.fromArray(S, p, ch + 2 * L).neg(), p3 = FloatVector.fromArray(S, p, ch + 3 * L).neg();
                            for (int i = r0, o = r0 * c + ch; i < r1; i++, o += c) {
                                FloatVector.fromArray(S, x, o).sub(h0).sub(l0)
                                        .fma(q0, FloatVector.fromArray(S, dy, o).fma(a0, p0)).intoArray(dx, o);
                                FloatVector.fromArray(S, x, o + L).sub(h1).sub(l1)
                                        .fma(q1, FloatVector.fromArray(S, dy, o + L).fma(a1, p1)).intoArray(dx, o + L);
                                FloatVector.fromArray(S, x, o + 2 * L).sub(h2).sub(l2)
                                        .fma(q2, FloatVector.fromArray(S, dy, o + 2 * L).fma(a2, p2)).intoArray(dx, o + 2 * L);
                                FloatVector.fromArray(S, x, o + 3 * L).sub(h3).sub(l3)
                                        .fma(q3, FloatVector.fromArray(S, dy, o + 3 * L).fma(a3, p3)).intoArray(dx, o + 3 * L);
                            }
                        }
                        for (; ch < vc; ch += L) {
                            FloatVector h0 = FloatVector.fromArray(S, muHi, ch), l0 = FloatVector.fromArray(S, muLo, ch);
                            FloatVector a0 = FloatVector.fromArray(S, a, ch), q0 = FloatVector.fromArray(S, q, ch).neg();
                            FloatVector p0 = FloatVector.fromArray(S, p, ch).neg();
                            for (int i = r0, o = r0 * c + ch; i < r1; i++, o += c) {
                                FloatVector.fromArray(S, x, o).sub(h0).sub(l0)
                                        .fma(q0, FloatVector.fromArray(S, dy, o).fma(a0, p0)).intoArray(dx, o);
                            }
                        }
                        for (; ch < c; ch++) {
                            float mh = muHi[ch], ml = muLo[ch], aa = a[ch], nq = -q[ch], np = -p[ch];
                            for (int i = r0, o = r0 * c + ch; i < r1; i++, o += c) {
                                dx[o] = Math.fma((x[o] - mh) - ml, nq, Math.fma(dy[o], aa, np));
                            }
                        }
                    }
                });
                return;
            }
            Parallel.forRange(n, rowsPerTask(c), (i0, i1) -> {
                for (int i = i0; i < i1; i++) {
                    int o = i * c;
                    int ch = 0;
                    for (; ch < vc; ch += L) {
                        FloatVector xm = FloatVector.fromArray(S, x, o + ch)
                                .sub(FloatVector.fromArray(S, muHi, ch)).sub(FloatVector.fromArray(S, muLo, ch));
                        FloatVector t = FloatVector.fromArray(S, dy, o + ch)
                                .fma(FloatVector.fromArray(S, a, ch), FloatVector.fromArray(S, p, ch).neg());
                        xm.fma(FloatVector.fromArray(S, q, ch).neg(), t).intoArray(dx, o + ch);
                    }
                    for (; ch < c; ch++) {
                        float t = Math.fma(dy[o + ch], a[ch], -p[ch]);
                        dx[o + ch] = Math.fma((x[o + ch] - muHi[ch]) - muLo[ch], -q[ch], t);
                    }
                }
            });
            return;
        }
        int vs = S.loopBound(s);
        Parallel.forRange(n * c, rowsPerTask(s), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int ch = r % c, o = r * s;
                float mh = muHi[ch], ml = muLo[ch], aa = a[ch], nq = -q[ch], np = -p[ch];
                FloatVector vh = FloatVector.broadcast(S, mh), vl = FloatVector.broadcast(S, ml);
                FloatVector va = FloatVector.broadcast(S, aa), vq = FloatVector.broadcast(S, nq);
                FloatVector vp = FloatVector.broadcast(S, np);
                int j = 0;
                for (; j < vs; j += L) {
                    FloatVector t = FloatVector.fromArray(S, dy, o + j).fma(va, vp);
                    FloatVector.fromArray(S, x, o + j).sub(vh).sub(vl).fma(vq, t).intoArray(dx, o + j);
                }
                for (; j < s; j++) dx[o + j] = Math.fma((x[o + j] - mh) - ml, nq, Math.fma(dy[o + j], aa, np));
            }
        });
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Group kernels (LayerNorm, GroupNorm NCHW, InstanceNorm: Moments' view with P == 1, so every group is one
    // contiguous row of Q values) and RMSNorm rows. Same conventions: float lanes over short blocks folded into double,
    // fixed blocks of rows for parameter-gradient sums, combined in block order.

    /** An array of n copies of v (stands in for an absent γ or w: multiplying by 1 is exact). */
    private static float[] filled(float v, int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, v);
        return a;
    }

    /** Blocks of rows for parameter-gradient partials: at most 64 blocks, fixed by the row count alone. */
    private static int rowsPerBlock(int rows) {
        return Math.max(1, (rows + 63) / 64);
    }

    /** Mean and biased variance of each contiguous row of {@code len} values (shift: the row's first value). */
    public static void rowMoments(double[] mean, double[] var, float[] x, int rows, int len) {
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
    public static void groupNormalize(float[] y, float[] x, double[] mean, double[] rstd, float[] gamma0, float[] beta0,
                                      int rows, int g, int len, int inner) {
        int per = len / inner;
        float[] gamma = gamma0 != null ? gamma0 : filled(1f, g * per), beta = beta0 != null ? beta0 : new float[g * per];
        Parallel.forRange(rows, rowsPerTask(len), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int o = r * len, cBase = (r % g) * per;
                float hi = (float) mean[r], lo = (float) (mean[r] - hi), rs = (float) rstd[r];
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
    public static void groupBackward(float[] dx, float[] dgamma, float[] dbeta, float[] dy, float[] x, double[] mean,
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
                    java.util.Arrays.fill(colG, 0f);
                    java.util.Arrays.fill(colB, 0f);
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
     * as in the one-row loop (identical arithmetic), but dγ and dβ are loaded and stored once per four rows.
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
    public static void rms(double[] rrms, float[] x, double eps, int rows, int d) {
        Parallel.forRange(rows, rowsPerTask(d), (r0, r1) -> {
            float[] lane = new float[L];
            for (int r = r0; r < r1; r++) {
                int o = r * d;
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
                rrms[r] = 1.0 / Math.sqrt(sq / d + eps);
            }
        });
    }

    /** y = (x·rrms)·w per row (w per position; null means 1). */
    public static void rmsNormalize(float[] y, float[] x, double[] rrms, float[] w0, int rows, int d) {
        int vs = S.loopBound(d);
        float[] w = w0 != null ? w0 : filled(1f, d);
        Parallel.forRange(rows, rowsPerTask(d), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int o = r * d;
                float rr = (float) rrms[r];
                FloatVector vr = FloatVector.broadcast(S, rr);
                int j = 0;
                for (; j < vs; j += L) {
                    FloatVector xh = FloatVector.fromArray(S, x, o + j).mul(vr);
                    xh.mul(FloatVector.fromArray(S, w, j)).intoArray(y, o + j);
                }
                for (; j < d; j++) {
                    y[o + j] = x[o + j] * rr * w[j];
                }
            }
        });
    }

    /**
     * RMSNorm backward per row, x̂ = x·rrms, ĝ = dy·w: dx = rrms·(ĝ − x̂·(1/d)Σĝ·x̂); dw += Σ_rows dy·x̂ (per-block
     * float column sums, blocks combined in order in double).
     */
    public static void rmsBackward(float[] dx, float[] dw, float[] dy, float[] x, double[] rrms, float[] w0, int rows,
                                   int d) {
        float[] w = w0 != null ? w0 : filled(1f, d);
        int rpb = rowsPerBlock(rows), blocks = (rows + rpb - 1) / rpb;
        double[] pw = dw == null ? null : new double[blocks * d];
        int vs = S.loopBound(d);
        Parallel.forRange(blocks, Math.max(1, GRAIN / Math.max(1, rpb * d)), (b0, b1) -> {
            float[] lane = new float[L];
            float[] col = dw == null ? null : new float[d];
            for (int b = b0; b < b1; b++) {
                if (col != null) java.util.Arrays.fill(col, 0f);
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
