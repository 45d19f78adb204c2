package normlab.io.onnx;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import normlab.io.AtomicFiles;
import normlab.io.LayerSpec;
import normlab.io.LayerSpecs;
import normlab.io.OnnxWriter;
import normlab.io.onnx.proto.Onnx;
import normlab.nn.Module;
import normlab.nn.Residual;
import normlab.nn.ResidualBlock;
import normlab.nn.Sequential;
import normlab.norm.RunningStatsNorm;
import normlab.tensor.Tensor;

/**
 * Exports a normlab model — a tree of {@link Sequential}s and {@link Residual}s over supported layers, folded or not
 * (see {@code normlab.infer.Fold}) — as an ONNX model file, so the network runs in ONNX Runtime and every other ONNX
 * consumer. What is exported is the model's inference function (eval mode): normalization layers with running
 * statistics use them, dropout is the identity. The model's own train/eval modes are left as they were.
 *
 * <p>One graph input {@code input} of shape (N, inputShapeWithoutBatch…) with a symbolic batch dimension N, one
 * output {@code output}; weights and statistics are float32 initializers named by their state-dict keys.
 *
 * <p>Each layer type's ONNX mapping is its emitter in {@link LayerSpecs} (the table of operators is there); this class
 * is the driver: it probes shapes, walks {@link Sequential}s and {@link Residual}s — a Residual(body) is the body, then
 * Add with the block's input, y = body(x) + x — and {@link ResidualBlock}s (BasicBlock, PreActBlock: the before path,
 * the residual and shortcut branches from the same value, one Add, the after path), sets eval mode, and assembles the ModelProto (with an optional last
 * Softmax, axis = 1).
 *
 * <p>Operator set: {@value #OPSET} (ONNX 1.12, IR version {@value #IR_VERSION}), the lowest with LayerNormalization;
 * a model containing a layer whose emitter needs more (GroupNorm: {@value #OPSET_GROUP_NORM}, IR
 * {@value #IR_VERSION_GROUP_NORM}, the first whose GroupNormalization has a per-channel affine as PyTorch's) uses that.
 *
 * <p>Each layer's output shape is found by running that layer on a zero probe of batch 1 in eval mode, so shape
 * errors are normlab's own, naming the layer. A layer with no ONNX mapping, or whose inference output depends on the
 * batch (normalization without running statistics where the ONNX operator would use them), is an
 * {@link IllegalArgumentException} naming it.
 */
public final class OnnxExport {
    /** The model holds a layer that has no ONNX form (whatever the input shape): a property of the model, not of the call. */
    public static final class NotExportableException extends IllegalArgumentException {
        public NotExportableException(String message) {
            super(message);
        }
    }

    /** The ai.onnx operator set of models without GroupNorm, and its IR version. */
    public static final int OPSET = 17;
    public static final int IR_VERSION = 8;
    /** The operator set of models with a GroupNorm, and its IR version. */
    public static final int OPSET_GROUP_NORM = 21;
    public static final int IR_VERSION_GROUP_NORM = 10;
    public static final String INPUT = "input";
    public static final String OUTPUT = "output";

    private OnnxExport() {}

    /** Writes {@code model} (its inference function) to {@code out} as an ONNX model, atomically. */
    public static void export(Module model, int[] inputShapeWithoutBatch, Path out) throws IOException {
        export(model, inputShapeWithoutBatch, out, false);
    }

    /** As {@link #export(Module, int[], Path)}; with {@code softmax} the output is softmax over dim 1 (probabilities). */
    public static void export(Module model, int[] inputShapeWithoutBatch, Path out, boolean softmax) throws IOException {
        AtomicFiles.write(out, toModel(model, inputShapeWithoutBatch, softmax).toByteArray());
    }

    /** The ONNX ModelProto of {@code model}'s inference function, without writing it. */
    public static Onnx.ModelProto toModel(Module model, int[] inputShapeWithoutBatch, boolean softmax) {
        for (int d : inputShapeWithoutBatch) {
            if (d <= 0) throw new IllegalArgumentException("OnnxExport: input shape must be positive, got " + Arrays.toString(inputShapeWithoutBatch));
        }
        List<Module> modules = new ArrayList<>();
        List<Boolean> modes = new ArrayList<>();
        rememberModes(model, modules, modes);
        model.eval();
        try {
            int opset = Math.max(OPSET, LayerSpecs.onnxOpset(model));
            OnnxGraph g = new OnnxGraph(INPUT, inputShapeWithoutBatch, opset);
            int[] probeShape = new int[inputShapeWithoutBatch.length + 1];
            probeShape[0] = 1;
            System.arraycopy(inputShapeWithoutBatch, 0, probeShape, 1, inputShapeWithoutBatch.length);
            emit(model, g, Tensor.zeros(probeShape));
            if (softmax) {
                if (g.shape().length < 1) {
                    throw new IllegalArgumentException("OnnxExport: softmax over dim 1 needs an output of rank >= 2, got shape (N)");
                }
                g.apply("Softmax", "softmax", g.shape(), List.of(), OnnxWriter.attr("axis", 1L));
            }
            g.finish(OUTPUT);
            String name = model.getClass().getSimpleName();
            return Onnx.ModelProto.newBuilder()
                    .setIrVersion(opset >= OPSET_GROUP_NORM ? IR_VERSION_GROUP_NORM : IR_VERSION)
                    .addOpsetImport(Onnx.OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset))
                    .setProducerName("normlab")
                    .setProducerVersion("0.1.0")
                    .setDocString("normlab " + name + ", inference function (eval mode)")
                    .setGraph(g.build(name))
                    .build();
        } finally {
            // setTraining recurses into children; restoring in pre-order leaves every module in its own former mode.
            for (int i = 0; i < modules.size(); i++) modules.get(i).setTraining(modes.get(i));
        }
    }

    /**
     * Emits {@code m} reading the graph's current value; {@code probe} is a batch-1 input of the right shape. Returns
     * the probe's image under {@code m}, the next layer's probe.
     */
    private static Tensor emit(Module m, OnnxGraph g, Tensor probe) {
        if (m instanceof Sequential) {
            for (Module c : ((Sequential) m).layers()) probe = emit(c, g, probe);
            return probe;
        }
        if (m instanceof Residual) {
            Tensor y = m.forward(probe); // checks that the body keeps the shape, with the layer's own error
            String skip = g.value();
            emit(((Residual) m).body, g, probe);
            // y = body(x) + x
            g.apply("Add", name(m), g.shape(), List.of(skip));
            return y;
        }
        if (m instanceof ResidualBlock b) {
            Tensor y = m.forward(probe); // checks that the branches agree, with the block's own error
            for (Module c : b.before()) probe = emit(c, g, probe);
            String split = g.value();
            int[] splitShape = g.shape();
            Tensor r = probe;
            for (Module c : b.residual()) r = emit(c, g, r);
            String residual = g.value();
            g.setValue(split, splitShape);
            Tensor s = probe;
            for (Module c : b.shortcut()) s = emit(c, g, s);
            // z = residual(a) + shortcut(a), then the block's after path (its final ReLU, if any)
            g.apply("Add", name(m), g.shape(), List.of(residual));
            Tensor z = Tensor.zeros(r.shape());
            for (int i = 0; i < z.data.length; i++) z.data[i] = r.data[i] + s.data[i];
            for (Module c : b.after()) z = emit(c, g, z);
            return y;
        }
        // Before the batch-1 probe: a BatchNorm without running statistics refuses one sample (as PyTorch) with a
        // message about batch size, while the export's real reason is that its output depends on the batch.
        if (m instanceof RunningStatsNorm r && r.runningAffine() == null) {
            throw new NotExportableException("OnnxExport: " + m.label() + " has no running statistics (trackRunningStats=false), "
                    + "so its inference output depends on the whole batch; only layers with running statistics can be exported");
        }
        Tensor y = m.forward(probe);
        LayerSpec<?> spec = LayerSpecs.ofKind(m);
        if (spec == null || !spec.hasOnnx()) {
            throw new NotExportableException("OnnxExport: " + m.label() + " has no ONNX mapping (supported: " + supported() + ")");
        }
        spec.emitOnnx(m, g, name(m), Arrays.copyOfRange(y.shape(), 1, y.rank()));
        return y;
    }

    /** The layer types export supports: the containers it walks and every type whose spec has an emitter. */
    static String supported() {
        return LayerSpecs.all().stream().filter(s -> s.isContainer() || s.hasOnnx()).map(LayerSpec::name).collect(Collectors.joining(", "));
    }

    /** Node-name prefix of a layer: its path, or its class name for a root layer. */
    private static String name(Module m) {
        return m.path().isEmpty() ? m.getClass().getSimpleName() : m.path();
    }

    /** Every module of the tree in pre-order with its mode. */
    private static void rememberModes(Module m, List<Module> modules, List<Boolean> modes) {
        modules.add(m);
        modes.add(m.isTraining());
        for (Module c : m.children().values()) rememberModes(c, modules, modes);
    }
}
