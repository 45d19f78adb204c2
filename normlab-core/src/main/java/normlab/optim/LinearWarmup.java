package normlab.optim;

/**
 * Linear learning-rate warm-up (Goyal et al. 2017; the schedule Xiong et al. 2020 find post-LN Transformers need): the
 * rate of the step that has {@code step} steps before it is
 * <pre>
 *   lr(step) = base · min(1, (step + 1)/W)      (W = 0: base from the start)
 * </pre>
 * so the first step uses base/W and step W − 1 onwards the full rate. Apply it before each step, e.g. from a
 * {@code Trainer.Listener}'s {@code beforeStep}: {@code adam.setLr(warmup.lr(stepsDone))}.
 */
public record LinearWarmup(double base, int steps) {
    public LinearWarmup {
        if (!(base >= 0)) throw new IllegalArgumentException("LinearWarmup: base learning rate must be >= 0, got " + base);
        if (steps < 0) throw new IllegalArgumentException("LinearWarmup: warm-up steps must be >= 0, got " + steps);
    }

    /** The learning rate of the step with {@code step} steps before it. */
    public double lr(long step) {
        if (step < 0) throw new IllegalArgumentException("LinearWarmup: step must be >= 0, got " + step);
        return steps == 0 ? base : base * Math.min(1.0, (step + 1.0) / steps);
    }
}
