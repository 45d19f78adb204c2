package normlab.rnn;

import java.util.Arrays;
import normlab.nn.Module;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * PyTorch's {@code nn.Unflatten(1, sizes)}: (N, D) → (N, sizes…) as a view, D = Π sizes; backward views dy back to
 * (N, D). Turns a flat image batch into a sequence: (N, 784) → (N, 28, 28) is 28 steps of 28 pixels (row-major, so a
 * row per step), (N, 196, 4) 196 steps of 4-pixel chunks.
 */
public final class Unflatten extends Module {
    public final int[] sizes;
    private final int features;
    private int[] inShape;

    public Unflatten(int... sizes) {
        int f = 1;
        for (int s : sizes) {
            if (s <= 0) throw new IllegalArgumentException("Unflatten: sizes must be positive, got " + Arrays.toString(sizes));
            f *= s;
        }
        if (sizes.length == 0) throw new IllegalArgumentException("Unflatten: needs at least one size");
        this.sizes = sizes.clone();
        this.features = f;
    }

    @Override
    public Tensor forward(Tensor x) {
        if (x.rank() != 2 || x.dim(1) != features) {
            throw new ShapeException(label() + ": expected input of shape [N, " + features + "] to unflatten to [N, "
                    + Arrays.toString(sizes).replaceAll("[\\[\\]]", "") + "], got " + x.shapeString());
        }
        inShape = x.shape();
        int[] s = new int[sizes.length + 1];
        s[0] = x.dim(0);
        System.arraycopy(sizes, 0, s, 1, sizes.length);
        return x.view(s);
    }

    @Override
    public Tensor backward(Tensor dy) {
        requireForward(inShape, this);
        return dy.view(inShape);
    }
}
