package normlab.train;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.tensor.Tensor;

/**
 * Activation hooks: callbacks that see the input of chosen layers during a forward pass, e.g. to record the
 * distribution of the pre-activation of one sigmoid (the paper's Figure 1b/c). Hooks are registered per layer
 * instance; {@link #forward} runs the model layer by layer (descending into {@link Sequential}s) and calls a layer's
 * hooks just before it runs. The model itself is unchanged, so its state-dict keys stay PyTorch's.
 *
 * <p>The tensor a hook receives may be a layer's reused output buffer ({@link Trainer#evaluate} runs that way), so it is
 * valid only during the call: a hook copies what it keeps.
 */
public final class Hooks {
    private final Map<Module, List<Consumer<Tensor>>> onInput = new IdentityHashMap<>();

    /** Calls {@code fn} with the input of {@code layer} on every {@link #forward}. */
    public Hooks onInput(Module layer, Consumer<Tensor> fn) {
        onInput.computeIfAbsent(layer, k -> new ArrayList<>()).add(fn);
        return this;
    }

    /** True when no hook is registered. */
    public boolean isEmpty() {
        return onInput.isEmpty();
    }

    /** {@code model.forward(x)}, calling the registered hooks on the way. */
    public Tensor forward(Module model, Tensor x) {
        List<Consumer<Tensor>> hs = onInput.get(model);
        if (hs != null) for (Consumer<Tensor> h : hs) h.accept(x);
        if (model instanceof Sequential seq) {
            for (Module layer : seq.layers()) x = forward(layer, x);
            return x;
        }
        return model.forward(x);
    }
}
