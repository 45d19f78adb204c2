package normlab.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;

import normlab.tensor.Rng;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * im2col and col2im against their definitions, for the stride-1 "same width" fast path (one shifted copy per tap) and
 * the general loop: kernels 1, 3, 5, dilation 2, non-square kernels and paddings, images down to 1×1, several samples
 * side by side in one matrix, and col2im accumulating onto a non-zero dx; and the transposed, tap-major patches
 * (Conv2d's dW) built from channels-last input.
 */
class Im2colTest {
    private final boolean simd0 = Kernels.simd();

    @AfterEach
    void restore() {
        Kernels.setSimd(simd0);
    }

    /** {c, h, w, kh, kw, sh, sw, ph, pw, dh, dw} */
    private static final int[][] CASES = {
        {3, 14, 14, 3, 3, 1, 1, 1, 1, 1, 1}, {1, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1}, {2, 7, 9, 5, 5, 1, 1, 2, 2, 1, 1},
        {2, 6, 6, 3, 3, 1, 1, 2, 2, 2, 2}, {3, 5, 4, 1, 1, 1, 1, 0, 0, 1, 1}, {2, 5, 6, 3, 1, 1, 1, 1, 0, 1, 1},
        {1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1}, {2, 2, 3, 3, 3, 1, 1, 1, 1, 1, 1}, {2, 4, 17, 3, 3, 1, 1, 0, 1, 1, 1},
        // general loop: stride 2, no padding, output narrower than the input
        {2, 9, 9, 3, 3, 2, 2, 1, 1, 1, 1}, {2, 8, 8, 3, 3, 1, 1, 0, 0, 1, 1}, {1, 7, 5, 2, 3, 2, 1, 0, 1, 1, 1}
    };

    @Test
    void patchesAndAdjointMatchTheDefinition() {
        for (boolean simd : new boolean[] {true, false}) {
            Kernels.setSimd(simd);
            for (int[] t : CASES) {
                int c = t[0], h = t[1], w = t[2], kh = t[3], kw = t[4], sh = t[5], sw = t[6], ph = t[7], pw = t[8], dh = t[9], dw = t[10];
                int oh = (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1, ow = (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1, p = oh * ow;
                int samples = 3, ldc = samples * p + 5, k = c * kh * kw;
                Rng rng = new Rng(h * 100L + w * 10L + kh);
                float[] x = new float[samples * c * h * w];
                for (int i = 0; i < x.length; i++) x[i] = (float) rng.nextGaussian();
                float[] col = new float[k * ldc];
                java.util.Arrays.fill(col, Float.NaN); // every element a sample owns must be written
                for (int n = 0; n < samples; n++) Im2col.im2col(col, n * p, ldc, x, n * c * h * w, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow);
                float[] dcol = new float[k * ldc];
                for (int i = 0; i < dcol.length; i++) dcol[i] = (float) rng.nextGaussian();
                float[] dx = new float[x.length], want = new float[x.length];
                for (int i = 0; i < dx.length; i++) dx[i] = want[i] = (float) rng.nextGaussian();
                for (int n = 0; n < samples; n++) {
                    for (int ch = 0; ch < c; ch++) for (int i = 0; i < kh; i++) for (int j = 0; j < kw; j++) {
                        int r = (ch * kh + i) * kw + j;
                        for (int a = 0; a < oh; a++) for (int b = 0; b < ow; b++) {
                            int iy = a * sh - ph + i * dh, ix = b * sw - pw + j * dw, q = r * ldc + n * p + a * ow + b;
                            boolean in = iy >= 0 && iy < h && ix >= 0 && ix < w;
                            int xi = ((n * c + ch) * h + iy) * w + ix;
                            assertEquals(in ? x[xi] : 0f, col[q], "simd " + simd + " case " + java.util.Arrays.toString(t) + " tap " + r + " at " + a + "," + b);
                            if (in) want[xi] += dcol[q];
                        }
                    }
                }
                float[] dcolCopy = dcol.clone(); // col2im may zero entries of its workspace
                for (int n = 0; n < samples; n++) Im2col.col2im(dx, n * c * h * w, dcolCopy, n * p, ldc, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow);
                for (int i = 0; i < dx.length; i++) assertEquals(want[i], dx[i], 1e-5f, "simd " + simd + " case " + java.util.Arrays.toString(t) + " dx " + i);
            }
        }
    }

    /**
     * The transposed, tap-major patches against the definition: the same cases and channel counts that fill whole
     * vectors, part of one, or several plus a tail (C = 16, 20, 35 with 16 lanes), padded columns and rows zero.
     */
    @Test
    void transposedPatchesMatchTheDefinition() {
        for (boolean simd : new boolean[] {true, false}) {
            Kernels.setSimd(simd);
            for (int[] t0 : CASES) {
                for (int c : new int[] {t0[0], 16, 20, 35}) {
                    int[] t = t0.clone();
                    t[0] = c;
                    int h = t[1], w = t[2], kh = t[3], kw = t[4], sh = t[5], sw = t[6], ph = t[7], pw = t[8], dh = t[9], dw = t[10];
                    int oh = (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1, ow = (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1, p = oh * ow;
                    int k = c * kh * kw, ldt = k + 3, rows = p + 2, xOff = 7;
                    Rng rng = new Rng(c * 1000L + h * 100L + w * 10L + kh);
                    float[] x = new float[xOff + c * h * w];
                    for (int i = 0; i < x.length; i++) x[i] = (float) rng.nextGaussian();
                    float[] colT = new float[rows * ldt], xt = new float[h * w * c];
                    java.util.Arrays.fill(colT, Float.NaN); // every element must be written
                    Im2col.im2colT(colT, ldt, rows, xt, x, xOff, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow);
                    for (int q = 0; q < rows; q++) {
                        for (int col = 0; col < ldt; col++) {
                            float want = 0f;
                            if (q < p && col < k) {
                                int tap = col / c, ch = col % c, i = tap / kw, j = tap % kw, a = q / ow, b = q % ow;
                                int iy = a * sh - ph + i * dh, ix = b * sw - pw + j * dw;
                                if (iy >= 0 && iy < h && ix >= 0 && ix < w) want = x[xOff + (ch * h + iy) * w + ix];
                            }
                            assertEquals(want, colT[q * ldt + col], "simd " + simd + " case " + java.util.Arrays.toString(t)
                                    + " position " + q + " column " + col);
                        }
                    }
                }
            }
        }
    }
}
