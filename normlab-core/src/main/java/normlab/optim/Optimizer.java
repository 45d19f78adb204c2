package normlab.optim;

import java.util.List;
import java.util.Map;
import normlab.nn.Parameter;
import normlab.tensor.Tensor;

/** Updates parameters from their accumulated gradients. */
public interface Optimizer {
    /** Applies one update to every parameter. */
    void step();

    /** The parameters this optimizer updates. */
    List<Parameter> parameters();

    /** Clears every gradient. */
    default void zeroGrad() {
        for (Parameter p : parameters()) p.zeroGrad();
    }

    /**
     * The optimizer's own state (momentum buffers, step counts) as copies by name, e.g. {@code momentum_buffer.3}
     * for parameter 3: what a checkpoint needs so that training resumes bit for bit.
     */
    Map<String, Tensor> state();

    /** Restores {@link #state()}; every key must be present with its shape, else IllegalArgumentException naming it. */
    void loadState(Map<String, Tensor> state);

    /** Adds {@code arrays[i]} as {@code name.i} (null entries skipped). */
    static void putBuffers(Map<String, Tensor> out, String name, float[][] arrays) {
        for (int i = 0; i < arrays.length; i++) {
            if (arrays[i] != null) out.put(name + "." + i, Tensor.of(arrays[i].clone(), arrays[i].length));
        }
    }

    /** Copies {@code name.i} from {@code state} into {@code arrays[i]} (null entries skipped), checking presence and size. */
    static void loadBuffers(Map<String, Tensor> state, String owner, String name, float[][] arrays) {
        for (int i = 0; i < arrays.length; i++) {
            if (arrays[i] == null) continue;
            Tensor t = require(state, owner, name + "." + i);
            if (t.numel() != arrays[i].length) {
                throw new IllegalArgumentException(owner + ": optimizer state '" + name + "." + i + "' has " + t.numel()
                        + " values, expected " + arrays[i].length);
            }
            System.arraycopy(t.data, 0, arrays[i], 0, arrays[i].length);
        }
    }

    /** {@code state.get(key)}, or IllegalArgumentException naming the key. */
    static Tensor require(Map<String, Tensor> state, String owner, String key) {
        Tensor t = state.get(key);
        if (t == null) throw new IllegalArgumentException(owner + ": optimizer state lacks '" + key + "' (have " + state.keySet() + ")");
        return t;
    }
}
