package normlab.io;

import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import normlab.nn.Module;
import normlab.tensor.Tensor;

/**
 * What a layer's ONNX emitter (see {@link LayerSpec}) writes to: one ONNX graph, built step by step, with a current
 * value — the name and shape of the tensor the next layer reads. Shapes exclude the batch dimension. The engine knows
 * only this interface; {@code normlab-onnx} implements it with protobuf, so the core does not depend on protobuf.
 *
 * <p>Names are unique: an initializer takes the name asked for (a state-dict key, see {@link #key}) or that name with
 * a numeric suffix; a node is named by the layer's name plus the operator ({@code 1/BatchNormalization}).
 */
public interface OnnxWriter {
    /** The ai.onnx operator set the graph is written for (some operators changed signature across sets). */
    int opset();

    /** Name of the current value (the output of the last node emitted). */
    String value();

    /** Shape of the current value without the batch dimension. */
    int[] shape();

    /** Makes {@code name}/{@code shape} the current value (after the node that produces it was added). */
    void setValue(String name, int[] shapeWithoutBatch);

    /** Adds a float32 initializer with the tensor's shape and values; returns its (unique) name. */
    default String floats(String name, Tensor t) {
        return floats(name, t.data, t.shape());
    }

    /** Adds a float32 initializer of shape {@code dims} holding {@code values} (row-major); returns its name. */
    String floats(String name, float[] values, int... dims);

    /** Adds a 1-d int64 initializer (shapes, axes); returns its name. */
    String int64s(String name, long... values);

    /**
     * Adds a node {@code opType(inputs) -> output} named {@code nodeName} with the given attributes; returns the name
     * of its single output value. An empty input name marks an omitted optional input.
     */
    String node(String opType, String nodeName, List<String> inputs, Attr... attrs);

    /** Adds a node whose first input is the current value, and makes its output current with shape {@code outShape}. */
    void apply(String opType, String nodeName, int[] outShape, List<String> extraInputs, Attr... attrs);

    /** A node attribute: an int64 ({@link #attr(String, long)}), a float ({@link #attr(String, float)}) or int64s. */
    record Attr(String name, Kind kind, long i, float f, int[] ints) {
        public enum Kind { INT, FLOAT, INTS }
    }

    static Attr attr(String name, long i) {
        return new Attr(name, Attr.Kind.INT, i, 0f, null);
    }

    static Attr attr(String name, float f) {
        return new Attr(name, Attr.Kind.FLOAT, 0L, f, null);
    }

    static Attr attrInts(String name, int... v) {
        return new Attr(name, Attr.Kind.INTS, 0L, 0f, v.clone());
    }

    /** State-dict key of a layer's tensor ({@code 1.running_mean}); the bare name for a root layer. */
    static String key(Module m, String local) {
        return m.path().isEmpty() ? local : m.path() + "." + local;
    }

    /** Adds the layer's {@code local} tensor as an initializer, or {@code fill} repeated {@code n} times when it is null. */
    default String floatsOr(Module m, String local, Tensor t, float fill, int n) {
        if (t != null) return floats(key(m, local), t);
        float[] a = new float[n];
        Arrays.fill(a, fill);
        return floats(key(m, local), a, n);
    }

    /**
     * Runs {@code op} on a channels-first value. ONNX normalizations take channels at dim 1, so a channels-last layer
     * (N, *, C) gets a Transpose to (N, C, *) before and one back after; {@code op} receives the channels-first shape.
     */
    default void channelsFirst(String name, int[] out, boolean channelsLast, Consumer<int[]> op) {
        int rank = out.length + 1;
        if (!channelsLast || rank <= 2) {
            op.accept(out);
            return;
        }
        int[] toFirst = new int[rank], toLast = new int[rank];
        toFirst[1] = rank - 1;
        for (int i = 2; i < rank; i++) toFirst[i] = i - 1;
        for (int i = 0; i < rank; i++) toLast[toFirst[i]] = i;
        int[] cf = new int[out.length];
        for (int i = 0; i < out.length; i++) cf[i] = out[toFirst[i + 1] - 1];
        apply("Transpose", name, cf, List.of(), attrInts("perm", toFirst));
        op.accept(cf);
        apply("Transpose", name, out, List.of(), attrInts("perm", toLast));
    }
}
