package normlab.io;

import com.google.gson.JsonObject;
import java.util.List;
import java.util.function.Function;
import normlab.nn.Module;

/**
 * Everything the engine knows about one layer type besides its class and kernel, in one entry of {@link LayerSpecs}:
 * <ol>
 *   <li>its model-file type name, argument reader and builder ({@link LayerTypes} turns models into JSON and back);</li>
 *   <li>its ONNX emitter ({@link #onnx()}), written against the protobuf-free {@link OnnxWriter}, and the operator set
 *       it needs;</li>
 *   <li>its fold rule ({@link #producer()}) if a folded BatchNorm can go into it (normalizations that fold say so by
 *       implementing {@code normlab.norm.RunningStatsNorm});</li>
 *   <li>its use as the normalization of {@code normlab.models.SmallCnn} ({@link #cnn()}), with the label experiments
 *       show.</li>
 * </ol>
 * An entry is built by {@link LayerSpecs#leaf} or {@link LayerSpecs#container}, its optional facets added with
 * {@link #onnx(Emitter)} (or {@link #onnx(int, Emitter)} when it needs a later operator set),
 * {@link #producer(Producer)} and {@link #cnn(String, String, CnnFactory)} (each returns a new spec), and registered
 * once with {@link LayerSpecs#register}.
 *
 * @param minOpset the ai.onnx operator set its emitter needs beyond the exporter's base 17 (0: none)
 * @param onnx its ONNX emitter, or null
 * @param producer its fold rule, or null when a BatchNorm cannot fold into it
 * @param cnn its use in SmallCnn, or null
 */
public record LayerSpec<M extends Module>(String name, Class<M> layerClass, Function<M, JsonObject> args,
                                          Function<M, List<Module>> children, Builder builder, boolean isContainer,
                                          int minOpset, Emitter<M> onnx, Producer<M> producer, CnnUse cnn) {
    /** Builds a leaf from its arguments. */
    @FunctionalInterface
    public interface LeafBuilder {
        Module build(LayerTypes.Args args) throws ModelFileException;
    }

    /** Builds a module from its arguments and (for containers) its already-built children. */
    @FunctionalInterface
    public interface Builder {
        Module build(LayerTypes.Args args, List<Module> children) throws ModelFileException;
    }

    /**
     * Writes the layer's inference function reading the writer's current value and leaving its output current.
     * {@code name} prefixes its nodes (the layer's path); {@code out} is its output shape without the batch.
     */
    @FunctionalInterface
    public interface Emitter<M> {
        void emit(M layer, OnnxWriter g, String name, int[] out);
    }

    /** How a per-output-channel linear layer (Linear, Conv2d) absorbs a following y = k·x + s per channel. */
    public interface Producer<M> {
        /** Number of output channels (the length k and s must have). */
        int outChannels(M layer);

        /** A new layer (with a bias) equal to {@code layer} followed by y = k·x + s; {@code layer} is not modified. */
        M fold(M layer, double[] k, double[] s);
    }

    /** Builds the normalization for c channels of h×w. */
    @FunctionalInterface
    public interface CnnFactory {
        Module make(int c, int h, int w);
    }

    /** A layer type's use in SmallCnn: the constant's name ({@code BN}), the display label, and the factory. */
    public record CnnUse(String constant, String label, CnnFactory factory) {}

    /** The spec with an ONNX emitter that works at the exporter's base operator set (17). */
    public LayerSpec<M> onnx(Emitter<M> emitter) {
        return onnx(0, emitter);
    }

    /** The spec with an ONNX emitter; the layer needs ai.onnx operator set {@code minOpset} or later. */
    public LayerSpec<M> onnx(int minOpset, Emitter<M> emitter) {
        return new LayerSpec<>(name, layerClass, args, children, builder, isContainer, minOpset, emitter, producer, cnn);
    }

    /** The spec with the fold rule of a producer (a layer a BatchNorm after it can fold into). */
    public LayerSpec<M> producer(Producer<M> rule) {
        return new LayerSpec<>(name, layerClass, args, children, builder, isContainer, minOpset, onnx, rule, cnn);
    }

    /** The spec as a choice of SmallCnn's normalization: constant {@code constant}, shown as {@code label}. */
    public LayerSpec<M> cnn(String constant, String label, CnnFactory factory) {
        return new LayerSpec<>(name, layerClass, args, children, builder, isContainer, minOpset, onnx, producer,
                new CnnUse(constant, label, factory));
    }

    JsonObject argsOf(Module m) {
        return args.apply(layerClass.cast(m));
    }

    List<Module> childrenOf(Module m) {
        return children.apply(layerClass.cast(m));
    }

    /** Whether the type has an ONNX emitter. */
    public boolean hasOnnx() {
        return onnx != null;
    }

    /** Emits {@code layer} (of this type) into {@code g}; see {@link Emitter}. */
    public void emitOnnx(Module layer, OnnxWriter g, String name, int[] out) {
        if (onnx == null) throw new IllegalStateException(this.name + " has no ONNX emitter");
        onnx.emit(layerClass.cast(layer), g, name, out);
    }

    /** Whether a BatchNorm after a layer of this type can fold into it (the type has a fold rule). */
    public boolean isProducer() {
        return producer != null;
    }

    /** The output channels of {@code layer} (of this type, a producer). */
    public int outChannels(Module layer) {
        return producer.outChannels(layerClass.cast(layer));
    }

    /** {@code layer} (of this type, a producer) followed by y = k·x + s per output channel, as one new layer. */
    public Module fold(Module layer, double[] k, double[] s) {
        return producer.fold(layerClass.cast(layer), k, s);
    }
}
