package normlab.spark;

import com.google.gson.JsonParser;
import java.io.Serializable;
import normlab.io.LayerTypes;
import normlab.io.ModelFileException;
import normlab.io.Safetensors;
import normlab.nn.Module;

/**
 * A model as Spark ships it to executors: its description (the model file's JSON) and its state as safetensors bytes,
 * the same two parts a saved model has. {@link #build()} rebuilds an identical model (same structure, same bits).
 */
public record ModelSnapshot(String description, byte[] state) implements Serializable {
    /** The snapshot of {@code model} as it is now. */
    public static ModelSnapshot of(Module model) {
        return new ModelSnapshot(LayerTypes.describe(model).toString(), Safetensors.encode(model.stateDict(), java.util.Map.of()));
    }

    /** A new model equal to the one snapshotted. */
    public Module build() {
        try {
            Module m = LayerTypes.build(JsonParser.parseString(description), "model snapshot");
            m.loadStateDict(Safetensors.decode(state, "model snapshot", false).tensors());
            return m;
        } catch (ModelFileException e) {
            throw new IllegalStateException("model snapshot: cannot rebuild: " + e.getMessage(), e);
        }
    }
}
