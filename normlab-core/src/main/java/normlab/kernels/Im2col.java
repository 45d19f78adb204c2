package normlab.kernels;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Unfolding of image patches into a matrix (im2col, Caffe's layout) and its adjoint (col2im), so a convolution becomes
 * one matrix product per group over the whole batch. For an input block of C channels of H×W, kernel kh×kw, stride
 * (sh, sw), zero padding (ph, pw) and dilation (dh, dw), the patch matrix has one row per kernel tap
 * r = (c·kh + i)·kw + j and one column per output position p = oh·OW + ow:
 * <pre>
 *   col[r, p] = x[c, oh·sh − ph + i·dh, ow·sw − pw + j·dw]   (0 outside the image)
 *   OH = ⌊(H + 2ph − dh·(kh−1) − 1)/sh⌋ + 1,  likewise OW
 * </pre>
 * Several samples share one matrix side by side: a sample's OH·OW columns start at {@code colOff} in rows of length
 * {@code ldc}. With taps as rows, the GEMMs run their inner loops along the long output axis.
 */
public final class Im2col {
    private Im2col() {}

    /** Writes columns [colOff, colOff + OH·OW) of every tap row of col (row length ldc) from the C×H×W block of x at xOff. */
    public static void im2col(float[] col, int colOff, int ldc, float[] x, int xOff, int c, int h, int w, int kh, int kw,
                              int sh, int sw, int ph, int pw, int dh, int dw, int oh, int ow) {
        if (sh == 1 && sw == 1 && ow == w) {
            sameWidth(col, colOff, ldc, x, xOff, c, h, w, kh, kw, ph, pw, dh, dw, oh, false);
            return;
        }
        for (int ch = 0; ch < c; ch++) {
            int plane = xOff + ch * h * w;
            for (int i = 0; i < kh; i++) {
                for (int j = 0; j < kw; j++) {
                    int base = ((ch * kh + i) * kw + j) * ldc + colOff;
                    for (int y = 0; y < oh; y++) {
                        int iy = y * sh - ph + i * dh, o = base + y * ow;
                        if (iy < 0 || iy >= h) {
                            Arrays.fill(col, o, o + ow, 0f);
                            continue;
                        }
                        int line = plane + iy * w;
                        if (sw == 1) {
                            // ix = xo − pw + j·dw: inside the image for xo in [lo, hi); a straight copy there, zeros around
                            int shift = j * dw - pw, lo = Math.max(0, -shift), hi = Math.min(ow, w - shift);
                            if (hi <= lo) {
                                Arrays.fill(col, o, o + ow, 0f);
                                continue;
                            }
                            Arrays.fill(col, o, o + lo, 0f);
                            System.arraycopy(x, line + lo + shift, col, o + lo, hi - lo);
                            Arrays.fill(col, o + hi, o + ow, 0f);
                            continue;
                        }
                        for (int xo = 0; xo < ow; xo++) {
                            int ix = xo * sw - pw + j * dw;
                            col[o + xo] = ix >= 0 && ix < w ? x[line + ix] : 0f;
                        }
                    }
                }
            }
        }
    }

    /**
     * The patches transposed, taps ordered (i, j, c) (channels innermost, unlike {@link #im2col}'s (c, i, j)):
     * <pre>
     *   colT[p·ldt + (i·kw + j)·C + c] = x[c, oh·sh − ph + i·dh, ow·sw − pw + j·dw]   (0 outside the image)
     * </pre>
     * for p = oh·OW + ow; rows OH·OW to {@code rows} and columns kh·kw·C to {@code ldt} are zero. The C×H×W block of x
     * at xOff is first transposed to channels last in {@code xt} (H·W·C floats), so each (position, tap) is one run of
     * C contiguous floats: a few vector copies instead of an im2col and a gather transpose of its K × P result.
     */
    public static void im2colT(float[] colT, int ldt, int rows, float[] xt, float[] x, int xOff, int c, int h, int w,
                               int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, int oh, int ow) {
        // xt[(y·W + x)·C + ch] = x[ch, y, x]
        Gemm.transpose(xt, 0, c, x, xOff, h * w, c, h * w);
        int taps = kh * kw, k = taps * c, l = S.length(), cv = Kernels.simd() ? c / l * l : 0;
        for (int oy = 0; oy < oh; oy++) {
            for (int ox = 0; ox < ow; ox++) {
                int row = (oy * ow + ox) * ldt;
                for (int i = 0; i < kh; i++) {
                    int iy = oy * sh - ph + i * dh;
                    for (int j = 0; j < kw; j++) {
                        int ix = ox * sw - pw + j * dw, o = row + (i * kw + j) * c;
                        if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
                            Arrays.fill(colT, o, o + c, 0f);
                            continue;
                        }
                        int src = (iy * w + ix) * c, q = 0;
                        for (; q < cv; q += l) FloatVector.fromArray(S, xt, src + q).intoArray(colT, o + q);
                        for (; q < c; q++) colT[o + q] = xt[src + q];
                    }
                }
                if (ldt > k) Arrays.fill(colT, row + k, row + ldt, 0f);
            }
        }
        Arrays.fill(colT, oh * ow * ldt, rows * ldt, 0f);
    }

    /** Adjoint of {@link #im2col}: dx[c, iy, ix] += dcol[r, p] for every tap r and position p that read (iy, ix). */
    public static void col2im(float[] dx, int dxOff, float[] dcol, int colOff, int ldc, int c, int h, int w, int kh, int kw,
                              int sh, int sw, int ph, int pw, int dh, int dw, int oh, int ow) {
        if (sh == 1 && sw == 1 && ow == w) {
            sameWidth(dcol, colOff, ldc, dx, dxOff, c, h, w, kh, kw, ph, pw, dh, dw, oh, true);
            return;
        }
        for (int ch = 0; ch < c; ch++) {
            int plane = dxOff + ch * h * w;
            for (int i = 0; i < kh; i++) {
                for (int j = 0; j < kw; j++) {
                    int base = ((ch * kh + i) * kw + j) * ldc + colOff;
                    for (int y = 0; y < oh; y++) {
                        int iy = y * sh - ph + i * dh;
                        if (iy < 0 || iy >= h) continue;
                        int o = base + y * ow, line = plane + iy * w;
                        if (sw == 1) {
                            int shift = j * dw - pw, lo = Math.max(0, -shift), hi = Math.min(ow, w - shift);
                            for (int xo = lo; xo < hi; xo++) dx[line + xo + shift] += dcol[o + xo];
                            continue;
                        }
                        for (int xo = 0; xo < ow; xo++) {
                            int ix = xo * sw - pw + j * dw;
                            if (ix >= 0 && ix < w) dx[line + ix] += dcol[o + xo];
                        }
                    }
                }
            }
        }
    }

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /**
     * Stride 1 with output rows as wide as input rows (ow = w, "same" padding): in flat indices a tap's row is the plane
     * shifted by δ = (i·dh − ph)·w + (j·dw − pw), col[r, q] = x[q + δ], except the rows that fall outside the image and
     * the |j·dw − pw| border columns where the shift wraps into the neighbouring image row; those read zero. So each
     * tap is one contiguous copy plus a few zeros, instead of one short copy per output row.
     *
     * <p>With {@code adjoint} the same map runs backward, dx[q + δ] += dcol[r, q] (col2im): the wrapped border columns
     * of dcol are zeroed first (dcol is a workspace the caller gives up), then the run is added with vectors, clipped to
     * the plane. Every dx element still takes its taps' contributions in tap order, as in the general loop.
     */
    private static void sameWidth(float[] col, int colOff, int ldc, float[] x, int xOff, int c, int h, int w, int kh, int kw,
                                  int ph, int pw, int dh, int dw, int oh, boolean adjoint) {
        int plane = h * w;
        for (int ch = 0; ch < c; ch++) {
            int xp = xOff + ch * plane;
            for (int i = 0; i < kh; i++) {
                int sy = i * dh - ph, y0 = Math.max(0, -sy), y1 = Math.min(oh, h - sy);
                for (int j = 0; j < kw; j++) {
                    int sx = j * dw - pw, base = ((ch * kh + i) * kw + j) * ldc + colOff;
                    if (y1 <= y0 || Math.abs(sx) >= w) {
                        if (!adjoint) Arrays.fill(col, base, base + oh * w, 0f);
                        continue;
                    }
                    // border columns that wrap: [0, -sx) when sx < 0, [w - sx, w) when sx > 0
                    int b0 = sx < 0 ? 0 : w - sx, b1 = sx < 0 ? -sx : w;
                    // flat run q in [y0·w, y1·w), source/target q + δ clipped to the plane
                    int delta = sy * w + sx, q0 = Math.max(y0 * w, -delta), q1 = Math.min(y1 * w, plane - delta);
                    if (!adjoint) {
                        Arrays.fill(col, base, base + q0, 0f);
                        System.arraycopy(x, xp + q0 + delta, col, base + q0, q1 - q0);
                        Arrays.fill(col, base + q1, base + oh * w, 0f);
                        zeroColumns(col, base, w, y0, y1, b0, b1);
                    } else {
                        zeroColumns(col, base, w, y0, y1, b0, b1);
                        addRun(x, xp + q0 + delta, col, base + q0, q1 - q0);
                    }
                }
            }
        }
    }

    /** col[base + y·w + x] = 0 for y in [y0, y1), x in [b0, b1) (a few border columns: plain stores, no calls). */
    private static void zeroColumns(float[] col, int base, int w, int y0, int y1, int b0, int b1) {
        for (int y = y0; y < y1; y++) for (int x = base + y * w + b0, e = base + y * w + b1; x < e; x++) col[x] = 0f;
    }

    /** dst[d + t] += src[s + t] for t in [0, n). */
    private static void addRun(float[] dst, int d, float[] src, int s, int n) {
        int t = 0;
        if (Kernels.simd()) {
            for (int l = S.length(); t + l <= n; t += l) {
                FloatVector.fromArray(S, dst, d + t).add(FloatVector.fromArray(S, src, s + t)).intoArray(dst, d + t);
            }
        }
        for (; t < n; t++) dst[d + t] += src[s + t];
    }
}
