package normlab.nn;

import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * Mean squared error with mean reduction (PyTorch's {@code nn.MSELoss()}): {@code L = (1/M) Σᵢ (xᵢ − yᵢ)²} over all
 * {@code M} elements; {@code dL/dx = 2 (x − y) / M}. Output and target must have the same shape. The sum is taken in
 * double.
 */
public final class MSELoss implements Loss {
    private Tensor diff;

    @Override
    public float forward(Tensor output, Tensor target) {
        if (!java.util.Arrays.equals(output.shape(), target.shape())) {
            throw new ShapeException("MSELoss: output of shape " + output.shapeString() + " and target of shape "
                    + target.shapeString() + " differ");
        }
        int m = output.numel();
        if (m == 0) throw new ShapeException("MSELoss: empty output " + output.shapeString());
        Tensor d = Tensor.zeros(output.shape());
        double s = 0;
        for (int i = 0; i < m; i++) {
            float e = output.data[i] - target.data[i];
            d.data[i] = e;
            s += (double) e * e;
        }
        diff = d;
        return (float) (s / m);
    }

    @Override
    public Tensor backward() {
        if (diff == null) throw new IllegalStateException("MSELoss: backward called before forward");
        Tensor g = diff.copy();
        float c = 2f / g.numel();
        for (int i = 0; i < g.data.length; i++) g.data[i] *= c;
        return g;
    }
}
