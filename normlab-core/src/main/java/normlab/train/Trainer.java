package normlab.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import normlab.data.Dataset;
import normlab.io.Safetensors;
import normlab.nn.CrossEntropyLoss;
import normlab.nn.Module;
import normlab.optim.Optimizer;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;

/**
 * Mini-batch training of a classifier with cross-entropy, as a plain loop built from small pieces:
 * {@link #step()} (one SGD step on the next shuffled batch), {@link #evaluate} (a pass over a dataset in evaluation
 * mode, with optional activation {@link Hooks}), {@link #fit} / {@link #fitEpochs} (steps or epochs, evaluating every
 * K steps), {@link #saveCheckpoint}
 * (the model's state dict as safetensors, written atomically).
 *
 * <p>One step: zero the gradients, {@code z = model(x)}, {@code L = CE(z, y)}, {@code model.backward(dL/dz)},
 * {@code optimizer.step()}. Inputs are (B, rows·cols) when {@code flatInputs}, else (B, 1, rows, cols).
 */
public final class Trainer {
    /** Batch size of evaluation passes (any size works: evaluation uses running statistics). */
    public static final int EVAL_BATCH = 1000;

    private final Module model;
    private final Optimizer optimizer;
    private final Dataset train;
    private final BatchSampler sampler;
    private final boolean flatInputs;
    private final CrossEntropyLoss loss = new CrossEntropyLoss();
    private int steps;

    /** What {@link #fit} reports. Both methods are optional. */
    public interface Listener {
        /** After each training step. */
        default void onStep(int step, float loss) {}

        /** After each evaluation; {@code trainLoss} is the mean training loss since the previous one. */
        default void onEval(int step, double trainLoss, Evaluation test) {}
    }

    /**
     * @param shuffle the random source of the batch order (seeded, so runs repeat exactly)
     */
    public Trainer(Module model, Optimizer optimizer, Dataset train, int batchSize, Rng shuffle, boolean flatInputs) {
        this.model = model;
        this.optimizer = optimizer;
        this.train = train;
        this.sampler = new BatchSampler(train.n, batchSize, shuffle);
        this.flatInputs = flatInputs;
    }

    /** One SGD step on the next mini-batch; returns its loss. Leaves the model in training mode. */
    public float step() {
        int[] idx = sampler.next();
        model.train();
        optimizer.zeroGrad();
        Tensor logits = model.forward(input(train, idx, flatInputs));
        float l = loss.forward(logits, train.labels(idx));
        model.backward(loss.backward());
        optimizer.step();
        steps++;
        return l;
    }

    /** The model being trained. */
    public Module model() {
        return model;
    }

    /** Steps taken so far. */
    public int steps() {
        return steps;
    }

    /** Completed passes over the training data. */
    public long epoch() {
        return sampler.epoch();
    }

    /**
     * Runs {@code n} steps; after every {@code evalEvery}-th step (and after the last) evaluates on {@code test} with
     * {@code hooks}. Returns the last evaluation.
     */
    public Evaluation fit(int n, int evalEvery, Dataset test, Hooks hooks, Listener listener) {
        if (n <= 0) throw new IllegalArgumentException("fit: steps must be positive, got " + n);
        if (evalEvery <= 0) throw new IllegalArgumentException("fit: evalEvery must be positive, got " + evalEvery);
        Evaluation last = null;
        double lossSum = 0;
        int lossCount = 0;
        for (int i = 1; i <= n; i++) {
            float l = step();
            lossSum += l;
            lossCount++;
            listener.onStep(steps, l);
            if (i % evalEvery == 0 || i == n) {
                last = evaluate(model, test, flatInputs, hooks);
                listener.onEval(steps, lossSum / lossCount, last);
                lossSum = 0;
                lossCount = 0;
            }
        }
        return last;
    }

    /** {@link #fit} for {@code epochs} passes over the training data ({@code ⌊n / batch⌋} steps each). */
    public Evaluation fitEpochs(int epochs, int evalEvery, Dataset test, Hooks hooks, Listener listener) {
        return fit(BatchSampler.stepsForEpochs(train.n, sampler.batchSize(), epochs), evalEvery, test, hooks, listener);
    }

    /**
     * Mean loss and accuracy of {@code model} on {@code data} in evaluation mode (running statistics), in batches of
     * {@link #EVAL_BATCH}; hooks (may be null) see every batch. The model's previous mode is restored.
     */
    public static Evaluation evaluate(Module model, Dataset data, boolean flatInputs, Hooks hooks) {
        boolean wasTraining = model.isTraining();
        model.eval();
        CrossEntropyLoss ce = new CrossEntropyLoss();
        double lossSum = 0;
        int correct = 0;
        try {
            for (int from = 0; from < data.n; from += EVAL_BATCH) {
                int[] idx = Dataset.range(from, Math.min(data.n, from + EVAL_BATCH));
                Tensor x = input(data, idx, flatInputs);
                Tensor z = hooks == null ? model.forward(x) : hooks.forward(model, x);
                int[] y = data.labels(idx);
                lossSum += (double) ce.forward(z, y) * idx.length;
                correct += countCorrect(z, y);
            }
        } finally {
            model.setTraining(wasTraining);
        }
        return new Evaluation(lossSum / data.n, (double) correct / data.n, data.n);
    }

    /** Rows of {@code logits} whose largest entry (first on ties) is at the label. */
    public static int countCorrect(Tensor logits, int[] labels) {
        int n = logits.dim(0), k = logits.dim(1), correct = 0;
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int j = 1; j < k; j++) if (logits.data[i * k + j] > logits.data[i * k + best]) best = j;
            if (best == labels[i]) correct++;
        }
        return correct;
    }

    private static Tensor input(Dataset d, int[] idx, boolean flat) {
        return flat ? d.batchFlat(idx) : d.batch(idx);
    }

    /** Writes the model's state dict (PyTorch keys) to {@code file} as safetensors, atomically. */
    public void saveCheckpoint(Path file, Map<String, String> metadata) throws IOException {
        Safetensors.write(file, model.stateDict(), metadata);
    }
}
