package normlab.rnn;

import normlab.nn.Module;
import normlab.tensor.Tensor;

/**
 * The last time step of a batch-first sequence: (N, T, H) → (N, H), y[n] = x[n, T−1] (PyTorch: {@code x[:, -1]}).
 * Put after a recurrent layer in a {@code Sequential} to build a sequence classifier (… → LSTM → LastStep → Linear).
 * Backward: dx[n, T−1] = dy[n], zero at every other step.
 */
public final class LastStep extends Module {
    private int[] inShape;

    @Override
    public Tensor forward(Tensor x) {
        requireRank(x, 3);
        if (x.dim(1) == 0) throw new normlab.tensor.ShapeException(label() + ": expected at least one time step (dim 1), got shape " + x.shapeString());
        inShape = x.shape();
        int n = x.dim(0), t = x.dim(1), f = x.dim(2);
        Tensor y = outputTensor(0, n, f);
        for (int b = 0; b < n; b++) System.arraycopy(x.data, (b * t + t - 1) * f, y.data, b * f, f);
        return y;
    }

    @Override
    public Tensor backward(Tensor dy) {
        requireForward(inShape, this);
        int n = inShape[0], t = inShape[1], f = inShape[2];
        Tensor.requireShape(label() + " backward", dy, n, f);
        Tensor dx = Tensor.zeros(inShape); // fresh: all but one step are zero
        for (int b = 0; b < n; b++) System.arraycopy(dy.data, b * f, dx.data, (b * t + t - 1) * f, f);
        return dx;
    }
}
