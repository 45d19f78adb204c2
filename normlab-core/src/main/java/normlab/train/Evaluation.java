package normlab.train;

/** Result of one evaluation pass: mean cross-entropy loss and top-1 accuracy over {@code n} examples. */
public record Evaluation(double loss, double accuracy, int n) {}
