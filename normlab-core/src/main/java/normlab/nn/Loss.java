package normlab.nn;

import normlab.tensor.Tensor;

/**
 * A training loss: {@link #forward} gives the mean loss of a batch of model outputs against targets and keeps what
 * {@link #backward} needs; {@link #backward} gives dL/doutput of that forward. Implemented by
 * {@link CrossEntropyLoss} (targets: class indices, shape (N)) and {@link MSELoss} (targets: the outputs' shape).
 */
public interface Loss {
    /** Mean loss of {@code output} against {@code target}; keeps what {@link #backward()} needs. */
    float forward(Tensor output, Tensor target);

    /** dL/doutput of the last {@link #forward}, the shape of its output. */
    Tensor backward();
}
