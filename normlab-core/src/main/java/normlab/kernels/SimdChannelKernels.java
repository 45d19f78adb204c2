package normlab.kernels;

import static normlab.kernels.Lanes.BLOCK;
import static normlab.kernels.Lanes.GRAIN;
import static normlab.kernels.Lanes.L;
import static normlab.kernels.Lanes.PER_THREAD;
import static normlab.kernels.Lanes.S;
import static normlab.kernels.Lanes.laneSum;
import static normlab.kernels.Lanes.rowsPerTask;
import static normlab.kernels.Lanes.statsRow;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;

/**
 * {@link ChannelKernels} with Vector API lanes and a scalar tail, spread over {@link Parallel}'s pool: the same
 * formulas as {@link ScalarChannelKernels}, summed as {@link Lanes} says (float lanes over short blocks folded into
 * double in a fixed order, so the results do not depend on the thread count).
 *
 * <p>For S &gt; 1 every (n, c) is a contiguous "row" of S values; for S == 1 the channels are contiguous in each of the
 * N rows (channels last) and the lanes run over channels, {@link #ROWS} rows per float block.
 *
 * <p>For large NCHW tensors ({@link #channelByChannel}) the training forward and the backward go channel by
 * channel ({@link #statsNormalize}, {@link #backward}): a channel's second pass runs its rows last to first, right
 * after its first pass read them first to last, so the most recently read rows (still in L1/L2) come first. Each row's
 * result is independent of when it is computed, so the bits are the same in any order. The separate elementwise passes
 * ({@link #normalize}, {@link #backwardDx}: evaluation, other shapes) run first to last: last to first measured
 * 8–12 % more CPU time per call on BN2d (32, 64, 56, 56) evaluation (tools/scale, docs/performance.md).
 */
public final class SimdChannelKernels implements ChannelKernels {
    static final SimdChannelKernels INSTANCE = new SimdChannelKernels();

    /** Rows summed in float before folding into double, channels-last path. */
    static final int ROWS = 64;
    /**
     * Channels last: floats per sweep over the channel groups. Each group of four vectors is read down a block of
     * {@code SUB_FLOATS / C} rows (16 KB), then the next group; down all of a task's rows, wide rows (1024 channels: a
     * 4 KB stride) became dozens of concurrent page-crossing streams the prefetchers did not follow (BN1d (256,1024)
     * eval forward 0.064 → 0.09 ms).
     */
    static final int SUB_FLOATS = 4096;
    /**
     * The fewest channels for which the fused passes ({@link #statsNormalize}, {@link #backward}) go channel by
     * channel: the channels are what is split over the pool, and 16 give 8 ranges of 2 at 2 threads.
     */
    static final int FUSED_MIN_C = 16;
    /**
     * The smallest tensor (floats: 8 MB) and the shortest rows (4 KB) for the channel-by-channel passes. A tensor that
     * fits in the last-level cache gains nothing from them, and stepping from row to row across the channel cost the
     * small CNN's BatchNorm2d inputs at batch 64 ((64, 32, 28, 28), (64, 64, 14, 14): 6.4 and 3.2 MB, rows of 3 KB and
     * 784 B) 23–77 % more CPU time than the two passes (tools/scale, docs/performance.md). Large tensors with short
     * rows were not measured and keep the two passes.
     */
    static final long FUSED_MIN_FLOATS = 1L << 21;
    static final int FUSED_MIN_S = 1024;
    /** Channels last: the widest rows (channels) whose elementwise passes go channel group by channel group. */
    static final int GROUPED_C = 256;

    private SimdChannelKernels() {}

    /** Whether the training forward and the backward go channel by channel (see {@link #FUSED_MIN_FLOATS}). */
    static boolean channelByChannel(int n, int c, int s) {
        return s >= FUSED_MIN_S && c >= FUSED_MIN_C && (long) n * c * s >= FUSED_MIN_FLOATS;
    }

    private static int subRows(int c) {
        return Math.max(1, SUB_FLOATS / c);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Statistics

    /**
     * Per-channel mean and biased variance over (N, S), shifted by K = each channel's first value:
     * μ = K + Σd/m, σ² = Σd²/m − (Σd/m)², d = x − K, m = N·S.
     */
    @Override
    public void channelStats(double[] mean, double[] var, float[] x, int n, int c, int s) {
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
    @Override
    public void backwardSums(double[] sumDy, double[] sumDyXmu, float[] dy, float[] x, float[] muHi, float[] muLo,
                             int n, int c, int s) {
        Arrays.fill(sumDy, 0, c, 0.0);
        Arrays.fill(sumDyXmu, 0, c, 0.0);
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

    /**
     * Σdy and Σdy·((x − hi) − lo) of one row, folded into p1[r], p2[r]. The block loop is {@link Lanes#statsRow}'s (and
     * SimdGroupKernels' per-run sums'): only the lane arithmetic differs, and a shared helper would take the vectors.
     */
    private static void backwardRow(double[] p1, double[] p2, int r, float[] dy, float[] x, int o, int len, float hi,
                                    float lo, float[] lane) {
        FloatVector vh = FloatVector.broadcast(S, hi), vl = FloatVector.broadcast(S, lo);
        double d1 = 0, d2 = 0;
        for (int j0 = 0; j0 < len; j0 += BLOCK) {
            int end = Math.min(len, j0 + BLOCK);
            int vend = j0 + S.loopBound(end - j0);
            FloatVector a1 = FloatVector.zero(S), a2 = a1;
            int j = j0;
            // Σdy, Σdy·((x − hi) − lo)
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
     * The tile is written out by hand (and again in {@link #backwardBlockChannelsLast}): a helper taking the vectors
     * would box them (JDK 17) whenever C2 leaves it out of line.
     */
    private static void statsBlockChannelsLast(double[] p1, double[] p2, int po, float[] x, float[] shift, int i0,
                                               int i1, int c, int vc, float[] acc1, float[] acc2) {
        Arrays.fill(acc1, 0, c, 0f);
        Arrays.fill(acc2, 0, c, 0f);
        for (int r0 = i0, sub = subRows(c); r0 < i1; r0 += sub) {
            int r1 = Math.min(i1, r0 + sub);
            int ch = 0;
            // Σ(x − K), Σ(x − K)² down the rows, four vectors of channels
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
        Arrays.fill(acc1, 0, c, 0f);
        Arrays.fill(acc2, 0, c, 0f);
        for (int r0 = i0, sub = subRows(c); r0 < i1; r0 += sub) {
            int r1 = Math.min(i1, r0 + sub);
            int ch = 0;
            // Σdy, Σdy·((x − hi) − lo) down the rows, four vectors of channels
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
    @Override
    public void normalize(float[] y, float[] x, float[] muHi, float[] muLo, float[] k, float[] b, int n, int c, int s) {
        if (s != 1) normalizeRows(y, x, muHi, muLo, k, b, n, c, s);
        else if (c <= GROUPED_C) {
            int vc = S.loopBound(c);
            Parallel.forRange(n, rowsPerTask(c), (i0, i1) -> normalizeGrouped(y, x, muHi, muLo, k, b, i0, i1, c, vc));
        } else normalizeWide(y, x, muHi, muLo, k, b, n, c);
    }

    /**
     * Channels last, narrow rows [i0, i1): four vectors of channels at a time down blocks of rows, the per-channel
     * vectors loaded once; then single vectors, then scalar channels. The four-vector tile is written out by hand: a
     * helper taking the vectors would box them (JDK 17) whenever C2 leaves it out of line.
     */
    private static void normalizeGrouped(float[] y, float[] x, float[] muHi, float[] muLo, float[] k, float[] b,
                                         int i0, int i1, int c, int vc) {
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
    }

    /** Channels last, wide rows: row by row, y = ((x − μ_hi) − μ_lo)·k + b along the row. */
    private static void normalizeWide(float[] y, float[] x, float[] muHi, float[] muLo, float[] k, float[] b, int n,
                                      int c) {
        int vc = S.loopBound(c);
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
    }

    /** S ≠ 1: each (n, c) row of S values, y = ((x − μ_hi) − μ_lo)·k + b with the channel's vectors broadcast. */
    private static void normalizeRows(float[] y, float[] x, float[] muHi, float[] muLo, float[] k, float[] b, int n,
                                      int c, int s) {
        int rows = n * c;
        Parallel.forRange(rows, rowsPerTask(s), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int ch = r % c;
                normalizeRow(y, x, r * s, s, muHi[ch], muLo[ch], k[ch], b[ch]);
            }
        });
    }

    /** One row of S values at o: y = ((x − μ_hi) − μ_lo)·k + b. */
    private static void normalizeRow(float[] y, float[] x, int o, int s, float mh, float ml, float kk, float bb) {
        FloatVector vh = FloatVector.broadcast(S, mh), vl = FloatVector.broadcast(S, ml);
        FloatVector vk = FloatVector.broadcast(S, kk), vb = FloatVector.broadcast(S, bb);
        int vs = S.loopBound(s), j = 0;
        for (; j < vs; j += L) {
            FloatVector.fromArray(S, x, o + j).sub(vh).sub(vl).fma(vk, vb).intoArray(y, o + j);
        }
        for (; j < s; j++) y[o + j] = Math.fma((x[o + j] - mh) - ml, kk, bb);
    }

    /**
     * Training forward channel by channel ({@link #channelByChannel}: large NCHW tensors): per channel the statistics
     * of its N rows ({@link Lanes#statsRow} around K = the channel's first value, rows added in order of n, the
     * formulas of {@link #channelStats}: the same bits), the layer's coefficients, then its rows normalized, last to
     * first, while the channel's N·S values (0.4 MB for (32, 64, 56, 56)) are still in L2/L3: x is read from memory
     * once, 2 passes of traffic instead of 3. Fewer channels, or channels last, keep the two passes.
     */
    @Override
    public void statsNormalize(float[] y, double[] mean, double[] var, float[] x, Affine f, float[] muHi, float[] muLo,
                               float[] k, float[] b, int n, int c, int s) {
        if (!channelByChannel(n, c, s)) {
            ChannelKernels.super.statsNormalize(y, mean, var, x, f, muHi, muLo, k, b, n, c, s);
            return;
        }
        double m = (double) n * s;
        Parallel.forRange(c, 1, PER_THREAD, (c0, c1) -> {
            float[] lane = new float[L];
            double[] p1 = new double[n], p2 = new double[n];
            for (int ch = c0; ch < c1; ch++) {
                float shift = x[ch * s];
                for (int i = 0; i < n; i++) statsRow(p1, p2, i, x, (i * c + ch) * s, s, shift, lane);
                double s1 = 0, s2 = 0;
                for (int i = 0; i < n; i++) {
                    s1 += p1[i];
                    s2 += p2[i];
                }
                double dm = s1 / m;
                mean[ch] = shift + dm;
                var[ch] = Math.max(0, s2 / m - dm * dm);
                f.of(ch, mean[ch], var[ch]);
                for (int i = n - 1; i >= 0; i--) normalizeRow(y, x, (i * c + ch) * s, s, muHi[ch], muLo[ch], k[ch], b[ch]);
            }
        });
    }

    /**
     * dx = a·dy − q·((x − μ_hi) − μ_lo) − p per channel (reads dy and x once, writes dx once); channels last as
     * {@link #normalize}.
     */
    @Override
    public void backwardDx(float[] dx, float[] dy, float[] x, float[] muHi, float[] muLo, float[] a, float[] q, float[] p,
                           int n, int c, int s) {
        if (s != 1) backwardDxRows(dx, dy, x, muHi, muLo, a, q, p, n, c, s);
        else if (c <= GROUPED_C) {
            int vc = S.loopBound(c);
            Parallel.forRange(n, rowsPerTask(c), (i0, i1) -> backwardDxGrouped(dx, dy, x, muHi, muLo, a, q, p, i0, i1, c, vc));
        } else backwardDxWide(dx, dy, x, muHi, muLo, a, q, p, n, c);
    }

    /**
     * Channels last, narrow rows [i0, i1), as {@link #normalizeGrouped}: dx = (x − μ)·(−q) + (dy·a − p), four vectors of
     * channels at a time. The four-vector tile is written out by hand: a helper taking the vectors would box them
     * (JDK 17) whenever C2 leaves it out of line.
     */
    private static void backwardDxGrouped(float[] dx, float[] dy, float[] x, float[] muHi, float[] muLo, float[] a,
                                          float[] q, float[] p, int i0, int i1, int c, int vc) {
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
    }

    /** Channels last, wide rows: row by row, dx = a·dy − q·((x − μ_hi) − μ_lo) − p along the row. */
    private static void backwardDxWide(float[] dx, float[] dy, float[] x, float[] muHi, float[] muLo, float[] a,
                                       float[] q, float[] p, int n, int c) {
        int vc = S.loopBound(c);
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
    }

    /** S ≠ 1: each (n, c) row of S values, dx = a·dy − q·((x − μ_hi) − μ_lo) − p with the channel's vectors broadcast. */
    private static void backwardDxRows(float[] dx, float[] dy, float[] x, float[] muHi, float[] muLo, float[] a,
                                       float[] q, float[] p, int n, int c, int s) {
        int rows = n * c;
        Parallel.forRange(rows, rowsPerTask(s), (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int ch = r % c;
                dxRow(dx, dy, x, r * s, s, muHi[ch], muLo[ch], a[ch], -q[ch], -p[ch]);
            }
        });
    }

    /** One row of S values at o: dx = a·dy + nq·((x − μ_hi) − μ_lo) + np (nq = −q, np = −p). */
    private static void dxRow(float[] dx, float[] dy, float[] x, int o, int s, float mh, float ml, float aa, float nq,
                              float np) {
        FloatVector vh = FloatVector.broadcast(S, mh), vl = FloatVector.broadcast(S, ml);
        FloatVector va = FloatVector.broadcast(S, aa), vq = FloatVector.broadcast(S, nq);
        FloatVector vp = FloatVector.broadcast(S, np);
        int vs = S.loopBound(s), j = 0;
        for (; j < vs; j += L) {
            FloatVector t = FloatVector.fromArray(S, dy, o + j).fma(va, vp);
            FloatVector.fromArray(S, x, o + j).sub(vh).sub(vl).fma(vq, t).intoArray(dx, o + j);
        }
        for (; j < s; j++) dx[o + j] = Math.fma((x[o + j] - mh) - ml, nq, Math.fma(dy[o + j], aa, np));
    }

    /**
     * The backward channel by channel ({@link #channelByChannel}: large NCHW tensors): per channel the sums of its N
     * rows (Σdy, Σdy·((x − μ_hi) − μ_lo), each row as {@link #backwardRow}, rows added in order of n: the bits of
     * {@link #backwardSums}), the layer's coefficients, then its dx rows, last to first, while the channel's dy and x
     * (N·S·8 bytes: 0.8 MB for (32, 64, 56, 56)) are still in L2/L3. The tensors are read from memory once instead of
     * twice: 3 passes of traffic instead of 5. Channels are split over the pool; other shapes keep the two passes.
     */
    @Override
    public void backward(float[] dx, double[] sumDy, double[] sumDyXmu, float[] dy, float[] x, float[] muHi,
                         float[] muLo, Coefficients f, float[] a, float[] q, float[] p, int n, int c, int s) {
        if (!channelByChannel(n, c, s)) {
            ChannelKernels.super.backward(dx, sumDy, sumDyXmu, dy, x, muHi, muLo, f, a, q, p, n, c, s);
            return;
        }
        Parallel.forRange(c, 1, PER_THREAD, (c0, c1) -> {
            float[] lane = new float[L];
            double[] p1 = new double[n], p2 = new double[n];
            for (int ch = c0; ch < c1; ch++) {
                for (int i = 0; i < n; i++) backwardRow(p1, p2, i, dy, x, (i * c + ch) * s, s, muHi[ch], muLo[ch], lane);
                double s1 = 0, s2 = 0;
                for (int i = 0; i < n; i++) {
                    s1 += p1[i];
                    s2 += p2[i];
                }
                sumDy[ch] = s1;
                sumDyXmu[ch] = s2;
                f.of(ch, s1, s2);
                for (int i = n - 1; i >= 0; i--) dxRow(dx, dy, x, (i * c + ch) * s, s, muHi[ch], muLo[ch], a[ch], -q[ch], -p[ch]);
            }
        });
    }
}
