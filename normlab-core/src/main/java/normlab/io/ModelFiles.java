package normlab.io;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import normlab.nn.Module;
import normlab.tensor.Tensor;

/**
 * Model files: the weights as safetensors with PyTorch's state-dict keys ({@code 0.weight}, {@code 1.running_mean},
 * …) and, beside them, a JSON description of the architecture ({@code model.safetensors} + {@code model.json}), so
 * {@link #load} rebuilds the model with no code and PyTorch loads the same weights with {@code load_state_dict}.
 *
 * <p>The description is {@code {"format": "normlab-model", "version": 1, "model": <node>}} with nodes as in
 * {@link LayerTypes}. Loading checks, and reports as a {@link ModelFileException} naming the file: the safetensors
 * structure (header length, offsets inside the data, sizes matching shapes — {@link Safetensors#read}), the
 * description (known types, complete and well-typed arguments), dtypes (F32 for parameters and statistics, I64 or
 * I32 for {@code num_batches_tracked}), and that the keys and shapes are exactly the model's.
 *
 * <p>Checkpoints use the same files: {@link #save(Module, Path, Map, Map)} adds string metadata (epoch, step, …) and
 * extra tensors (optimizer state, …) stored under keys starting with {@value #EXTRA_PREFIX}, which
 * {@link #loadAll} returns apart from the model.
 */
public final class ModelFiles {
    /** Key prefix of non-model tensors in a checkpoint; no state-dict key contains '/'. */
    public static final String EXTRA_PREFIX = "extra/";
    public static final String FORMAT = "normlab-model";
    public static final int VERSION = 1;

    private ModelFiles() {}

    /** A loaded file: the model (in eval mode), the metadata strings and any extra tensors (prefix removed). */
    public record Loaded(Module model, Map<String, String> metadata, Map<String, Tensor> extra) {}

    /** The description file beside a weights file: {@code x.safetensors} → {@code x.json}. */
    public static Path descriptionPath(Path weights) {
        String name = weights.getFileName().toString();
        String stem = name.endsWith(".safetensors") ? name.substring(0, name.length() - ".safetensors".length()) : name;
        return weights.resolveSibling(stem + ".json");
    }

    /** Saves {@code model}'s weights to {@code weights} and its description beside it. */
    public static void save(Module model, Path weights) throws IOException {
        save(model, weights, Map.of(), Map.of());
    }

    /**
     * Saves a model with checkpoint metadata and extra tensors (keys stored as {@value #EXTRA_PREFIX}key). Both files
     * are written atomically; the description first, so a crash between them leaves old weights, never new weights
     * without their description.
     */
    public static void save(Module model, Path weights, Map<String, String> metadata, Map<String, Tensor> extra) throws IOException {
        JsonObject root = new JsonObject();
        root.addProperty("format", FORMAT);
        root.addProperty("version", VERSION);
        root.add("model", LayerTypes.describe(model));
        byte[] json = (new GsonBuilder().setPrettyPrinting().serializeNulls().create().toJson(root) + "\n").getBytes(StandardCharsets.UTF_8);
        Map<String, Tensor> tensors = new LinkedHashMap<>(model.stateTensors());
        for (Map.Entry<String, Tensor> e : extra.entrySet()) tensors.put(EXTRA_PREFIX + e.getKey(), e.getValue());
        Map<String, String> meta = new LinkedHashMap<>(metadata);
        meta.putIfAbsent("format", "pt"); // what PyTorch's own safetensors writer records
        AtomicFiles.write(descriptionPath(weights), json);
        Safetensors.write(weights, tensors, meta);
    }

    /** Loads a model saved by {@link #save} (or written by PyTorch in the same layout), in eval mode. */
    public static Module load(Path weights) throws IOException {
        return loadAll(weights).model();
    }

    /** Loads the model, its metadata and extra tensors. */
    public static Loaded loadAll(Path weights) throws IOException {
        // Name the file actually missing: the weights first, then their description.
        if (!Files.exists(weights)) throw new ModelFileException(weights + ": model weights not found");
        Module model = buildFromDescription(descriptionPath(weights));
        Map<String, Tensor> extra = new LinkedHashMap<>();
        Safetensors.Contents c = readWeights(model, weights, extra);
        model.eval();
        return new Loaded(model, c.metadata(), extra);
    }

    /** Loads weights into an existing model (resuming a checkpoint); returns the metadata and extra tensors. */
    public static Loaded loadInto(Module model, Path weights) throws IOException {
        Map<String, Tensor> extra = new LinkedHashMap<>();
        Safetensors.Contents c = readWeights(model, weights, extra);
        return new Loaded(model, c.metadata(), extra);
    }

    /** Reads a description file and builds its model (zero parameters, default buffers). */
    public static Module buildFromDescription(Path description) throws IOException {
        String text;
        try {
            text = Files.readString(description, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ModelFileException(description + ": model description not found (it is written beside the weights by ModelFiles.save)");
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new ModelFileException(description + ": not valid UTF-8 text (" + e + ")");
        }
        JsonElement root;
        try {
            root = JsonParser.parseString(text);
        } catch (RuntimeException e) {
            throw new ModelFileException(description + ": not valid JSON: " + e.getMessage());
        }
        if (!root.isJsonObject()) throw new ModelFileException(description + ": expected a JSON object");
        JsonObject o = root.getAsJsonObject();
        JsonElement f = o.get("format");
        if (f == null || !f.isJsonPrimitive() || !FORMAT.equals(f.getAsString())) {
            throw new ModelFileException(description + ": \"format\" must be \"" + FORMAT + "\", got " + f);
        }
        JsonElement v = o.get("version");
        if (v == null || !v.isJsonPrimitive() || !v.getAsJsonPrimitive().isNumber()
                || v.getAsJsonPrimitive().getAsBigDecimal().compareTo(java.math.BigDecimal.valueOf(VERSION)) != 0) {
            throw new ModelFileException(description + ": unsupported \"version\" " + v + " (this normlab reads version " + VERSION + ")");
        }
        try {
            return LayerTypes.build(o.get("model"), "model");
        } catch (ModelFileException e) {
            throw new ModelFileException(description + ": " + e.getMessage(), e);
        }
    }

    private static Safetensors.Contents readWeights(Module model, Path weights, Map<String, Tensor> extraOut) throws IOException {
        Safetensors.Contents c = Safetensors.read(weights);
        Map<String, String> dtypes = Safetensors.dtypes(weights);
        Map<String, Tensor> mine = model.stateTensors();
        Map<String, Tensor> state = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : c.tensors().entrySet()) {
            String k = e.getKey();
            if (k.startsWith(EXTRA_PREFIX)) {
                extraOut.put(k.substring(EXTRA_PREFIX.length()), e.getValue());
                continue;
            }
            String dt = dtypes.get(k);
            boolean counter = k.endsWith("num_batches_tracked");
            if (counter ? !(dt.equals("I64") || dt.equals("I32")) : !dt.equals("F32")) {
                problems.add("'" + k + "' has dtype " + dt + ", expected " + (counter ? "I64" : "F32"));
            }
            Tensor t = mine.get(k);
            if (t == null) problems.add("unexpected tensor '" + k + "' (the model has no such parameter or buffer)");
            else if (!t.sameShape(e.getValue())) {
                problems.add("'" + k + "' has shape " + e.getValue().shapeString() + ", the model expects " + t.shapeString());
            }
            state.put(k, e.getValue());
        }
        for (String k : mine.keySet()) if (!state.containsKey(k)) problems.add("missing tensor '" + k + "'");
        if (!problems.isEmpty()) {
            throw new ModelFileException(weights + ": does not match the model described in " + descriptionPath(weights).getFileName()
                    + ":\n  " + String.join("\n  ", problems));
        }
        model.loadStateDict(state);
        return c;
    }
}
