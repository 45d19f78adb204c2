package normlab.nn;

/**
 * The window of a 2-D pooling layer (MaxPool2d, AvgPool2d): kernel (kh, kw), stride (sh, sw) and zero padding
 * (ph, pw), each {height, width}; positive kernel and stride, padding in [0, kernel/2] as PyTorch requires.
 */
public abstract class Pool2d extends Module {
    public final int kh, kw, sh, sw, ph, pw;

    Pool2d(String layer, int[] kernel, int[] stride, int[] padding) {
        if (kernel[0] <= 0 || kernel[1] <= 0 || stride[0] <= 0 || stride[1] <= 0) {
            throw new IllegalArgumentException(layer + ": kernel and stride must be positive");
        }
        if (padding[0] < 0 || padding[1] < 0 || 2 * padding[0] > kernel[0] || 2 * padding[1] > kernel[1]) {
            throw new IllegalArgumentException(layer + ": padding must be in [0, kernel/2], got padding " + padding[0] + "x" + padding[1]
                    + " for kernel " + kernel[0] + "x" + kernel[1]);
        }
        kh = kernel[0];
        kw = kernel[1];
        sh = stride[0];
        sw = stride[1];
        ph = padding[0];
        pw = padding[1];
    }
}
