package normlab.io.onnx;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import normlab.io.AtomicFiles;
import normlab.io.onnx.proto.Onnx;
import normlab.nn.Activation;
import normlab.nn.AvgPool2d;
import normlab.nn.Conv2d;
import normlab.nn.Dropout;
import normlab.nn.Flatten;
import normlab.nn.GlobalAvgPool;
import normlab.nn.Identity;
import normlab.nn.Layout;
import normlab.nn.Linear;
import normlab.nn.MaxPool2d;
import normlab.nn.Module;
import normlab.nn.Residual;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm;
import normlab.norm.BatchRenorm;
import normlab.norm.FrozenBatchNorm2d;
import normlab.norm.GhostBatchNorm;
import normlab.norm.GroupNorm;
import normlab.norm.InstanceNorm;
import normlab.norm.LayerNorm;
import normlab.norm.RMSNorm;
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
 * <pre>
 * normlab layer                ONNX
 * Linear                       Gemm(x, W, b), transB = 1                  y = x·Wᵀ + b
 * Conv2d                       Conv (kernel_shape, strides, pads, dilations, group)
 * BatchNorm1d/2d (eval)        BatchNormalization(x, γ, β, rm, rv)        y = γ·(x − rm)/√(rv + ε) + β
 *   BatchRenorm, GhostBatchNorm, FrozenBatchNorm2d: the same (their inference function); NHWC between Transposes
 * InstanceNorm1d/2d            InstanceNormalization(x, γ, β); BatchNormalization if it tracks running statistics
 * LayerNorm                    LayerNormalization, axis = −k              (opset 17)
 * GroupNorm                    GroupNormalization, γ/β per channel        (opset 21); NHWC between two Transposes
 * RMSNorm                      Pow, ReduceMean, Add, Sqrt, Div, Mul       y = x/√(mean(x²) + ε)·w
 * ReLU / Sigmoid / Tanh        Relu / Sigmoid / Tanh
 * MaxPool2d / AvgPool2d        MaxPool / AveragePool (count_include_pad as the layer)
 * GlobalAvgPool                GlobalAveragePool, Flatten
 * Flatten                      Flatten, axis = 1
 * Dropout, Identity            Identity
 * Residual(body)               body, then Add with the block's input      y = body(x) + x
 * (optional last layer)        Softmax, axis = 1
 * </pre>
 *
 * <p>Operator set: {@value #OPSET} (ONNX 1.12, IR version {@value #IR_VERSION}), the lowest with LayerNormalization;
 * a model containing a GroupNorm uses {@value #OPSET_GROUP_NORM} (IR {@value #IR_VERSION_GROUP_NORM}), the first whose
 * GroupNormalization has a per-channel affine as PyTorch's.
 *
 * <p>Each layer's output shape is found by running that layer on a zero probe of batch 1 in eval mode, so shape
 * errors are normlab's own, naming the layer. A layer with no ONNX mapping, or whose inference output depends on the
 * batch (normalization without running statistics where the ONNX operator would use them), is an
 * {@link IllegalArgumentException} naming it.
 */
public final class OnnxExport {
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
            boolean gn = needsOpset21(model);
            int opset = gn ? OPSET_GROUP_NORM : OPSET;
            OnnxGraph g = new OnnxGraph(INPUT, inputShapeWithoutBatch, opset);
            int[] probeShape = new int[inputShapeWithoutBatch.length + 1];
            probeShape[0] = 1;
            System.arraycopy(inputShapeWithoutBatch, 0, probeShape, 1, inputShapeWithoutBatch.length);
            emit(model, g, Tensor.zeros(probeShape));
            if (softmax) {
                if (g.shape().length < 1) {
                    throw new IllegalArgumentException("OnnxExport: softmax over dim 1 needs an output of rank >= 2, got shape (N)");
                }
                g.apply("Softmax", "softmax", g.shape(), List.of(), OnnxGraph.attr("axis", 1L));
            }
            g.finish(OUTPUT);
            String name = model.getClass().getSimpleName();
            return Onnx.ModelProto.newBuilder()
                    .setIrVersion(gn ? IR_VERSION_GROUP_NORM : IR_VERSION)
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
        // Before the batch-1 probe: a BatchNorm without running statistics refuses one sample (as PyTorch) with a
        // message about batch size, while the export's real reason is that its output depends on the batch.
        if (m instanceof BatchNorm) requireRunningStats(m, ((BatchNorm) m).trackRunningStats);
        Tensor y = m.forward(probe);
        int[] out = Arrays.copyOfRange(y.shape(), 1, y.rank());
        String name = name(m);
        if (m instanceof Linear) {
            Linear l = (Linear) m;
            List<String> in = new ArrayList<>();
            in.add(g.floats(key(m, "weight"), l.weight.value));
            if (l.bias != null) in.add(g.floats(key(m, "bias"), l.bias.value));
            // y = x·Wᵀ + b, W stored (out, in) as in PyTorch.
            g.apply("Gemm", name, out, in, OnnxGraph.attr("transB", 1L));
        } else if (m instanceof Conv2d) {
            Conv2d c = (Conv2d) m;
            List<String> in = new ArrayList<>();
            in.add(g.floats(key(m, "weight"), c.weight.value));
            if (c.bias != null) in.add(g.floats(key(m, "bias"), c.bias.value));
            // Zero padding on both sides of each spatial axis: pads = [top, left, bottom, right].
            g.apply("Conv", name, out, in, OnnxGraph.attrInts("kernel_shape", c.kh, c.kw), OnnxGraph.attrInts("strides", c.sh, c.sw),
                    OnnxGraph.attrInts("pads", c.ph, c.pw, c.ph, c.pw), OnnxGraph.attrInts("dilations", c.dh, c.dw),
                    OnnxGraph.attr("group", (long) c.groups));
        } else if (m instanceof BatchNorm) {
            BatchNorm bn = (BatchNorm) m;
            requireRunningStats(bn, bn.trackRunningStats);
            channelsFirst(g, name, out, bn.layout == Layout.NHWC, cf -> batchNormalization(g, bn, name, cf, bn.numFeatures, bn.eps,
                    bn.affine ? bn.weight.value : null, bn.affine ? bn.bias.value : null, bn.runningMean, bn.runningVar));
        } else if (m instanceof BatchRenorm) {
            // Evaluation is BatchNorm's: y = γ·(x − rm)/√(rv + ε) + β.
            BatchRenorm bn = (BatchRenorm) m;
            batchNormalization(g, bn, name, out, bn.numFeatures, bn.eps, bn.affine ? bn.weight.value : null,
                    bn.affine ? bn.bias.value : null, bn.runningMean, bn.runningVar);
        } else if (m instanceof GhostBatchNorm) {
            // Evaluation is BatchNorm's fixed affine with the running statistics.
            GhostBatchNorm bn = (GhostBatchNorm) m;
            batchNormalization(g, bn, name, out, bn.numFeatures, bn.eps, bn.affine ? bn.weight.value : null,
                    bn.affine ? bn.bias.value : null, bn.runningMean, bn.runningVar);
        } else if (m instanceof FrozenBatchNorm2d) {
            // The same fixed affine in both modes; its weight and bias are buffers.
            FrozenBatchNorm2d bn = (FrozenBatchNorm2d) m;
            batchNormalization(g, bn, name, out, bn.numFeatures, bn.eps, bn.weight, bn.bias, bn.runningMean, bn.runningVar);
        } else if (m instanceof InstanceNorm) {
            instanceNorm((InstanceNorm) m, g, name, out);
        } else if (m instanceof LayerNorm) {
            LayerNorm ln = (LayerNorm) m;
            List<String> in = new ArrayList<>();
            in.add(ln.weight != null ? g.floats(key(m, "weight"), ln.weight.value)
                    : g.floats(key(m, "weight"), ones(numel(ln.normalizedShape)), ln.normalizedShape));
            if (ln.bias != null) in.add(g.floats(key(m, "bias"), ln.bias.value));
            // Statistics over the last k axes: axis = −k.
            g.apply("LayerNormalization", name, out, in, OnnxGraph.attr("axis", (long) -ln.normalizedShape.length),
                    OnnxGraph.attr("epsilon", (float) ln.eps));
        } else if (m instanceof GroupNorm) {
            groupNorm((GroupNorm) m, g, name, out);
        } else if (m instanceof RMSNorm) {
            rmsNorm((RMSNorm) m, g, name, out);
        } else if (m instanceof Activation.ReLU) {
            g.apply("Relu", name, out, List.of());
        } else if (m instanceof Activation.Sigmoid) {
            g.apply("Sigmoid", name, out, List.of());
        } else if (m instanceof Activation.Tanh) {
            g.apply("Tanh", name, out, List.of());
        } else if (m instanceof MaxPool2d) {
            MaxPool2d p = (MaxPool2d) m;
            g.apply("MaxPool", name, out, List.of(), OnnxGraph.attrInts("kernel_shape", p.kh, p.kw),
                    OnnxGraph.attrInts("strides", p.sh, p.sw), OnnxGraph.attrInts("pads", p.ph, p.pw, p.ph, p.pw));
        } else if (m instanceof AvgPool2d) {
            AvgPool2d p = (AvgPool2d) m;
            g.apply("AveragePool", name, out, List.of(), OnnxGraph.attrInts("kernel_shape", p.kh, p.kw),
                    OnnxGraph.attrInts("strides", p.sh, p.sw), OnnxGraph.attrInts("pads", p.ph, p.pw, p.ph, p.pw),
                    OnnxGraph.attr("count_include_pad", p.countIncludePad ? 1L : 0L));
        } else if (m instanceof GlobalAvgPool) {
            // (N, C, H, W) → (N, C, 1, 1) → (N, C), as normlab's layer.
            int[] in = g.shape();
            g.apply("GlobalAveragePool", name, new int[] {in[0], 1, 1}, List.of());
            g.apply("Flatten", name, out, List.of(), OnnxGraph.attr("axis", 1L));
        } else if (m instanceof Flatten) {
            g.apply("Flatten", name, out, List.of(), OnnxGraph.attr("axis", 1L));
        } else if (m instanceof Dropout || m instanceof Identity) {
            // Inference: dropout is the identity (and Identity, left where folding removed a BatchNorm, is too).
            g.apply("Identity", name, out, List.of());
        } else {
            throw new IllegalArgumentException("OnnxExport: " + m.label() + " has no ONNX mapping (supported: " + SUPPORTED + ")");
        }
        return y;
    }

    static final String SUPPORTED = "Sequential, Residual, Linear, Conv2d, BatchNorm1d/2d, BatchRenorm, GhostBatchNorm, "
            + "FrozenBatchNorm2d, InstanceNorm1d/2d, LayerNorm, GroupNorm, RMSNorm, ReLU, Sigmoid, Tanh, MaxPool2d, AvgPool2d, "
            + "GlobalAvgPool, Flatten, Dropout, Identity";

    /** Node-name prefix of a layer: its path, or its class name for a root layer. */
    private static String name(Module m) {
        return m.path().isEmpty() ? m.getClass().getSimpleName() : m.path();
    }

    /**
     * Runs {@code op} on a channels-first value. ONNX normalizations take channels at dim 1, so a channels-last layer
     * (N, *, C) gets a Transpose to (N, C, *) before and one back after; {@code op} receives the channels-first shape.
     */
    private static void channelsFirst(OnnxGraph g, String name, int[] out, boolean channelsLast, Consumer<int[]> op) {
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
        g.apply("Transpose", name, cf, List.of(), OnnxGraph.attrInts("perm", toFirst));
        op.accept(cf);
        g.apply("Transpose", name, out, List.of(), OnnxGraph.attrInts("perm", toLast));
    }

    /** Throws unless the layer normalizes with running statistics at inference (otherwise its output depends on the batch). */
    private static void requireRunningStats(Module m, boolean tracked) {
        if (!tracked) {
            throw new IllegalArgumentException("OnnxExport: " + m.label() + " has no running statistics (trackRunningStats=false), "
                    + "so its inference output depends on the whole batch; only layers with running statistics can be exported");
        }
    }

    /** Eval-mode batch normalization: y = γ·(x − rm)/√(rv + ε) + β per channel (dim 1); γ = 1, β = 0 when null. */
    private static void batchNormalization(OnnxGraph g, Module m, String name, int[] out, int c, double eps,
                                           Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar) {
        String scale = gamma != null ? g.floats(key(m, "weight"), gamma) : g.floats(key(m, "weight"), ones(c), c);
        String bias = beta != null ? g.floats(key(m, "bias"), beta) : g.floats(key(m, "bias"), new float[c], c);
        String mean = g.floats(key(m, "running_mean"), runningMean);
        String var = g.floats(key(m, "running_var"), runningVar);
        g.apply("BatchNormalization", name, out, List.of(scale, bias, mean, var), OnnxGraph.attr("epsilon", (float) eps));
    }

    /**
     * InstanceNorm: with running statistics the inference function is BatchNorm's fixed affine (PyTorch's eval mode);
     * without, each (sample, channel) plane is normalized by its own statistics, ONNX's InstanceNormalization.
     */
    private static void instanceNorm(InstanceNorm in, OnnxGraph g, String name, int[] out) {
        int c = in.numFeatures;
        if (in.trackRunningStats) {
            batchNormalization(g, in, name, out, c, in.eps, in.affine ? in.weight.value : null, in.affine ? in.bias.value : null,
                    in.runningMean, in.runningVar);
            return;
        }
        String scale = in.affine ? g.floats(key(in, "weight"), in.weight.value) : g.floats(key(in, "weight"), ones(c), c);
        String bias = in.affine ? g.floats(key(in, "bias"), in.bias.value) : g.floats(key(in, "bias"), new float[c], c);
        g.apply("InstanceNormalization", name, out, List.of(scale, bias), OnnxGraph.attr("epsilon", (float) in.eps));
    }

    /**
     * GroupNorm as ONNX GroupNormalization (opset 21: γ and β per channel; opset 18's per-group scale could not express
     * PyTorch's affine). ONNX's channel axis is 1, so a channels-last (NHWC) layer is wrapped in two Transposes.
     */
    private static void groupNorm(GroupNorm gn, OnnxGraph g, String name, int[] out) {
        int c = gn.numChannels;
        String scale = gn.affine ? g.floats(key(gn, "weight"), gn.weight.value) : g.floats(key(gn, "weight"), ones(c), c);
        String bias = gn.affine ? g.floats(key(gn, "bias"), gn.bias.value) : g.floats(key(gn, "bias"), new float[c], c);
        channelsFirst(g, name, out, gn.layout == Layout.NHWC, cf -> g.apply("GroupNormalization", name, cf, List.of(scale, bias),
                OnnxGraph.attr("num_groups", (long) gn.numGroups), OnnxGraph.attr("epsilon", (float) gn.eps)));
    }

    /**
     * RMSNorm has no ONNX operator below opset 23; decomposed over the last k axes:
     * y = x / √(ReduceMean(x², last k axes) + ε) · w, as Pow, ReduceMean, Add, Sqrt, Div, Mul.
     */
    private static void rmsNorm(RMSNorm rn, OnnxGraph g, String name, int[] out) {
        int k = rn.normalizedShape.length;
        long[] axes = new long[k];
        for (int i = 0; i < k; i++) axes[i] = i - k;
        String x = g.value();
        String sq = g.node("Pow", name, List.of(x, g.floats(name + ".two", new float[] {2f})));
        String ms = g.opset() >= 18
                ? g.node("ReduceMean", name, List.of(sq, g.int64s(name + ".axes", axes)), OnnxGraph.attr("keepdims", 1L))
                : g.node("ReduceMean", name, List.of(sq), OnnxGraph.attrInts("axes", toInts(axes)), OnnxGraph.attr("keepdims", 1L));
        String den = g.node("Add", name, List.of(ms, g.floats(name + ".eps", new float[] {(float) rn.eps})));
        String rms = g.node("Sqrt", name, List.of(den));
        String y = g.node("Div", name, List.of(x, rms));
        if (rn.weight != null) y = g.node("Mul", name, List.of(y, g.floats(key(rn, "weight"), rn.weight.value)));
        g.setValue(y, out);
    }

    /** State-dict key of a layer's tensor ({@code 1.running_mean}); the bare name for a root layer. */
    private static String key(Module m, String local) {
        return m.path().isEmpty() ? local : m.path() + "." + local;
    }

    private static int[] toInts(long[] a) {
        int[] r = new int[a.length];
        for (int i = 0; i < a.length; i++) r[i] = (int) a[i];
        return r;
    }

    private static int numel(int[] shape) {
        int n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    /** Whether the tree holds a layer that needs opset 21 (GroupNorm). */
    private static boolean needsOpset21(Module m) {
        if (m instanceof GroupNorm) return true;
        for (Module c : m.children().values()) if (needsOpset21(c)) return true;
        return false;
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
