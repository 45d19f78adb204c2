package normlab.nn;

import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * 2-D average pooling as PyTorch's {@code nn.AvgPool2d(kernel, stride=kernel, padding=0, count_include_pad=True)}
 * (ceil_mode off, no divisor_override):
 * <pre>
 *   y[n, c, a, b] = (1/D) Σ_{i,j} x[n, c, a·sh − ph + i, b·sw − pw + j]   (padding reads 0)
 *   D = kh·kw with count_include_pad, else the number of window positions inside the image
 * </pre>
 * Backward spreads dy/D back over the window. Padding must be at most half the kernel, as PyTorch requires.
 *
 * <p>Small batches: samples are independent, so batch size 1 and 2 behave like any other.
 */
public final class AvgPool2d extends Pool2d {
    public final boolean countIncludePad;

    private int[] inShape;

    /** Square window, stride = kernel, no padding, count_include_pad. */
    public AvgPool2d(int kernel) {
        this(kernel, kernel, 0, true);
    }

    public AvgPool2d(int kernel, int stride, int padding, boolean countIncludePad) {
        this(new int[] {kernel, kernel}, new int[] {stride, stride}, new int[] {padding, padding}, countIncludePad);
    }

    /** Each of kernel, stride, padding is {height, width}. */
    public AvgPool2d(int[] kernel, int[] stride, int[] padding, boolean countIncludePad) {
        super("AvgPool2d", kernel, stride, padding);
        this.countIncludePad = countIncludePad;
    }

    private int divisor(int a, int b, int h, int w) {
        if (countIncludePad) return kh * kw;
        int y0 = Math.max(a * sh - ph, 0), y1 = Math.min(a * sh - ph + kh, h);
        int x0 = Math.max(b * sw - pw, 0), x1 = Math.min(b * sw - pw + kw, w);
        return (y1 - y0) * (x1 - x0);
    }

    @Override
    public Tensor forward(Tensor x) {
        requireRank(x, 4);
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        if (h + 2 * ph < kh || w + 2 * pw < kw) {
            throw new ShapeException(label() + ": input " + x.shapeString() + " is smaller than the " + kh + "x" + kw + " window");
        }
        int oh = (h + 2 * ph - kh) / sh + 1, ow = (w + 2 * pw - kw) / sw + 1;
        Tensor y = Tensor.zeros(n, c, oh, ow);
        float[] xd = x.data, yd = y.data;
        for (int nc = 0; nc < n * c; nc++) {
            int plane = nc * h * w;
            for (int a = 0; a < oh; a++) {
                for (int b = 0; b < ow; b++) {
                    // (1/D) Σ over the in-image part of the window
                    double s = 0;
                    for (int i = Math.max(0, ph - a * sh); i < kh && a * sh - ph + i < h; i++) {
                        int row = plane + (a * sh - ph + i) * w;
                        for (int j = Math.max(0, pw - b * sw); j < kw && b * sw - pw + j < w; j++) s += xd[row + b * sw - pw + j];
                    }
                    yd[(nc * oh + a) * ow + b] = (float) (s / divisor(a, b, h, w));
                }
            }
        }
        inShape = x.shape();
        return y;
    }

    /** dx[window] += dy/D. */
    @Override
    public Tensor backward(Tensor dy) {
        requireForward(inShape, this);
        int n = inShape[0], c = inShape[1], h = inShape[2], w = inShape[3];
        int oh = (h + 2 * ph - kh) / sh + 1, ow = (w + 2 * pw - kw) / sw + 1;
        Tensor.requireShape(label() + " backward", dy, n, c, oh, ow);
        Tensor dx = Tensor.zeros(inShape);
        float[] g = dy.data, d = dx.data;
        for (int nc = 0; nc < n * c; nc++) {
            int plane = nc * h * w;
            for (int a = 0; a < oh; a++) {
                for (int b = 0; b < ow; b++) {
                    float v = g[(nc * oh + a) * ow + b] / divisor(a, b, h, w);
                    for (int i = Math.max(0, ph - a * sh); i < kh && a * sh - ph + i < h; i++) {
                        int row = plane + (a * sh - ph + i) * w;
                        for (int j = Math.max(0, pw - b * sw); j < kw && b * sw - pw + j < w; j++) d[row + b * sw - pw + j] += v;
                    }
                }
            }
        }
        return dx;
    }
}
