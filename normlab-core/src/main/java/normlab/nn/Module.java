package normlab.nn;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * The module contract: {@code forward} computes the output and keeps what {@code backward} needs; {@code backward}
 * takes dL/dy of the last forward, accumulates parameter gradients and returns dL/dx.
 *
 * <p>State: parameters (value + gradient), buffers (running statistics, never touched by optimizers) and children.
 * {@link #stateDict()} names them as PyTorch does ({@code 0.weight}, {@code 1.running_mean},
 * {@code 1.num_batches_tracked}): own parameters, then own buffers, then each child under its name. Integer buffers
 * ({@code num_batches_tracked}) are 0-d float tensors here (exact to 2^24) and int64 in files.
 *
 * <p>Mode is explicit per-module state: {@link #train()} / {@link #eval()} set it on this module and its children. No
 * global flag exists.
 *
 * <p>Reused outputs: by default every forward and backward returns a fresh tensor. {@link #reuseOutputs(boolean)} lets
 * a module return the same tensors again on its next call of the same shape (no allocation, no zero-fill pass over
 * large activations), so a returned tensor is then valid only until that module's next forward or backward. Training
 * loops that consume each output within the step (the {@code Trainer}) turn it on; it is off unless asked for. (These
 * are not "buffers" in PyTorch's sense: buffers are the running statistics, {@link #namedBuffers()}.)
 *
 * <p>Why the name {@code Module}, which {@code java.lang.Module} shadows under {@code import normlab.nn.*}: it is the
 * word every PyTorch user reads in {@code state_dict} keys, docs and error messages, and wildcard imports of
 * {@code normlab.nn} are rare (single-type imports win over {@code java.lang}); the clash costs one explicit import,
 * a rename would cost every reader the mapping to PyTorch.
 */
public abstract class Module {
    private boolean training = true;
    private String path = "";
    private boolean reuse;
    private Tensor[] outputs = new Tensor[0];

    /** Checks once per module that the Vector API is available ({@link normlab.kernels.VectorApi#require}). */
    protected Module() {
        normlab.kernels.VectorApi.require();
    }

    /** Computes the output for {@code x}. */
    public abstract Tensor forward(Tensor x);

    /** Given dL/d(output of the last forward), accumulates parameter gradients and returns dL/d(input). */
    public abstract Tensor backward(Tensor gradOutput);

    /**
     * Accumulates parameter gradients for dL/d(output of the last forward) without computing dL/d(input): for the first
     * layer of a network, whose input needs no gradient (PyTorch skips it the same way for inputs that do not require
     * grad). Layers whose dx is costly (Linear, Conv2d) override it; containers pass it on to their first layer.
     */
    public void backwardParams(Tensor gradOutput) {
        backward(gradOutput);
    }

    /**
     * Sets whether this module and its children may return reused tensors (see the class comment). Turning it off
     * keeps the cached tensors (a later {@code true} picks them up again) but hands out fresh ones meanwhile.
     */
    public Module reuseOutputs(boolean on) {
        reuse = on;
        for (Module c : children().values()) c.reuseOutputs(on);
        return this;
    }

    public boolean reusesOutputs() {
        return reuse;
    }

    /**
     * Drops the tensors cached for reuse by this module and its children (they are rebuilt on the next call), e.g. after
     * an evaluation pass whose large batches would otherwise keep their activations alive with the model.
     */
    public void releaseOutputs() {
        outputs = new Tensor[0];
        for (Module c : children().values()) c.releaseOutputs();
    }

    /**
     * A tensor of {@code shape} for output slot {@code slot} (0 = forward output, 1 = dx, others as a layer likes):
     * fresh zeros, or, when {@link #reuseOutputs(boolean)} is on and the slot's last tensor has this shape, that tensor
     * with its old contents. Callers therefore write every element, never accumulate into it.
     */
    protected final Tensor outputTensor(int slot, int... shape) {
        if (!reuse) return Tensor.zeros(shape);
        if (slot >= outputs.length) outputs = Arrays.copyOf(outputs, slot + 1);
        Tensor t = outputs[slot];
        if (t == null || !t.hasShape(shape)) outputs[slot] = t = Tensor.zeros(shape);
        return t;
    }

    /** The cached output slots (tests look at them). */
    Tensor[] outputSlotsForTest() {
        return outputs.clone();
    }

    /** This module's own parameters, in PyTorch's registration order. */
    protected List<Parameter> ownParameters() {
        return List.of();
    }

    /** This module's own buffers by local name, in PyTorch's order. The tensors are live (not copies). */
    protected Map<String, Tensor> ownBuffers() {
        return Map.of();
    }

    /** Named children, in order. */
    public Map<String, Module> children() {
        return Map.of();
    }

    /** Puts this module (and its children) in training mode. */
    public Module train() {
        setTraining(true);
        return this;
    }

    /** Puts this module (and its children) in evaluation mode. */
    public Module eval() {
        setTraining(false);
        return this;
    }

    /** Sets the mode of this module and its children. */
    public void setTraining(boolean on) {
        training = on;
        for (Parameter p : ownParameters()) p.changed(); // eval() always starts from freshly derived weights
        for (Module c : children().values()) c.setTraining(on);
    }

    public boolean isTraining() {
        return training;
    }

    /** Position in the enclosing model ({@code "3"}, {@code "features.1"}); empty for a root. */
    public String path() {
        return path;
    }

    /** Sets this module's path and its children's (called by containers). */
    public void setPath(String p) {
        path = p;
        for (Map.Entry<String, Module> e : children().entrySet()) {
            e.getValue().setPath(p.isEmpty() ? e.getKey() : p + "." + e.getKey());
        }
    }

    /** Name for messages: class and path, e.g. {@code BatchNorm1d '1'}. */
    public String label() {
        return getClass().getSimpleName() + (path.isEmpty() ? "" : " '" + path + "'");
    }

    /** Every parameter of this module and its descendants, in state-dict order. */
    public List<Parameter> parameters() {
        List<Parameter> out = new ArrayList<>(ownParameters());
        for (Module c : children().values()) out.addAll(c.parameters());
        return out;
    }

    /** Every parameter with its full state-dict key. */
    public Map<String, Parameter> namedParameters() {
        Map<String, Parameter> out = new LinkedHashMap<>();
        collectParams("", out);
        return out;
    }

    private void collectParams(String prefix, Map<String, Parameter> out) {
        for (Parameter p : ownParameters()) out.put(prefix + p.name, p);
        for (Map.Entry<String, Module> e : children().entrySet()) e.getValue().collectParams(prefix + e.getKey() + ".", out);
    }

    /** Every buffer (running statistics, {@code num_batches_tracked}) with its full state-dict key; live tensors. */
    public Map<String, Tensor> namedBuffers() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        collectBuffers("", out);
        return out;
    }

    private void collectBuffers(String prefix, Map<String, Tensor> out) {
        for (Map.Entry<String, Tensor> b : ownBuffers().entrySet()) out.put(prefix + b.getKey(), b.getValue());
        for (Map.Entry<String, Module> e : children().entrySet()) e.getValue().collectBuffers(prefix + e.getKey() + ".", out);
    }

    /** Clears every gradient. */
    public void zeroGrad() {
        for (Parameter p : parameters()) p.zeroGrad();
    }

    /** Live tensors of every parameter and buffer by full key, in PyTorch's order. */
    public Map<String, Tensor> stateTensors() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        collectState("", out);
        return out;
    }

    private void collectState(String prefix, Map<String, Tensor> out) {
        for (Parameter p : ownParameters()) out.put(prefix + p.name, p.value);
        for (Map.Entry<String, Tensor> b : ownBuffers().entrySet()) out.put(prefix + b.getKey(), b.getValue());
        for (Map.Entry<String, Module> e : children().entrySet()) e.getValue().collectState(prefix + e.getKey() + ".", out);
    }

    /** A copy of every parameter and buffer by full key (PyTorch's {@code state_dict()}). */
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : stateTensors().entrySet()) out.put(e.getKey(), e.getValue().copy());
        return out;
    }

    /**
     * Loads values by full key (PyTorch's strict {@code load_state_dict}). Every problem — missing keys, unexpected
     * keys, shape mismatches — is reported at once in one {@link StateDictException}, and nothing is changed unless all
     * keys match.
     */
    public void loadStateDict(Map<String, Tensor> state) {
        Map<String, Tensor> mine = stateTensors();
        List<String> missing = new ArrayList<>();
        List<String> unexpected = new ArrayList<>();
        List<String> wrongShape = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : mine.entrySet()) {
            Tensor src = state.get(e.getKey());
            if (src == null) missing.add(e.getKey());
            else if (!src.sameShape(e.getValue())) {
                wrongShape.add(e.getKey() + ": checkpoint has " + src.shapeString() + ", model has " + e.getValue().shapeString());
            }
        }
        for (String k : state.keySet()) if (!mine.containsKey(k)) unexpected.add(k);
        if (!missing.isEmpty() || !unexpected.isEmpty() || !wrongShape.isEmpty()) {
            throw new StateDictException(label().isEmpty() ? getClass().getSimpleName() : label(), missing, unexpected, wrongShape);
        }
        for (Map.Entry<String, Tensor> e : mine.entrySet()) e.getValue().copyFrom(state.get(e.getKey()));
        for (Parameter p : parameters()) p.changed();
    }

    /** Throws a {@link ShapeException} naming this layer unless {@code x} has one of the given ranks. */
    protected void requireRank(Tensor x, int... ranks) {
        for (int r : ranks) if (x.rank() == r) return;
        throw new ShapeException(label() + ": expected input of rank " + (ranks.length == 1 ? String.valueOf(ranks[0])
                : Arrays.toString(ranks)) + ", got shape " + x.shapeString());
    }

    /** Throws a {@link ShapeException} naming this layer unless {@code x.dim(d) == size}. */
    protected void requireDim(Tensor x, int d, int size, String what) {
        if (x.dim(d) != size) {
            throw new ShapeException(label() + ": expected " + size + " " + what + " (dim " + d + ") in input of shape "
                    + x.shapeString() + ", got " + x.dim(d));
        }
    }

    /** Throws a {@link ShapeException} naming this layer unless {@code x}'s last dimensions equal {@code trailing}. */
    protected void requireTrailingShape(Tensor x, int[] trailing) {
        int k = trailing.length, r = x.rank();
        boolean ok = r >= k;
        for (int i = 0; ok && i < k; i++) ok = x.dim(r - k + i) == trailing[i];
        if (!ok) {
            throw new ShapeException(label() + ": expected input of shape [*, " + Arrays.toString(trailing).replaceAll("[\\[\\]]", "")
                    + "], got " + x.shapeString());
        }
    }

    /** Throws unless a forward has run since construction (so backward has something to differentiate). */
    protected static void requireForward(Object saved, Module m) {
        if (saved == null) throw new IllegalStateException(m.label() + ": backward called before forward");
    }

    /**
     * PyTorch-like tree of this module, from its layer spec's arguments ({@code normlab.io.LayerTypes.toText}), e.g.
     * {@code Sequential(\n  (0): Linear(in_features=784, out_features=100, bias=False)\n  ...\n)}; a module whose class
     * has no spec prints its class name.
     */
    @Override
    public String toString() {
        return normlab.io.LayerTypes.toText(this);
    }
}
