package normlab.tensor;

/** A tensor had the wrong shape for an operation; the message names the operation, the shape seen and the one expected. */
public class ShapeException extends IllegalArgumentException {
    public ShapeException(String message) {
        super(message);
    }
}
