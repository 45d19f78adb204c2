package normlab.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import normlab.data.Dataset;
import normlab.io.Safetensors;
import normlab.kernels.Elementwise;
import normlab.nn.CrossEntropyLoss;
import normlab.nn.Loss;
import normlab.data.TensorDataset;
import normlab.nn.Module;
import normlab.optim.Optimizer;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;

/**
 * Mini-batch training of a classifier with cross-entropy (or, from a {@link TensorDataset}, of any model with any
 * {@link Loss}), as a plain loop built from small pieces:
 * {@link #step()} (one SGD step on the next shuffled batch), {@link #evaluate} (a pass over a dataset in evaluation
 * mode, with optional activation {@link Hooks}), {@link #fit} / {@link #fitEpochs} (steps or epochs, evaluating every
 * K steps, reporting to a {@link Listener} that may stop the run early), {@link #saveCheckpoint}
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
    private final TensorDataset tensors; // the plain-tensor training set, or null for an image Dataset
    private final Loss tensorLoss;
    private int steps;
    private NonFinitePolicy nonFinite = NonFinitePolicy.STOP;
    private int skipped;

    /**
     * What a step does when the loss or a gradient is NaN or infinite (layers propagate such values as PyTorch does;
     * the trainer is where they are caught). Checked before the optimizer step, so the weights never take a bad update.
     */
    public enum NonFinitePolicy {
        /** Throw {@link NonFiniteException} naming the step and where it appeared (default). */
        STOP,
        /** Skip the update (count it in {@link #skippedSteps()}) and go on with the next batch. */
        SKIP,
        /** Apply the update anyway (PyTorch's behaviour without a check). */
        IGNORE
    }

    /** Sets the non-finite policy; returns this. */
    public Trainer onNonFinite(NonFinitePolicy policy) {
        this.nonFinite = java.util.Objects.requireNonNull(policy, "policy");
        return this;
    }

    /** Updates skipped under {@link NonFinitePolicy#SKIP}. */
    public int skippedSteps() {
        return skipped;
    }

    /**
     * What {@link #fit} reports, and how a listener steers it: every method is optional, and a listener that overrides
     * none leaves {@code fit} as it always was.
     */
    public interface Listener {
        /**
         * Before each training step, with its batch ({@code batch} are indices into the training set; the listener must
         * not change them). {@code stepsDone} steps were taken before this one.
         */
        default void beforeStep(int stepsDone, int[] batch) {}

        /** After each training step. */
        default void onStep(int step, float loss) {}

        /** After each evaluation; {@code trainLoss} is the mean training loss since the previous one. */
        default void onEval(int step, double trainLoss, Evaluation test) {}

        /** Asked after each step (after {@link #onStep} and any evaluation): true ends {@code fit} there (early stop). */
        default boolean stop() {
            return false;
        }

        /**
         * A step met a non-finite value under {@link NonFinitePolicy#STOP}: the update was not applied and the buffers
         * were restored. The default throws {@code e} out of {@code fit}; a listener that returns instead ends {@code fit}
         * cleanly there (e.g. to record the run as diverged), with the model of the last good step.
         */
        default void onNonFinite(NonFiniteException e) {
            throw e;
        }
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
        this.tensors = null;
        this.tensorLoss = null;
    }

    /**
     * Training on plain tensors with any loss: each step feeds the rows of {@code train.inputs} of its batch to the
     * model as they are (e.g. (B, features)) and the same rows of {@code train.targets} to {@code loss} (e.g.
     * {@link normlab.nn.MSELoss} with targets of the output's shape, or {@link CrossEntropyLoss} with class indices).
     * {@link #fit} then takes no image test set: pass null and evaluate with {@link #evaluate(Module, TensorDataset, Loss)}.
     *
     * @param shuffle the random source of the batch order (seeded, so runs repeat exactly)
     */
    public Trainer(Module model, Optimizer optimizer, TensorDataset train, Loss loss, int batchSize, Rng shuffle) {
        this.model = java.util.Objects.requireNonNull(model, "model");
        this.optimizer = java.util.Objects.requireNonNull(optimizer, "optimizer");
        this.train = null;
        this.tensors = java.util.Objects.requireNonNull(train, "train");
        this.tensorLoss = java.util.Objects.requireNonNull(loss, "loss");
        this.sampler = new BatchSampler(train.n, batchSize, shuffle);
        this.flatInputs = true;
    }

    /**
     * Mean of {@code loss} over {@code data} (in batches of {@link #EVAL_BATCH}, weighted by batch size) in evaluation
     * mode; the model's previous mode is restored.
     */
    public static double evaluate(Module model, TensorDataset data, Loss loss) {
        boolean wasTraining = model.isTraining();
        model.eval();
        try {
            double sum = 0;
            for (int from = 0; from < data.n; from += EVAL_BATCH) {
                int[] idx = Dataset.range(from, Math.min(data.n, from + EVAL_BATCH));
                sum += (double) loss.forward(model.forward(data.inputs(idx)), data.targets(idx)) * idx.length;
            }
            return sum / data.n;
        } finally {
            if (wasTraining) model.train();
        }
    }

    /**
     * One SGD step on the next mini-batch; returns its loss. Leaves the model in training mode. During the step the
     * model reuses its output buffers ({@link Module#reuseOutputs}): every activation is consumed within the step. The
     * first layer's input gradient is not computed ({@link Module#backwardParams}).
     */
    public float step() {
        return stepOn(sampler.next());
    }

    /** {@link #step()} on the batch {@code idx} (drawn from the sampler by the caller). */
    private float stepOn(int[] idx) {
        model.train();
        boolean reused = model.reusesOutputs();
        model.reuseOutputs(true);
        try {
            return step(idx);
        } finally {
            if (!reused) model.reuseOutputs(false);
        }
    }

    private float step(int[] idx) {
        optimizer.zeroGrad();
        // Buffers (running statistics) change during forward: keep a copy so a rejected step leaves them as they were.
        Map<String, Tensor> buffers = nonFinite == NonFinitePolicy.IGNORE ? null : bufferCopies();
        float l;
        if (tensors != null) {
            l = tensorLoss.forward(model.forward(tensors.inputs(idx)), tensors.targets(idx));
            model.backwardParams(tensorLoss.backward());
        } else {
            batch = train.batchFlat(idx, batch);
            Tensor logits = model.forward(flatInputs ? batch : batch.view(idx.length, 1, train.rows, train.cols));
            l = loss.forward(logits, train.labels(idx));
            model.backwardParams(loss.backward());
        }
        if (nonFinite != NonFinitePolicy.IGNORE) {
            String[] bad = firstNonFinite(l);
            if (bad != null) {
                Map<String, Tensor> live = model.stateTensors();
                for (Map.Entry<String, Tensor> e : buffers.entrySet()) live.get(e.getKey()).copyFrom(e.getValue());
                if (nonFinite == NonFinitePolicy.STOP) throw new NonFiniteException(steps + 1, bad[0], bad[1]);
                skipped++;
                steps++;
                return l;
            }
        }
        optimizer.step();
        steps++;
        return l;
    }

    /** Copies of the model's buffers (state tensors that are not parameters), into tensors reused from step to step. */
    private Map<String, Tensor> bufferCopies() {
        if (savedBuffers == null) {
            savedBuffers = new java.util.LinkedHashMap<>(model.stateTensors());
            savedBuffers.keySet().removeAll(model.namedParameters().keySet());
            savedBuffers.replaceAll((k, t) -> t.copy());
            liveBuffers = model.stateTensors();
            liveBuffers.keySet().retainAll(savedBuffers.keySet());
        } else {
            for (Map.Entry<String, Tensor> e : liveBuffers.entrySet()) savedBuffers.get(e.getKey()).copyFrom(e.getValue());
        }
        return savedBuffers;
    }

    private Map<String, Tensor> savedBuffers, liveBuffers;
    private Tensor batch; // the training batch (B, features), rewritten each step

    /** {where, detail} of the first non-finite value: the loss, else parameters and gradients in state-dict order. */
    private String[] firstNonFinite(float l) {
        if (!Float.isFinite(l)) return new String[] {"loss", "loss is " + l};
        boolean all = true;
        for (normlab.nn.Parameter p : model.parameters()) {
            all &= Elementwise.allFinite(p.value.data, p.value.data.length) && Elementwise.allFinite(p.grad.data, p.grad.data.length);
        }
        if (all) return null; // the common case, in one vectorized pass; the scan below names the culprit
        for (Map.Entry<String, normlab.nn.Parameter> e : model.namedParameters().entrySet()) {
            for (Tensor t : new Tensor[] {e.getValue().value, e.getValue().grad}) {
                float[] d = t.data;
                for (int i = 0; i < d.length; i++) {
                    if (!Float.isFinite(d[i])) {
                        String what = t == e.getValue().grad ? " (gradient)" : " (value)";
                        return new String[] {e.getKey() + what, d[i] + " at flat index " + i + " of shape " + t.shapeString()};
                    }
                }
            }
        }
        return null;
    }

    /** The model being trained. */
    public Module model() {
        return model;
    }

    /** Steps taken so far. */
    public int steps() {
        return steps;
    }

    /** The optimizer (its state goes into checkpoints). */
    public Optimizer optimizer() {
        return optimizer;
    }

    BatchSampler sampler() {
        return sampler;
    }

    /** Sets the step count when resuming from a checkpoint ({@link Checkpoints}). */
    void restoreSteps(int s) {
        steps = s;
    }

    /** Completed passes over the training data. */
    public long epoch() {
        return sampler.epoch();
    }

    /**
     * Runs {@code n} steps; after every {@code evalEvery}-th step (and after the last) evaluates on {@code test} with
     * {@code hooks}, unless {@code test} is null. Returns the last evaluation (null if none). The listener sees every
     * step and evaluation and may end the run early ({@link Listener#stop}, {@link Listener#onNonFinite}).
     */
    public Evaluation fit(int n, int evalEvery, Dataset test, Hooks hooks, Listener listener) {
        if (n <= 0) throw new IllegalArgumentException("fit: steps must be positive, got " + n);
        if (evalEvery <= 0) throw new IllegalArgumentException("fit: evalEvery must be positive, got " + evalEvery);
        Evaluation last = null;
        double lossSum = 0;
        int lossCount = 0;
        for (int i = 1; i <= n; i++) {
            int[] idx = sampler.next();
            listener.beforeStep(steps, idx);
            float l;
            try {
                l = stepOn(idx);
            } catch (NonFiniteException e) {
                listener.onNonFinite(e);
                break;
            }
            lossSum += l;
            lossCount++;
            listener.onStep(steps, l);
            if (test != null && (i % evalEvery == 0 || i == n)) {
                last = evaluate(model, test, flatInputs, hooks);
                listener.onEval(steps, lossSum / lossCount, last);
                lossSum = 0;
                lossCount = 0;
            }
            if (listener.stop()) break;
        }
        model.releaseOutputs(); // the step's activations are not needed after the run (and rebuilt if it goes on)
        return last;
    }

    /** {@link #fit} for {@code epochs} passes over the training data ({@code ⌊n / batch⌋} steps each). */
    public Evaluation fitEpochs(int epochs, int evalEvery, Dataset test, Hooks hooks, Listener listener) {
        return fit(BatchSampler.stepsForEpochs(train != null ? train.n : tensors.n, sampler.batchSize(), epochs), evalEvery, test, hooks, listener);
    }

    /**
     * Mean loss and accuracy of {@code model} on {@code data} in evaluation mode (running statistics), in batches of
     * {@link #EVAL_BATCH}; hooks (may be null) see every batch. The model's previous mode is restored.
     */
    public static Evaluation evaluate(Module model, Dataset data, boolean flatInputs, Hooks hooks) {
        return evaluate(model, data, flatInputs, hooks, EVAL_BATCH);
    }

    /**
     * {@link #evaluate(Module, Dataset, boolean, Hooks)} in batches of {@code batchSize}: the layers keep what their last
     * forward saved for a backward, so a smaller last batch is less memory held by a model that lives on.
     *
     * <p>Each batch runs in the layers' reused output buffers (no allocation and zero-fill of every activation per
     * batch); a hook's tensor is therefore valid only during its call. Afterwards the buffer setting is restored and,
     * unless the model was reusing buffers already, the pass's buffers are dropped, so the model holds no
     * evaluation-sized activations.
     */
    public static Evaluation evaluate(Module model, Dataset data, boolean flatInputs, Hooks hooks, int batchSize) {
        if (batchSize <= 0) throw new IllegalArgumentException("evaluate: batch size must be positive, got " + batchSize);
        boolean wasTraining = model.isTraining(), wasReusing = model.reusesOutputs();
        model.eval();
        model.reuseOutputs(true);
        CrossEntropyLoss ce = new CrossEntropyLoss();
        Tensor batch = null;
        double lossSum = 0;
        int correct = 0;
        try {
            for (int from = 0; from < data.n; from += batchSize) {
                int[] idx = Dataset.range(from, Math.min(data.n, from + batchSize));
                batch = data.batchFlat(idx, batch); // one buffer for every batch of the pass
                Tensor x = flatInputs ? batch : batch.view(idx.length, 1, data.rows, data.cols);
                Tensor z = hooks == null ? model.forward(x) : hooks.forward(model, x);
                int[] y = data.labels(idx);
                lossSum += (double) ce.forward(z, y) * idx.length;
                correct += countCorrect(z, y);
            }
        } finally {
            model.setTraining(wasTraining);
            model.reuseOutputs(wasReusing);
            if (!wasReusing) model.releaseOutputs();
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

    /**
     * Writes a complete, resumable checkpoint ({@link Checkpoints#save}): the model as a model file (safetensors with
     * PyTorch keys + its JSON description, so {@code normlab fold}/{@code export} open it), optimizer, sampler and
     * generator state; atomically and checksummed.
     */
    public void saveCheckpoint(Path file, Map<String, String> metadata) throws IOException {
        Checkpoints.save(file, this, metadata);
    }
}
