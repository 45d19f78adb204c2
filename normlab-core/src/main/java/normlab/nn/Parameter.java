package normlab.nn;

import normlab.tensor.Tensor;

/**
 * A learnable tensor and its gradient (same shape). {@link Kind} tells optimizers what it is, so weight decay can
 * exempt normalization parameters and biases with one switch.
 *
 * <p>{@link #version()} counts changes of the value, so layers can keep derived forms of it (packed or transposed
 * weight panels for inference) and rebuild them only when it moved. Optimizer steps, {@code loadStateDict}, folding and
 * switching a module between train and eval call {@link #changed()}; code that writes {@code value.data} directly must
 * call it too.
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

    private long version;

    public void zeroGrad() {
        grad.zero();
    }

    /** Marks the value as changed: anything derived from it (a cached packed weight) is rebuilt on next use. */
    public void changed() {
        version++;
    }

    /** Number of {@link #changed()} calls so far; a cache built at version v is valid while this still returns v. */
    public long version() {
        return version;
    }
}
