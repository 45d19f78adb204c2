package normlab.nn;

import normlab.tensor.Tensor;

/**
 * A learnable tensor and its gradient (same shape). {@link Kind} tells optimizers what it is, so weight decay can
 * exempt normalization parameters and biases with one switch.
 */
public final class Parameter {
    /** What a parameter is, for optimizer policies. */
    public enum Kind { WEIGHT, BIAS, NORM }

    /** Local name as in PyTorch ({@code weight}, {@code bias}). */
    public final String name;
    public final Tensor value;
    /** Accumulated by {@code backward}; cleared by {@link #zeroGrad()} or an optimizer's {@code zeroGrad}. */
    public final Tensor grad;
    public final Kind kind;

    public Parameter(String name, Tensor value, Kind kind) {
        this.name = name;
        this.value = value;
        this.grad = Tensor.zeros(value.shape());
        this.kind = kind;
    }

    public void zeroGrad() {
        grad.zero();
    }
}
