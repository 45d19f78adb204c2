package normlab.io.onnx;

import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import normlab.io.OnnxWriter;
import normlab.io.onnx.proto.Onnx;

/**
 * Builds one ONNX graph step by step: nodes in topological order (the order they are added), initializers (constant
 * tensors, float32 or int64, stored in {@code raw_data} little-endian as the IR asks), and the current value — the
 * name and shape of the tensor the next layer reads. Shapes here exclude the batch dimension, which is symbolic
 * ({@code "N"}) in the exported model so any batch size runs.
 *
 * <p>Every name is unique: initializers take the model's state-dict key ({@code 0.weight}), intermediate values and
 * nodes the layer's path plus the operator ({@code 1/BatchNormalization}); a clash gets a numeric suffix.
 */
final class OnnxGraph implements OnnxWriter {
    /** Name of the symbolic batch dimension in the graph's input and output. */
    static final String BATCH = "N";

    private final Onnx.GraphProto.Builder graph = Onnx.GraphProto.newBuilder();
    private final Set<String> names = new HashSet<>();
    private final int opset;
    private String value;
    private int[] shape;

    OnnxGraph(String inputName, int[] inputShape, int opset) {
        this.opset = opset;
        names.add(inputName);
        graph.addInput(valueInfo(inputName, inputShape));
        value = inputName;
        shape = inputShape.clone();
    }

    /** The ai.onnx operator set the graph is written for (some operators changed signature across sets). */
    @Override
    public int opset() {
        return opset;
    }

    /** Name of the current value (the output of the last layer emitted). */
    @Override
    public String value() {
        return value;
    }

    /** Shape of the current value without the batch dimension. */
    @Override
    public int[] shape() {
        return shape.clone();
    }

    /** Makes {@code name}/{@code shape} the current value (after the node that produces it was added). */
    @Override
    public void setValue(String name, int[] shapeWithoutBatch) {
        value = name;
        shape = shapeWithoutBatch.clone();
    }

    /** A fresh name starting with {@code base}. */
    String fresh(String base) {
        String n = base;
        for (int i = 1; !names.add(n); i++) n = base + "_" + i;
        return n;
    }

    /** Adds a float32 initializer of shape {@code dims} holding {@code values} (row-major); returns its name. */
    @Override
    public String floats(String name, float[] values, int... dims) {
        String n = fresh(name);
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) b.putFloat(v);
        Onnx.TensorProto.Builder t = Onnx.TensorProto.newBuilder().setName(n)
                .setDataType(Onnx.TensorProto.DataType.FLOAT_VALUE).setRawData(ByteString.copyFrom(b.array()));
        for (int d : dims) t.addDims(d);
        graph.addInitializer(t);
        return n;
    }

    /** Adds a 1-d int64 initializer (shapes, axes); returns its name. */
    @Override
    public String int64s(String name, long... values) {
        String n = fresh(name);
        ByteBuffer b = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) b.putLong(v);
        graph.addInitializer(Onnx.TensorProto.newBuilder().setName(n).addDims(values.length)
                .setDataType(Onnx.TensorProto.DataType.INT64_VALUE).setRawData(ByteString.copyFrom(b.array())));
        return n;
    }

    /**
     * Adds a node {@code opType(inputs) -> output} named {@code nodeName} with the given attributes; returns the name
     * of its single output value. An empty input name marks an omitted optional input.
     */
    @Override
    public String node(String opType, String nodeName, List<String> inputs, Attr... attrs) {
        String n = fresh(nodeName + "/" + opType);
        String out = fresh(nodeName + "/" + opType + ":0");
        Onnx.NodeProto.Builder b = Onnx.NodeProto.newBuilder().setOpType(opType).setName(n).addOutput(out);
        b.addAllInput(inputs);
        for (Attr a : attrs) b.addAttribute(proto(a));
        graph.addNode(b);
        return out;
    }

    /** Adds a node whose first input is the current value, and makes its output current with shape {@code outShape}. */
    @Override
    public void apply(String opType, String nodeName, int[] outShape, List<String> extraInputs, Attr... attrs) {
        List<String> in = new ArrayList<>();
        in.add(value);
        in.addAll(extraInputs);
        setValue(node(opType, nodeName, in, attrs), outShape);
    }

    /** Names the current value as the graph's output {@code name} (an Identity node gives it that name). */
    void finish(String name) {
        String out = fresh(name);
        graph.addNode(Onnx.NodeProto.newBuilder().setOpType("Identity").setName(fresh("output/Identity"))
                .addInput(value).addOutput(out));
        graph.addOutput(valueInfo(out, shape));
        value = out;
    }

    Onnx.GraphProto build(String graphName) {
        return graph.setName(graphName).build();
    }

    /** A float32 tensor type (N, d1, d2, …) with the batch dimension symbolic. */
    private static Onnx.ValueInfoProto valueInfo(String name, int[] shapeWithoutBatch) {
        Onnx.TensorShapeProto.Builder s = Onnx.TensorShapeProto.newBuilder();
        s.addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimParam(BATCH));
        for (int d : shapeWithoutBatch) s.addDim(Onnx.TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        Onnx.TypeProto type = Onnx.TypeProto.newBuilder().setTensorType(Onnx.TypeProto.Tensor.newBuilder()
                .setElemType(Onnx.TensorProto.DataType.FLOAT_VALUE).setShape(s)).build();
        return Onnx.ValueInfoProto.newBuilder().setName(name).setType(type).build();
    }

    /** The protobuf form of an attribute; the type discriminator must be set (IR version ≥ 2). */
    private static Onnx.AttributeProto proto(Attr a) {
        Onnx.AttributeProto.Builder b = Onnx.AttributeProto.newBuilder().setName(a.name());
        switch (a.kind()) {
            case INT -> b.setType(Onnx.AttributeProto.AttributeType.INT).setI(a.i());
            case FLOAT -> b.setType(Onnx.AttributeProto.AttributeType.FLOAT).setF(a.f());
            case INTS -> {
                b.setType(Onnx.AttributeProto.AttributeType.INTS);
                for (int x : a.ints()) b.addInts(x);
            }
        }
        return b.build();
    }
}
