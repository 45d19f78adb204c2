package normlab.nn;

import normlab.tensor.Tensor;

/** Flattens (N, d1, d2, …) to (N, d1·d2·…) as a view; backward restores the input shape. */
public final class Flatten extends Module {
    private int[] inShape;

    @Override
    public Tensor forward(Tensor x) {
        if (x.rank() < 1) throw new normlab.tensor.ShapeException(label() + ": expected input of rank >= 1, got a scalar");
        inShape = x.shape();
        return x.view(x.dim(0), -1);
    }

    @Override
    public Tensor backward(Tensor dy) {
        requireForward(inShape, this);
        return dy.view(inShape);
    }
}
