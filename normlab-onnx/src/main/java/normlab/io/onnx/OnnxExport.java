package normlab.io.onnx;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import normlab.io.AtomicFiles;
import normlab.io.onnx.proto.Onnx;
import normlab.nn.Activation;
import normlab.nn.Flatten;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm;
import normlab.tensor.Tensor;

/**
 * Exports a normlab model — a tree of {@link Sequential}s over supported layers, folded or not — as an ONNX model
 * file, so the network runs in ONNX Runtime and every other ONNX consumer. What is exported is the model's inference
 * function (eval mode): normalization layers use their running statistics, dropout is the identity. The model's own
 * train/eval modes are left as they were.
 *
 * <p>One graph input {@code input} of shape (N, inputShapeWithoutBatch…) with a symbolic batch dimension N, one
 * output {@code output}; weights and statistics are float32 initializers named by their state-dict keys.
 *
 * <pre>
 * normlab layer            ONNX (opset {@value #OPSET})
 * Linear                   Gemm(x, W, b), transB = 1             y = x·Wᵀ + b
 * BatchNorm1d/2d (eval)    BatchNormalization(x, γ, β, rm, rv)   y = γ·(x − rm)/√(rv + ε) + β
 * ReLU / Sigmoid / Tanh    Relu / Sigmoid / Tanh
 * Flatten                  Flatten, axis = 1
 * (optional last layer)    Softmax, axis = 1
 * </pre>
 *
 * <p>Each layer's output shape is found by running that layer on a zero probe of batch 1 in eval mode, so shape
 * errors are normlab's own, naming the layer. A layer with no ONNX mapping is an {@link IllegalArgumentException}
 * naming it.
 */
public final class OnnxExport {
    /** The ai.onnx operator set the nodes bind to. */
    public static final int OPSET = 17;
    /** IR version 8 is the one that goes with opset 17 (ONNX 1.12). */
    public static final int IR_VERSION = 8;
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
            OnnxGraph g = new OnnxGraph(INPUT, inputShapeWithoutBatch);
            int[] probeShape = new int[inputShapeWithoutBatch.length + 1];
            probeShape[0] = 1;
            System.arraycopy(inputShapeWithoutBatch, 0, probeShape, 1, inputShapeWithoutBatch.length);
            emit(model, g, Tensor.zeros(probeShape));
            if (softmax) {
                if (g.shape().length < 1) throw new IllegalArgumentException("OnnxExport: softmax needs an output of rank >= 2, got a rank-1 output");
                g.apply("Softmax", "softmax", g.shape(), List.of(), OnnxGraph.attr("axis", 1L));
            }
            g.finish(OUTPUT);
            String name = model.getClass().getSimpleName();
            return Onnx.ModelProto.newBuilder()
                    .setIrVersion(IR_VERSION)
                    .addOpsetImport(Onnx.OperatorSetIdProto.newBuilder().setDomain("").setVersion(OPSET))
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
        Tensor y = m.forward(probe);
        int[] out = Arrays.copyOfRange(y.shape(), 1, y.rank());
        String name = m.path().isEmpty() ? m.getClass().getSimpleName() : m.path();
        if (m instanceof Linear) {
            Linear l = (Linear) m;
            List<String> in = new ArrayList<>();
            in.add(g.floats(key(m, "weight"), l.weight.value));
            if (l.bias != null) in.add(g.floats(key(m, "bias"), l.bias.value));
            // y = x·Wᵀ + b, W stored (out, in) as in PyTorch.
            g.apply("Gemm", name, out, in, OnnxGraph.attr("transB", 1L));
        } else if (m instanceof BatchNorm) {
            batchNorm((BatchNorm) m, g, name, out);
        } else if (m instanceof Activation.ReLU) {
            g.apply("Relu", name, out, List.of());
        } else if (m instanceof Activation.Sigmoid) {
            g.apply("Sigmoid", name, out, List.of());
        } else if (m instanceof Activation.Tanh) {
            g.apply("Tanh", name, out, List.of());
        } else if (m instanceof Flatten) {
            g.apply("Flatten", name, out, List.of(), OnnxGraph.attr("axis", 1L));
        } else {
            throw new IllegalArgumentException("OnnxExport: " + m.label() + " has no ONNX mapping (supported: Sequential, "
                    + "Linear, BatchNorm1d/2d, ReLU, Sigmoid, Tanh, Flatten)");
        }
        return y;
    }

    /** Eval-mode BatchNorm: y = γ·(x − rm)/√(rv + ε) + β per channel; γ = 1, β = 0 when not affine. */
    private static void batchNorm(BatchNorm bn, OnnxGraph g, String name, int[] out) {
        if (!bn.trackRunningStats) {
            throw new IllegalArgumentException("OnnxExport: " + bn.label() + " has no running statistics (trackRunningStats=false), "
                    + "so its inference output depends on the batch; only BatchNorm with running statistics can be exported");
        }
        int c = bn.numFeatures;
        String scale = bn.affine ? g.floats(key(bn, "weight"), bn.weight.value) : g.floats(key(bn, "weight"), ones(c), c);
        String bias = bn.affine ? g.floats(key(bn, "bias"), bn.bias.value) : g.floats(key(bn, "bias"), new float[c], c);
        String mean = g.floats(key(bn, "running_mean"), bn.runningMean);
        String var = g.floats(key(bn, "running_var"), bn.runningVar);
        g.apply("BatchNormalization", name, out, List.of(scale, bias, mean, var), OnnxGraph.attr("epsilon", (float) bn.eps));
    }

    /** State-dict key of a layer's tensor ({@code 1.running_mean}); the bare name for a root layer. */
    private static String key(Module m, String local) {
        return m.path().isEmpty() ? local : m.path() + "." + local;
    }

    private static float[] ones(int n) {
        float[] a = new float[n];
        Arrays.fill(a, 1f);
        return a;
    }

    /** Every module of the tree in pre-order with its mode. */
    private static void rememberModes(Module m, List<Module> modules, List<Boolean> modes) {
        modules.add(m);
        modes.add(m.isTraining());
        for (Module c : m.children().values()) rememberModes(c, modules, modes);
    }
}
