package normlab.io;

import static normlab.io.LayerTypes.args;
import static normlab.io.OnnxWriter.attr;
import static normlab.io.OnnxWriter.attrInts;
import static normlab.io.OnnxWriter.key;

import com.google.gson.JsonObject;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import normlab.infer.Fold;
import normlab.nn.Activation;
import normlab.nn.AvgPool2d;
import normlab.nn.BasicBlock;
import normlab.nn.Conv2d;
import normlab.nn.Dropout;
import normlab.nn.Flatten;
import normlab.nn.GlobalAvgPool;
import normlab.nn.Identity;
import normlab.nn.Layout;
import normlab.nn.Linear;
import normlab.nn.MaxPool2d;
import normlab.nn.MultiheadAttention;
import normlab.nn.Module;
import normlab.nn.PreActBlock;
import normlab.nn.Residual;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm;
import normlab.norm.BatchNorm1d;
import normlab.norm.BatchNorm2d;
import normlab.norm.BatchRenorm;
import normlab.norm.FrozenBatchNorm2d;
import normlab.norm.GhostBatchNorm;
import normlab.norm.GroupNorm;
import normlab.norm.InstanceNorm;
import normlab.norm.InstanceNorm1d;
import normlab.norm.InstanceNorm2d;
import normlab.norm.LayerNorm;
import normlab.norm.RMSNorm;
import normlab.norm.RunningStatsNorm;
import normlab.norm.SyncBatchNorm;
import normlab.rnn.GRU;
import normlab.rnn.LSTM;
import normlab.rnn.LastStep;
import normlab.rnn.NormLSTM;
import normlab.rnn.Recurrent;
import normlab.rnn.Unflatten;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.transformer.TransformerEncoderLayer;
import normlab.transformer.VisionTransformer;

/**
 * The one place layer types are registered: one entry per type, holding every facet of its {@link LayerSpec} — the
 * model-file name, argument reader and builder; the ONNX emitter; the fold rule of a producer; the SmallCnn use and
 * label. Adding a layer type is one entry in the {@code register(...)} list below (plus the layer class, its kernel if the math is
 * new, and its tests). A normalization whose inference is BatchNorm's fixed affine implements
 * {@link RunningStatsNorm} and uses {@link #runningStatsNorm} as its emitter; folding then takes it with no entry here.
 *
 * <p>Model-file names and arguments are PyTorch's ({@code torch.nn.<type>(**args)} builds the same layer), except
 * {@code Residual}, normlab's identity-shortcut block, and the residual blocks {@code BasicBlock} / {@code PreActBlock}
 * (torchvision's BasicBlock and He et al. 2016's pre-activation block, not in torch.nn). The ONNX mapping of each entry:
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
 * GELU, MultiheadAttention,    standard operators (Erf, MatMul, Softmax, LayerNormalization, …): see TransformerOnnx
 *   TransformerEncoderLayer, VisionTransformer
 * MaxPool2d / AvgPool2d        MaxPool / AveragePool (count_include_pad as the layer)
 * GlobalAvgPool                GlobalAveragePool, Flatten
 * Flatten                      Flatten, axis = 1
 * Dropout, Identity            Identity
 * LSTM / GRU                   LSTM / GRU per layer (time-major; Transposes around a batch-first layer), Squeeze;
 *                              gates reordered to ONNX's i, o, f, c (LSTM) and z, r, h (GRU, linear_before_reset = 1)
 * LastStep                     Gather(index −1, axis 1), Flatten
 * Unflatten                    Reshape to (0, sizes…)
 * NormLSTM                     none: not exportable (ONNX has no normalized LSTM cell)
 * </pre>
 * Sequential, Residual and the residual blocks are walked by the exporter ({@code normlab.io.onnx.OnnxExport}); a
 * block's two branches end in one Add.
 */
public final class LayerSpecs {
    private LayerSpecs() {}

    /** The ai.onnx operator set every exported model has at least (LayerNormalization's). */
    static final int BASE_OPSET = 17;

    private static final Map<String, LayerSpec<?>> BY_NAME = new LinkedHashMap<>();
    private static final Map<Class<?>, LayerSpec<?>> BY_CLASS = new LinkedHashMap<>();

    static {
        register(leaf("Linear", Linear.class, m -> args("in_features", m.in, "out_features", m.out, "bias", m.bias != null),
                a -> new Linear(a.integer("in_features"), a.integer("out_features"), a.bool("bias"), null))
                // y = x·Wᵀ + b, W stored (out, in) as in PyTorch.
                .onnx((m, g, name, out) -> g.apply("Gemm", name, out, weightAndBias(m, g, m.weight.value, m.bias), attr("transB", 1L)))
                .producer(new LayerSpec.Producer<>() {
                    public int outChannels(Linear m) {
                        return m.out;
                    }

                    public Linear fold(Linear m, double[] k, double[] s) {
                        Linear f = new Linear(m.in, m.out, true, null);
                        Fold.scaleRows(f.weight.value.data, f.bias.value.data, m.weight.value.data, m.bias == null ? null : m.bias.value.data,
                                k, s, m.out, m.in);
                        return f;
                    }
                }),
        leaf("Conv2d", Conv2d.class, m -> args("in_channels", m.inChannels, "out_channels", m.outChannels, "kernel_size", new int[] {m.kh, m.kw},
                        "stride", new int[] {m.sh, m.sw}, "padding", new int[] {m.ph, m.pw}, "dilation", new int[] {m.dh, m.dw}, "groups", m.groups,
                        "bias", m.bias != null),
                a -> new Conv2d(a.integer("in_channels"), a.integer("out_channels"), a.ints("kernel_size", 2), a.ints("stride", 2),
                        a.ints("padding", 2), a.ints("dilation", 2), a.integer("groups"), a.bool("bias"), null))
                // Zero padding on both sides of each spatial axis: pads = [top, left, bottom, right].
                .onnx((m, g, name, out) -> g.apply("Conv", name, out, weightAndBias(m, g, m.weight.value, m.bias),
                        attrInts("kernel_shape", m.kh, m.kw), attrInts("strides", m.sh, m.sw), attrInts("pads", m.ph, m.pw, m.ph, m.pw),
                        attrInts("dilations", m.dh, m.dw), attr("group", (long) m.groups)))
                .producer(new LayerSpec.Producer<>() {
                    public int outChannels(Conv2d m) {
                        return m.outChannels;
                    }

                    public Conv2d fold(Conv2d m, double[] k, double[] s) {
                        Conv2d f = new Conv2d(m.inChannels, m.outChannels, new int[] {m.kh, m.kw}, new int[] {m.sh, m.sw},
                                new int[] {m.ph, m.pw}, new int[] {m.dh, m.dw}, m.groups, true, null);
                        Fold.scaleRows(f.weight.value.data, f.bias.value.data, m.weight.value.data, m.bias == null ? null : m.bias.value.data,
                                k, s, m.outChannels, m.weight.value.numel() / m.outChannels);
                        return f;
                    }
                }),
        leaf("BatchNorm1d", BatchNorm1d.class, LayerSpecs::bnArgs,
                a -> new BatchNorm1d(a.integer("num_features"), a.number("eps"), a.nullableNumber("momentum"), a.bool("affine"), a.bool("track_running_stats")))
                .onnx(LayerSpecs::runningStatsNorm),
        leaf("BatchNorm2d", BatchNorm2d.class, LayerSpecs::bnArgs,
                a -> new BatchNorm2d(a.integer("num_features"), a.number("eps"), a.nullableNumber("momentum"), a.bool("affine"), a.bool("track_running_stats"), a.layout()))
                .onnx(LayerSpecs::runningStatsNorm)
                .cnn("BN", "BatchNorm", (c, h, w) -> new BatchNorm2d(c)),
        leaf("SyncBatchNorm", SyncBatchNorm.class,
                m -> args("num_features", m.numFeatures, "eps", m.eps, "momentum", m.momentum, "affine", m.affine,
                        "track_running_stats", m.trackRunningStats),
                a -> new SyncBatchNorm(a.integer("num_features"), a.number("eps"), a.nullableNumber("momentum"), a.bool("affine"), a.bool("track_running_stats")))
                .onnx(LayerSpecs::runningStatsNorm),
        leaf("FrozenBatchNorm2d", FrozenBatchNorm2d.class, m -> args("num_features", m.numFeatures, "eps", m.eps),
                a -> new FrozenBatchNorm2d(a.integer("num_features"), a.number("eps")))
                .onnx(LayerSpecs::runningStatsNorm)
                .cnn("FROZEN_BN", "FrozenBatchNorm", (c, h, w) -> new FrozenBatchNorm2d(c)),
        leaf("BatchRenorm", BatchRenorm.class, m -> args("num_features", m.numFeatures, "eps", m.eps, "momentum", m.momentum, "affine", m.affine,
                        "warmup_steps", m.schedule.warmupSteps(), "rmax", m.schedule.rmaxFinal(), "rmax_steps", m.schedule.rmaxSteps(),
                        "dmax", m.schedule.dmaxFinal(), "dmax_steps", m.schedule.dmaxSteps()),
                a -> new BatchRenorm(a.integer("num_features"), a.number("eps"), a.number("momentum"), a.bool("affine"),
                        new BatchRenorm.Schedule(a.integer("warmup_steps"), a.number("rmax"), a.integer("rmax_steps"), a.number("dmax"), a.integer("dmax_steps"))))
                .onnx(LayerSpecs::runningStatsNorm)
                .cnn("BATCH_RENORM", "BatchRenorm", (c, h, w) -> new BatchRenorm(c)),
        leaf("GhostBatchNorm", GhostBatchNorm.class, m -> args("num_features", m.numFeatures, "virtual_batch_size", m.virtualBatchSize, "eps", m.eps,
                        "momentum", m.momentum, "affine", m.affine),
                a -> new GhostBatchNorm(a.integer("num_features"), a.integer("virtual_batch_size"), a.number("eps"), a.nullableNumber("momentum"), a.bool("affine")))
                .onnx(LayerSpecs::runningStatsNorm)
                .cnn("GHOST_BN", "GhostBatchNorm", (c, h, w) -> new GhostBatchNorm(c, 8)),
        leaf("InstanceNorm1d", InstanceNorm1d.class, LayerSpecs::inArgs,
                a -> new InstanceNorm1d(a.integer("num_features"), a.number("eps"), a.number("momentum"), a.bool("affine"), a.bool("track_running_stats")))
                .onnx(LayerSpecs::instanceNorm),
        leaf("InstanceNorm2d", InstanceNorm2d.class, LayerSpecs::inArgs,
                a -> new InstanceNorm2d(a.integer("num_features"), a.number("eps"), a.number("momentum"), a.bool("affine"), a.bool("track_running_stats")))
                .onnx(LayerSpecs::instanceNorm)
                // A per-channel affine (PyTorch's default has none), no running statistics.
                .cnn("IN", "InstanceNorm", (c, h, w) -> new InstanceNorm2d(c, 1e-5, 0.1, true, false)),
        leaf("LayerNorm", LayerNorm.class, m -> args("normalized_shape", m.normalizedShape, "eps", m.eps, "elementwise_affine", m.weight != null, "bias", m.bias != null),
                a -> new LayerNorm(a.intList("normalized_shape"), a.number("eps"), a.bool("elementwise_affine"), a.bool("bias")))
                .onnx(LayerSpecs::layerNorm)
                .cnn("LN", "LayerNorm", (c, h, w) -> new LayerNorm(c, h, w)),
        leaf("GroupNorm", GroupNorm.class, m -> withLayout(args("num_groups", m.numGroups, "num_channels", m.numChannels, "eps", m.eps, "affine", m.affine), m.layout),
                a -> new GroupNorm(a.integer("num_groups"), a.integer("num_channels"), a.number("eps"), a.bool("affine"), a.layout()))
                // Opset 21: the first whose GroupNormalization has a per-channel affine as PyTorch's.
                .onnx(21, LayerSpecs::groupNorm)
                // 4 groups (1 if the channels are not a multiple of 4).
                .cnn("GN", "GroupNorm", (c, h, w) -> new GroupNorm(c % 4 == 0 ? 4 : 1, c)),
        leaf("RMSNorm", RMSNorm.class, m -> args("normalized_shape", m.normalizedShape, "eps", m.eps, "elementwise_affine", m.weight != null),
                a -> new RMSNorm(a.intList("normalized_shape"), a.number("eps"), a.bool("elementwise_affine")))
                .onnx(LayerSpecs::rmsNorm)
                .cnn("RMS", "RMSNorm", (c, h, w) -> new RMSNorm(c, h, w)),
        leaf("MaxPool2d", MaxPool2d.class, m -> args("kernel_size", new int[] {m.kh, m.kw}, "stride", new int[] {m.sh, m.sw}, "padding", new int[] {m.ph, m.pw}),
                a -> new MaxPool2d(a.ints("kernel_size", 2), a.ints("stride", 2), a.ints("padding", 2)))
                .onnx((m, g, name, out) -> g.apply("MaxPool", name, out, List.of(), attrInts("kernel_shape", m.kh, m.kw),
                        attrInts("strides", m.sh, m.sw), attrInts("pads", m.ph, m.pw, m.ph, m.pw))),
        leaf("AvgPool2d", AvgPool2d.class, m -> args("kernel_size", new int[] {m.kh, m.kw}, "stride", new int[] {m.sh, m.sw}, "padding", new int[] {m.ph, m.pw},
                        "count_include_pad", m.countIncludePad),
                a -> new AvgPool2d(a.ints("kernel_size", 2), a.ints("stride", 2), a.ints("padding", 2), a.bool("count_include_pad")))
                .onnx((m, g, name, out) -> g.apply("AveragePool", name, out, List.of(), attrInts("kernel_shape", m.kh, m.kw),
                        attrInts("strides", m.sh, m.sw), attrInts("pads", m.ph, m.pw, m.ph, m.pw),
                        attr("count_include_pad", m.countIncludePad ? 1L : 0L))),
        leaf("GlobalAvgPool", GlobalAvgPool.class, m -> args(), a -> new GlobalAvgPool())
                // (N, C, H, W) → (N, C, 1, 1) → (N, C), as normlab's layer.
                .onnx((m, g, name, out) -> {
                    g.apply("GlobalAveragePool", name, new int[] {g.shape()[0], 1, 1}, List.of());
                    g.apply("Flatten", name, out, List.of(), attr("axis", 1L));
                }),
        // A loaded Dropout draws its masks from a fixed seed (the generator's state is not part of the model).
        // Inference: dropout is the identity (and Identity, left where folding removed a BatchNorm, is too).
        leaf("Dropout", Dropout.class, m -> args("p", m.p), a -> new Dropout(a.number("p"), new Rng(0))).onnx(op("Identity")),
        leaf("ReLU", Activation.ReLU.class, m -> args(), a -> new Activation.ReLU()).onnx(op("Relu")),
        leaf("Sigmoid", Activation.Sigmoid.class, m -> args(), a -> new Activation.Sigmoid()).onnx(op("Sigmoid")),
        leaf("Tanh", Activation.Tanh.class, m -> args(), a -> new Activation.Tanh()).onnx(op("Tanh")),
        leaf("GELU", Activation.GELU.class, m -> args("approximate", m.approximate), a -> new Activation.GELU(a.string("approximate")))
                .onnx(TransformerOnnx::gelu),
        // Batch-first only (normlab's layout): a model file saying batch_first=false is refused by the constructor check below.
        leaf("MultiheadAttention", MultiheadAttention.class, m -> args("embed_dim", m.embedDim, "num_heads", m.numHeads, "dropout", m.dropout,
                        "bias", m.inProjBias != null, "batch_first", true),
                a -> new MultiheadAttention(a.integer("embed_dim"), a.integer("num_heads"), a.number("dropout"), a.bool("bias"),
                        batchFirst(a, "MultiheadAttention")))
                .onnx(TransformerOnnx::attention),
        // "norm" is normlab's: PyTorch's layer is the LayerNorm one (TransformerEncoderLayer(**args) without it).
        leaf("TransformerEncoderLayer", TransformerEncoderLayer.class, m -> args("d_model", m.dModel, "nhead", m.nhead,
                        "dim_feedforward", m.dimFeedforward, "dropout", m.dropoutP, "activation", m.activationName,
                        "layer_norm_eps", m.layerNormEps, "batch_first", true, "norm_first", m.normFirst, "norm", m.normType.typeName),
                a -> new TransformerEncoderLayer(a.integer("d_model"), a.integer("nhead"), a.integer("dim_feedforward"), a.number("dropout"),
                        a.string("activation"), a.number("layer_norm_eps"), a.bool("norm_first"), TransformerEncoderLayer.Norm.named(a.string("norm")),
                        batchFirst(a, "TransformerEncoderLayer")))
                .onnx(TransformerOnnx::encoderLayer),
        // normlab's ViT (no torch.nn equivalent; tools/golden/gen_transformer.py's Vit has the same keys).
        leaf("VisionTransformer", VisionTransformer.class, m -> args("image_size", m.imageSize, "channels", m.channels, "patch_size", m.patchSize,
                        "dim", m.dim, "depth", m.depth, "heads", m.heads, "mlp_dim", m.mlpDim, "num_classes", m.classes, "norm_first", m.normFirst,
                        "norm", m.normType.typeName, "class_token", m.classToken),
                a -> new VisionTransformer(a.integer("image_size"), a.integer("channels"), a.integer("patch_size"), a.integer("dim"),
                        a.integer("depth"), a.integer("heads"), a.integer("mlp_dim"), a.integer("num_classes"), a.bool("norm_first"),
                        TransformerEncoderLayer.Norm.named(a.string("norm")), a.bool("class_token"), null))
                .onnx(TransformerOnnx::visionTransformer),
        leaf("Flatten", Flatten.class, m -> args(), a -> new Flatten())
                .onnx((m, g, name, out) -> g.apply("Flatten", name, out, List.of(), attr("axis", 1L))),
        leaf("Identity", Identity.class, m -> args(), a -> new Identity()).onnx(op("Identity")),
        leaf("LSTM", LSTM.class, LayerSpecs::rnnArgs, a -> new LSTM(a.integer("input_size"), a.integer("hidden_size"), a.integer("num_layers"),
                        rnnBatchFirst(a, "LSTM"), null))
                .onnx((m, g, name, out) -> recurrent(m, g, name, out, "LSTM", new int[] {0, 3, 1, 2})),
        leaf("GRU", GRU.class, LayerSpecs::rnnArgs, a -> new GRU(a.integer("input_size"), a.integer("hidden_size"), a.integer("num_layers"),
                        rnnBatchFirst(a, "GRU"), null))
                .onnx((m, g, name, out) -> recurrent(m, g, name, out, "GRU", new int[] {1, 0, 2})),
        // No PyTorch module: its own arguments; no ONNX emitter, so export names it as not exportable.
        leaf("NormLSTM", NormLSTM.class, m -> args("norm", m.kind.id, "input_size", m.inputSize, "hidden_size", m.hiddenSize,
                        "max_length", m.maxLength, "batch_first", m.batchFirst),
                a -> new NormLSTM(NormLSTM.Kind.of(a.string("norm")), a.integer("input_size"), a.integer("hidden_size"), a.integer("max_length"),
                        a.bool("batch_first"), null)),
        leaf("LastStep", LastStep.class, m -> args(), a -> new LastStep())
                // x[:, −1]: Gather keeps a length-1 axis for a 1-d index, Flatten drops it.
                .onnx((m, g, name, out) -> {
                    g.apply("Gather", name, new int[] {1, out[0]}, List.of(g.int64s(name + ".last", -1L)), attr("axis", 1L));
                    g.apply("Flatten", name, out, List.of(), attr("axis", 1L));
                }),
        leaf("Unflatten", Unflatten.class, m -> args("dim", 1, "unflattened_size", m.sizes), a -> {
                    if (a.integer("dim") != 1) throw new IllegalArgumentException("Unflatten: only dim=1 is supported, got " + a.integer("dim"));
                    return new Unflatten(a.intList("unflattened_size"));
                })
                .onnx((m, g, name, out) -> {
                    long[] shape = new long[m.sizes.length + 1]; // 0: keep the batch
                    for (int i = 0; i < m.sizes.length; i++) shape[i + 1] = m.sizes[i];
                    g.apply("Reshape", name, out, List.of(g.int64s(name + ".shape", shape)));
                }),
        container("Sequential", Sequential.class, Sequential::layers, (a, ch) -> new Sequential(ch)),
        container("Residual", Residual.class, m -> List.of(m.body), (a, ch) -> {
            if (ch.size() != 1) throw new IllegalArgumentException("Residual takes exactly one child (its body), got " + ch.size());
            return new Residual(ch.get(0));
        }),
        // Residual blocks (torchvision's names): a model file lists their parts; the ReLUs are rebuilt.
        container("BasicBlock", BasicBlock.class, BasicBlock::parts, (a, ch) -> {
            requireParts("BasicBlock", "conv1, bn1, conv2, bn2", ch);
            return new BasicBlock(ch.get(0), ch.get(1), ch.get(2), ch.get(3), ch.size() == 5 ? ch.get(4) : null);
        }),
        container("PreActBlock", PreActBlock.class, PreActBlock::parts, (a, ch) -> {
            requireParts("PreActBlock", "bn1, conv1, bn2, conv2", ch);
            return new PreActBlock(ch.get(0), ch.get(1), ch.get(2), ch.get(3), ch.size() == 5 ? ch.get(4) : null);
        }));
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Registration and lookup.

    /** A layer type without children: its type name, class, argument reader and constructor (no other facet yet). */
    public static <M extends Module> LayerSpec<M> leaf(String name, Class<M> cls, Function<M, JsonObject> args, LayerSpec.LeafBuilder build) {
        return new LayerSpec<>(name, cls, args, m -> List.of(), (a, ch) -> {
            if (!ch.isEmpty()) throw new IllegalArgumentException(name + " takes no children, got " + ch.size());
            return build.build(a);
        }, false, 0, null, null, null);
    }

    /** A container type: its children in order and a constructor taking them. */
    public static <M extends Module> LayerSpec<M> container(String name, Class<M> cls, Function<M, List<Module>> children, LayerSpec.Builder build) {
        return new LayerSpec<>(name, cls, m -> args(), children, build, true, 0, null, null, null);
    }

    /** Registers layer types (a type name or class registered again is replaced). */
    public static void register(LayerSpec<?>... specs) {
        synchronized (BY_NAME) {
            for (LayerSpec<?> s : specs) {
                BY_NAME.put(s.name(), s);
                BY_CLASS.put(s.layerClass(), s);
            }
        }
    }

    /** Every registered spec, in registration order. */
    public static List<LayerSpec<?>> all() {
        synchronized (BY_NAME) {
            return List.copyOf(BY_NAME.values());
        }
    }

    /** The spec named {@code name} in model files, or null. */
    public static LayerSpec<?> named(String name) {
        synchronized (BY_NAME) {
            return BY_NAME.get(name);
        }
    }

    /** The spec of exactly {@code m}'s class, or null. */
    public static LayerSpec<?> of(Module m) {
        synchronized (BY_NAME) {
            return BY_CLASS.get(m.getClass());
        }
    }

    /** The spec of {@code m}'s class or, failing that, of its nearest registered superclass; null if none. */
    public static LayerSpec<?> ofKind(Module m) {
        synchronized (BY_NAME) {
            for (Class<?> c = m.getClass(); c != null; c = c.getSuperclass()) {
                LayerSpec<?> s = BY_CLASS.get(c);
                if (s != null) return s;
            }
            return null;
        }
    }

    /** The ai.onnx operator set a model needs: the highest any of its layers' emitters asks for, at least 17. */
    public static int onnxOpset(Module m) {
        LayerSpec<?> s = ofKind(m);
        int opset = Math.max(BASE_OPSET, s == null ? 0 : s.minOpset());
        for (Module c : m.children().values()) opset = Math.max(opset, onnxOpset(c));
        return opset;
    }

    /** A residual block's children: its four parts and, optionally, its downsample shortcut. */
    private static void requireParts(String type, String names, List<Module> ch) {
        if (ch.size() != 4 && ch.size() != 5) {
            throw new IllegalArgumentException(type + " takes 4 children (" + names + ") or 5 (and downsample), got " + ch.size());
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Model-file arguments shared by several entries.

    /** Reads {@code batch_first}, which must be true (normlab's attention is batch-first); returns no generator (zero weights). */
    private static Rng batchFirst(LayerTypes.Args a, String layer) throws ModelFileException {
        if (!a.bool("batch_first")) {
            throw new IllegalArgumentException(layer + ": only batch_first=true is supported (input (N, T, E)), got batch_first=false");
        }
        return null;
    }

    private static JsonObject bnArgs(BatchNorm m) {
        return withLayout(args("num_features", m.numFeatures, "eps", m.eps, "momentum", m.momentum, "affine", m.affine,
                "track_running_stats", m.trackRunningStats), m.layout);
    }

    private static JsonObject inArgs(InstanceNorm m) {
        return args("num_features", m.numFeatures, "eps", m.eps, "momentum", m.momentum, "affine", m.affine,
                "track_running_stats", m.trackRunningStats);
    }

    /** Adds {@code "layout": "NHWC"} for channels-last layers; NCHW (PyTorch's only constructor form) is left implicit. */
    private static JsonObject withLayout(JsonObject o, Layout layout) {
        if (layout == Layout.NHWC) o.addProperty("layout", layout.name());
        return o;
    }

    /** PyTorch's nn.LSTM / nn.GRU arguments (bias always true, no dropout, one direction: the only forms normlab has). */
    private static JsonObject rnnArgs(Recurrent m) {
        return args("input_size", m.inputSize, "hidden_size", m.hiddenSize, "num_layers", m.numLayers, "bias", true,
                "batch_first", m.batchFirst, "dropout", 0.0, "bidirectional", false);
    }

    /** batch_first, after checking the arguments normlab does not implement hold their only supported value. */
    private static boolean rnnBatchFirst(LayerTypes.Args a, String kind) throws ModelFileException {
        if (!a.bool("bias")) throw new IllegalArgumentException(kind + ": bias=false is not supported");
        if (a.number("dropout") != 0) throw new IllegalArgumentException(kind + ": dropout between layers is not supported, got " + a.number("dropout"));
        if (a.bool("bidirectional")) throw new IllegalArgumentException(kind + ": bidirectional is not supported");
        return a.bool("batch_first");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // ONNX emitters shared by several entries, or too long to read inline.

    /**
     * LSTM / GRU, one ONNX node per layer (a zero initial state, the inference function of a model). ONNX wants
     * W (1, G·H, in), R (1, G·H, H), B (1, 2·G·H) = [W_b | R_b] with the gate blocks in its own order: {@code order[k]}
     * is the PyTorch block that goes to ONNX position k (LSTM: i, o, f, c ← i, f, g, o; GRU: z, r, h ← r, z, n). Each
     * node reads and writes time-major (ONNX Runtime refuses layout = 1): Y is (T, 1, N, H), its direction axis squeezed
     * away; a batch-first layer runs between two Transposes (perm 1, 0, 2).
     */
    private static void recurrent(Recurrent m, OnnxWriter g, String name, int[] out, String op, int[] order) {
        int hs = m.hiddenSize;
        // Shapes without the leading dimension, as the graph tracks them (time-major inside: (T, N, ·) minus T).
        int[] inner = m.batchFirst ? new int[] {1, hs} : out;
        if (m.batchFirst) g.apply("Transpose", name, new int[] {1, m.inputSize}, List.of(), attrInts("perm", 1, 0, 2));
        for (int l = 0; l < m.numLayers; l++) {
            normlab.nn.Parameter[] p = m.layerParameters(l);
            int in = l == 0 ? m.inputSize : hs;
            float[] w = reorderGates(p[0].value.data, order, hs * in), r = reorderGates(p[1].value.data, order, hs * hs);
            float[] bi = reorderGates(p[2].value.data, order, hs), bh = reorderGates(p[3].value.data, order, hs);
            float[] b = new float[bi.length + bh.length];
            System.arraycopy(bi, 0, b, 0, bi.length);
            System.arraycopy(bh, 0, b, bi.length, bh.length);
            String ln = name + ".l" + l;
            List<String> inputs = List.of(g.floats(key(m, "weight_ih_l" + l) + ".onnx", w, 1, order.length * hs, in),
                    g.floats(key(m, "weight_hh_l" + l) + ".onnx", r, 1, order.length * hs, hs),
                    g.floats(key(m, "bias_l" + l) + ".onnx", b, 1, 2 * order.length * hs));
            OnnxWriter.Attr[] attrs = op.equals("GRU")
                    ? new OnnxWriter.Attr[] {attr("hidden_size", (long) hs), attr("linear_before_reset", 1L)}
                    : new OnnxWriter.Attr[] {attr("hidden_size", (long) hs)};
            g.apply(op, ln, new int[] {1, inner[0], hs}, inputs, attrs);
            g.apply("Squeeze", ln, inner, List.of(g.int64s(ln + ".axes", 1L)));
        }
        if (m.batchFirst) g.apply("Transpose", name, out, List.of(), attrInts("perm", 1, 0, 2));
    }

    /** The G gate blocks of {@code src} (each {@code block} values) in the order {@code order}: dst block k = src block order[k]. */
    private static float[] reorderGates(float[] src, int[] order, int block) {
        float[] dst = new float[src.length];
        for (int k = 0; k < order.length; k++) System.arraycopy(src, order[k] * block, dst, k * block, block);
        return dst;
    }

    /** An emitter of one operator without attributes on the current value. */
    private static <M extends Module> LayerSpec.Emitter<M> op(String opType) {
        return (m, g, name, out) -> g.apply(opType, name, out, List.of());
    }

    /** The weight initializer, then the bias one if the layer has a bias (Gemm's and Conv's extra inputs). */
    private static List<String> weightAndBias(Module m, OnnxWriter g, Tensor weight, normlab.nn.Parameter bias) {
        List<String> in = new ArrayList<>();
        in.add(g.floats(key(m, "weight"), weight));
        if (bias != null) in.add(g.floats(key(m, "bias"), bias.value));
        return in;
    }

    /**
     * The emitter of every {@link RunningStatsNorm}: eval-mode BatchNormalization with its running statistics, the
     * layer's inference function; a channels-last layer runs between two Transposes.
     */
    public static void runningStatsNorm(Module m, OnnxWriter g, String name, int[] out) {
        RunningStatsNorm.RunningAffine a = ((RunningStatsNorm) m).runningAffine();
        if (a == null) throw new IllegalArgumentException(m.label() + " has no running statistics, so it has no fixed inference function");
        g.channelsFirst(name, out, a.layout() == Layout.NHWC,
                cf -> batchNormalization(g, m, name, cf, a.channels(), a.eps(), a.gamma(), a.beta(), a.runningMean(), a.runningVar()));
    }

    /** Eval-mode batch normalization: y = γ·(x − rm)/√(rv + ε) + β per channel (dim 1); γ = 1, β = 0 when null. */
    private static void batchNormalization(OnnxWriter g, Module m, String name, int[] out, int c, double eps,
                                           Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar) {
        String scale = g.floatsOr(m, "weight", gamma, 1f, c);
        String bias = g.floatsOr(m, "bias", beta, 0f, c);
        String mean = g.floats(key(m, "running_mean"), runningMean);
        String var = g.floats(key(m, "running_var"), runningVar);
        g.apply("BatchNormalization", name, out, List.of(scale, bias, mean, var), attr("epsilon", (float) eps));
    }

    /**
     * InstanceNorm: with running statistics the inference function is BatchNorm's fixed affine (PyTorch's eval mode);
     * without, each (sample, channel) plane is normalized by its own statistics, ONNX's InstanceNormalization.
     */
    private static void instanceNorm(InstanceNorm in, OnnxWriter g, String name, int[] out) {
        int c = in.numFeatures;
        Tensor gamma = in.affine ? in.weight.value : null, beta = in.affine ? in.bias.value : null;
        if (in.trackRunningStats) {
            batchNormalization(g, in, name, out, c, in.eps, gamma, beta, in.runningMean, in.runningVar);
            return;
        }
        String scale = g.floatsOr(in, "weight", gamma, 1f, c);
        String bias = g.floatsOr(in, "bias", beta, 0f, c);
        g.apply("InstanceNormalization", name, out, List.of(scale, bias), attr("epsilon", (float) in.eps));
    }

    /** LayerNormalization over the last k axes (axis = −k); the weight is 1 when the layer has none. */
    private static void layerNorm(LayerNorm ln, OnnxWriter g, String name, int[] out) {
        List<String> in = new ArrayList<>();
        if (ln.weight != null) {
            in.add(g.floats(key(ln, "weight"), ln.weight.value));
        } else {
            float[] ones = new float[Arrays.stream(ln.normalizedShape).reduce(1, (x, y) -> x * y)];
            Arrays.fill(ones, 1f);
            in.add(g.floats(key(ln, "weight"), ones, ln.normalizedShape));
        }
        if (ln.bias != null) in.add(g.floats(key(ln, "bias"), ln.bias.value));
        g.apply("LayerNormalization", name, out, in, attr("axis", (long) -ln.normalizedShape.length), attr("epsilon", (float) ln.eps));
    }

    /**
     * GroupNorm as ONNX GroupNormalization (opset 21: γ and β per channel; opset 18's per-group scale could not express
     * PyTorch's affine). ONNX's channel axis is 1, so a channels-last (NHWC) layer is wrapped in two Transposes.
     */
    private static void groupNorm(GroupNorm gn, OnnxWriter g, String name, int[] out) {
        int c = gn.numChannels;
        String scale = g.floatsOr(gn, "weight", gn.affine ? gn.weight.value : null, 1f, c);
        String bias = g.floatsOr(gn, "bias", gn.affine ? gn.bias.value : null, 0f, c);
        g.channelsFirst(name, out, gn.layout == Layout.NHWC, cf -> g.apply("GroupNormalization", name, cf, List.of(scale, bias),
                attr("num_groups", (long) gn.numGroups), attr("epsilon", (float) gn.eps)));
    }

    /**
     * RMSNorm has no ONNX operator below opset 23; decomposed over the last k axes:
     * y = x / √(ReduceMean(x², last k axes) + ε) · w, as Pow, ReduceMean, Add, Sqrt, Div, Mul.
     */
    private static void rmsNorm(RMSNorm rn, OnnxWriter g, String name, int[] out) {
        int k = rn.normalizedShape.length;
        long[] axes = new long[k];
        int[] axesInt = new int[k];
        for (int i = 0; i < k; i++) axes[i] = axesInt[i] = i - k;
        String x = g.value();
        String sq = g.node("Pow", name, List.of(x, g.floats(name + ".two", new float[] {2f})));
        String ms = g.opset() >= 18
                ? g.node("ReduceMean", name, List.of(sq, g.int64s(name + ".axes", axes)), attr("keepdims", 1L))
                : g.node("ReduceMean", name, List.of(sq), attrInts("axes", axesInt), attr("keepdims", 1L));
        String den = g.node("Add", name, List.of(ms, g.floats(name + ".eps", new float[] {(float) rn.eps})));
        String rms = g.node("Sqrt", name, List.of(den));
        String y = g.node("Div", name, List.of(x, rms));
        if (rn.weight != null) y = g.node("Mul", name, List.of(y, g.floats(key(rn, "weight"), rn.weight.value)));
        g.setValue(y, out);
    }
}
