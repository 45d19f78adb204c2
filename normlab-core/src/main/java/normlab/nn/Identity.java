package normlab.nn;

import normlab.tensor.Tensor;

/**
 * y = x, as PyTorch's {@code nn.Identity}. Folding puts one where a BatchNorm was, so every other layer keeps its
 * position and state-dict key ({@code 3.weight} stays {@code 3.weight}).
 */
public final class Identity extends Module {
    @Override
    public Tensor forward(Tensor x) {
        return x;
    }

    @Override
    public Tensor backward(Tensor dy) {
        return dy;
    }
}
