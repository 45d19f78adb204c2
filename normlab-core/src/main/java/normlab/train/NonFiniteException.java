package normlab.train;

/**
 * Training met a non-finite loss or gradient and its {@link Trainer.NonFinitePolicy} is {@code STOP}: the message names
 * the step and where the value first appeared (the loss, or the first parameter in state-dict order whose gradient
 * or value is NaN/Inf). The optimizer step was not applied and the buffers (running statistics) were restored, so the
 * model is that of the last good step, and no checkpoint is overwritten with damaged values.
 */
public class NonFiniteException extends ArithmeticException {
    /** The 1-based step that failed. */
    public final int step;
    /** Where: {@code "loss"} or a state-dict key such as {@code "4.weight (gradient)"}. */
    public final String where;

    public NonFiniteException(int step, String where, String detail) {
        super("non-finite value at step " + step + " in " + where + ": " + detail
                + " (the update was not applied; weights are those of step " + (step - 1) + ")");
        this.step = step;
        this.where = where;
    }
}
