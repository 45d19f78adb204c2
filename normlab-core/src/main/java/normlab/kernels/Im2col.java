package normlab.kernels;

/**
 * Unfolding of image patches into rows (im2col) and its adjoint (col2im), so a convolution becomes one matrix
 * product per sample and group. For an input block of C channels of H×W, kernel kh×kw, stride (sh, sw), zero padding
 * (ph, pw) and dilation (dh, dw), output position (oh, ow) is row p = oh·OW + ow of the (OH·OW) × (C·kh·kw) matrix:
 * <pre>
 *   col[p, (c·kh + i)·kw + j] = x[c, oh·sh − ph + i·dh, ow·sw − pw + j·dw]   (0 outside the image)
 *   OH = ⌊(H + 2ph − dh·(kh−1) − 1)/sh⌋ + 1,  likewise OW
 * </pre>
 */
public final class Im2col {
    private Im2col() {}

    /** Fills col ((OH·OW) × (C·kh·kw)) from the C×H×W block of x starting at xOff. */
    public static void im2col(float[] col, float[] x, int xOff, int c, int h, int w, int kh, int kw, int sh, int sw,
                              int ph, int pw, int dh, int dw, int oh, int ow) {
        int k = c * kh * kw;
        for (int y = 0; y < oh; y++) {
            for (int xo = 0; xo < ow; xo++) {
                int row = (y * ow + xo) * k;
                for (int ch = 0; ch < c; ch++) {
                    int plane = xOff + ch * h * w;
                    for (int i = 0; i < kh; i++) {
                        int iy = y * sh - ph + i * dh;
                        int o = row + (ch * kh + i) * kw;
                        if (iy < 0 || iy >= h) {
                            for (int j = 0; j < kw; j++) col[o + j] = 0f;
                            continue;
                        }
                        int line = plane + iy * w;
                        for (int j = 0; j < kw; j++) {
                            int ix = xo * sw - pw + j * dw;
                            col[o + j] = ix >= 0 && ix < w ? x[line + ix] : 0f;
                        }
                    }
                }
            }
        }
    }

    /** Adjoint of {@link #im2col}: dx[c, iy, ix] += dcol[p, (c·kh + i)·kw + j] for every patch that read (iy, ix). */
    public static void col2im(float[] dx, int dxOff, float[] dcol, int c, int h, int w, int kh, int kw, int sh, int sw,
                              int ph, int pw, int dh, int dw, int oh, int ow) {
        int k = c * kh * kw;
        for (int y = 0; y < oh; y++) {
            for (int xo = 0; xo < ow; xo++) {
                int row = (y * ow + xo) * k;
                for (int ch = 0; ch < c; ch++) {
                    int plane = dxOff + ch * h * w;
                    for (int i = 0; i < kh; i++) {
                        int iy = y * sh - ph + i * dh;
                        if (iy < 0 || iy >= h) continue;
                        int o = row + (ch * kh + i) * kw;
                        int line = plane + iy * w;
                        for (int j = 0; j < kw; j++) {
                            int ix = xo * sw - pw + j * dw;
                            if (ix >= 0 && ix < w) dx[line + ix] += dcol[o + j];
                        }
                    }
                }
            }
        }
    }
}
