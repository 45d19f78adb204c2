package normlab.nn;

import normlab.tensor.Tensor;

/**
 * Global average pooling: (N, C, H, W) → (N, C), y[n, c] = (1/(H·W)) Σ x[n, c, ·, ·] — PyTorch's
 * {@code nn.AdaptiveAvgPool2d(1)} followed by {@code flatten(1)}. Backward spreads dy/(H·W) over the plane.
 *
 * <p>Small batches: samples are independent, so batch size 1 and 2 behave like any other.
 */
public final class GlobalAvgPool extends Module {
    private int[] inShape;

    @Override
    public Tensor forward(Tensor x) {
        requireRank(x, 4);
        int n = x.dim(0), c = x.dim(1), s = x.dim(2) * x.dim(3);
        if (s == 0) throw new normlab.tensor.ShapeException(label() + ": empty spatial size in input " + x.shapeString());
        Tensor y = Tensor.zeros(n, c);
        for (int i = 0; i < n * c; i++) {
            double sum = 0;
            for (int j = 0; j < s; j++) sum += x.data[i * s + j];
            y.data[i] = (float) (sum / s);
        }
        inShape = x.shape();
        return y;
    }

    @Override
    public Tensor backward(Tensor dy) {
        requireForward(inShape, this);
        int n = inShape[0], c = inShape[1], s = inShape[2] * inShape[3];
        Tensor.requireShape(label() + " backward", dy, n, c);
        Tensor dx = Tensor.zeros(inShape);
        for (int i = 0; i < n * c; i++) {
            float v = dy.data[i] / s;
            for (int j = 0; j < s; j++) dx.data[i * s + j] = v;
        }
        return dx;
    }
}
