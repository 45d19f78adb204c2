package normlab.kernels;

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
        for (int ch = 0; ch < c; ch++) {
            int plane = xOff + ch * h * w;
            for (int i = 0; i < kh; i++) {
                for (int j = 0; j < kw; j++) {
                    int base = ((ch * kh + i) * kw + j) * ldc + colOff;
                    for (int y = 0; y < oh; y++) {
                        int iy = y * sh - ph + i * dh, o = base + y * ow;
                        if (iy < 0 || iy >= h) {
                            java.util.Arrays.fill(col, o, o + ow, 0f);
                            continue;
                        }
                        int line = plane + iy * w;
                        if (sw == 1) {
                            // ix = xo − pw + j·dw: inside the image for xo in [lo, hi); a straight copy there, zeros around
                            int shift = j * dw - pw, lo = Math.max(0, -shift), hi = Math.min(ow, w - shift);
                            if (hi <= lo) {
                                java.util.Arrays.fill(col, o, o + ow, 0f);
                                continue;
                            }
                            java.util.Arrays.fill(col, o, o + lo, 0f);
                            System.arraycopy(x, line + lo + shift, col, o + lo, hi - lo);
                            java.util.Arrays.fill(col, o + hi, o + ow, 0f);
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

    /** Adjoint of {@link #im2col}: dx[c, iy, ix] += dcol[r, p] for every tap r and position p that read (iy, ix). */
    public static void col2im(float[] dx, int dxOff, float[] dcol, int colOff, int ldc, int c, int h, int w, int kh, int kw,
                              int sh, int sw, int ph, int pw, int dh, int dw, int oh, int ow) {
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
}
