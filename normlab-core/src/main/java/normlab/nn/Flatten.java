package normlab.nn;

import normlab.tensor.Tensor;

/** Flattens (N, d1, d2, …) to (N, d1·d2·…) as a view, as PyTorch's {@code nn.Flatten()}; backward restores the input shape. */
public final class Flatten extends Module {
    private int[] inShape;

    @Override
    public Tensor forward(Tensor x) {
        if (x.rank() < 2) {
            throw new normlab.tensor.ShapeException(label() + ": expected input of rank >= 2 (N, d1, ...), got shape " + x.shapeString());
        }
        inShape = x.shape();
        int features = 1; // d1·d2·… computed directly, so an empty batch (N = 0) flattens too
        for (int i = 1; i < inShape.length; i++) features *= inShape[i];
        return x.view(x.dim(0), features);
    }

    @Override
    public Tensor backward(Tensor dy) {
        requireForward(inShape, this);
        return dy.view(inShape);
    }
}
