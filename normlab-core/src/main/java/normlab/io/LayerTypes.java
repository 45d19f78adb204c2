package normlab.io;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import normlab.nn.Activation;
import normlab.nn.AvgPool2d;
import normlab.nn.Conv2d;
import normlab.nn.Dropout;
import normlab.nn.GlobalAvgPool;
import normlab.nn.Layout;
import normlab.nn.MaxPool2d;
import normlab.nn.Flatten;
import normlab.nn.Identity;
import normlab.nn.Linear;
import normlab.nn.Module;
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
import normlab.tensor.Rng;

/**
 * The registry of layer types a model description can name: for each, how to read its constructor arguments off a
 * live module and how to build one from them. It turns a model into a JSON tree and back, which gives model files
 * that reload with no code, deep copies ({@link #copy}) and structural rewrites ({@link #rebuild}, used by folding).
 *
 * <p>A node is {@code {"type": "Linear", "args": {"in_features": 784, ...}}}, plus {@code "children": [...]} for
 * containers. Type and argument names are PyTorch's ({@code torch.nn.<type>(**args)} builds the same layer), except
 * {@code Residual}, normlab's identity-shortcut block (child {@code body}).
 *
 * <p>Adding a layer type is one {@code leaf(...)} or {@code container(...)} line in the static block below.
 */
public final class LayerTypes {
    private LayerTypes() {}

    /** Builds a module from its arguments and (for containers) its already-built children. */
    @FunctionalInterface
    public interface Builder {
        Module build(Args args, List<Module> children) throws ModelFileException;
    }

    private record Type(String name, Class<? extends Module> cls, Function<Module, JsonObject> args,
                        Function<Module, List<Module>> children, Builder builder, boolean container) {}

    private static final Map<String, Type> BY_NAME = new LinkedHashMap<>();
    private static final Map<Class<?>, Type> BY_CLASS = new LinkedHashMap<>();

    static {
        leaf("Linear", Linear.class, m -> args("in_features", m.in, "out_features", m.out, "bias", m.bias != null),
                a -> new Linear(a.integer("in_features"), a.integer("out_features"), a.bool("bias"), null));
        leaf("Conv2d", Conv2d.class, m -> args("in_channels", m.inChannels, "out_channels", m.outChannels, "kernel_size", new int[] {m.kh, m.kw},
                        "stride", new int[] {m.sh, m.sw}, "padding", new int[] {m.ph, m.pw}, "dilation", new int[] {m.dh, m.dw}, "groups", m.groups,
                        "bias", m.bias != null),
                a -> new Conv2d(a.integer("in_channels"), a.integer("out_channels"), a.ints("kernel_size", 2), a.ints("stride", 2),
                        a.ints("padding", 2), a.ints("dilation", 2), a.integer("groups"), a.bool("bias"), null));
        leaf("BatchNorm1d", BatchNorm1d.class, LayerTypes::bnArgs,
                a -> new BatchNorm1d(a.integer("num_features"), a.number("eps"), a.nullableNumber("momentum"), a.bool("affine"), a.bool("track_running_stats")));
        leaf("BatchNorm2d", BatchNorm2d.class, LayerTypes::bnArgs,
                a -> new BatchNorm2d(a.integer("num_features"), a.number("eps"), a.nullableNumber("momentum"), a.bool("affine"), a.bool("track_running_stats"), a.layout()));
        leaf("FrozenBatchNorm2d", FrozenBatchNorm2d.class, m -> args("num_features", m.numFeatures, "eps", m.eps),
                a -> new FrozenBatchNorm2d(a.integer("num_features"), a.number("eps")));
        leaf("BatchRenorm", BatchRenorm.class, m -> args("num_features", m.numFeatures, "eps", m.eps, "momentum", m.momentum, "affine", m.affine,
                        "warmup_steps", m.schedule.warmupSteps(), "rmax", m.schedule.rmaxFinal(), "rmax_steps", m.schedule.rmaxSteps(),
                        "dmax", m.schedule.dmaxFinal(), "dmax_steps", m.schedule.dmaxSteps()),
                a -> new BatchRenorm(a.integer("num_features"), a.number("eps"), a.number("momentum"), a.bool("affine"),
                        new BatchRenorm.Schedule(a.integer("warmup_steps"), a.number("rmax"), a.integer("rmax_steps"), a.number("dmax"), a.integer("dmax_steps"))));
        leaf("GhostBatchNorm", GhostBatchNorm.class, m -> args("num_features", m.numFeatures, "virtual_batch_size", m.virtualBatchSize, "eps", m.eps,
                        "momentum", m.momentum, "affine", m.affine),
                a -> new GhostBatchNorm(a.integer("num_features"), a.integer("virtual_batch_size"), a.number("eps"), a.nullableNumber("momentum"), a.bool("affine")));
        leaf("InstanceNorm1d", InstanceNorm1d.class, LayerTypes::inArgs,
                a -> new InstanceNorm1d(a.integer("num_features"), a.number("eps"), a.number("momentum"), a.bool("affine"), a.bool("track_running_stats")));
        leaf("InstanceNorm2d", InstanceNorm2d.class, LayerTypes::inArgs,
                a -> new InstanceNorm2d(a.integer("num_features"), a.number("eps"), a.number("momentum"), a.bool("affine"), a.bool("track_running_stats")));
        leaf("LayerNorm", LayerNorm.class, m -> args("normalized_shape", m.normalizedShape, "eps", m.eps, "elementwise_affine", m.weight != null, "bias", m.bias != null),
                a -> new LayerNorm(a.intList("normalized_shape"), a.number("eps"), a.bool("elementwise_affine"), a.bool("bias")));
        leaf("GroupNorm", GroupNorm.class, m -> withLayout(args("num_groups", m.numGroups, "num_channels", m.numChannels, "eps", m.eps, "affine", m.affine), m.layout),
                a -> new GroupNorm(a.integer("num_groups"), a.integer("num_channels"), a.number("eps"), a.bool("affine"), a.layout()));
        leaf("RMSNorm", RMSNorm.class, m -> args("normalized_shape", m.normalizedShape, "eps", m.eps, "elementwise_affine", m.weight != null),
                a -> new RMSNorm(a.intList("normalized_shape"), a.number("eps"), a.bool("elementwise_affine")));
        leaf("MaxPool2d", MaxPool2d.class, m -> args("kernel_size", new int[] {m.kh, m.kw}, "stride", new int[] {m.sh, m.sw}, "padding", new int[] {m.ph, m.pw}),
                a -> new MaxPool2d(a.ints("kernel_size", 2), a.ints("stride", 2), a.ints("padding", 2)));
        leaf("AvgPool2d", AvgPool2d.class, m -> args("kernel_size", new int[] {m.kh, m.kw}, "stride", new int[] {m.sh, m.sw}, "padding", new int[] {m.ph, m.pw},
                        "count_include_pad", m.countIncludePad),
                a -> new AvgPool2d(a.ints("kernel_size", 2), a.ints("stride", 2), a.ints("padding", 2), a.bool("count_include_pad")));
        leaf("GlobalAvgPool", GlobalAvgPool.class, m -> args(), a -> new GlobalAvgPool());
        // A loaded Dropout draws its masks from a fixed seed (the generator's state is not part of the model).
        leaf("Dropout", Dropout.class, m -> args("p", m.p), a -> new Dropout(a.number("p"), new Rng(0)));
        leaf("ReLU", Activation.ReLU.class, m -> args(), a -> new Activation.ReLU());
        leaf("Sigmoid", Activation.Sigmoid.class, m -> args(), a -> new Activation.Sigmoid());
        leaf("Tanh", Activation.Tanh.class, m -> args(), a -> new Activation.Tanh());
        leaf("Flatten", Flatten.class, m -> args(), a -> new Flatten());
        leaf("Identity", Identity.class, m -> args(), a -> new Identity());
        container("Sequential", Sequential.class, Sequential::layers, (a, ch) -> new Sequential(ch));
        container("Residual", Residual.class, m -> List.of(m.body), (a, ch) -> {
            if (ch.size() != 1) throw new IllegalArgumentException("Residual takes exactly one child (its body), got " + ch.size());
            return new Residual(ch.get(0));
        });
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

    /** Registers a layer without children: its type name, class, argument reader and constructor. */
    public static <M extends Module> void leaf(String name, Class<M> cls, Function<M, JsonObject> args, LeafBuilder build) {
        container(name, cls, m -> List.of(), (a, ch) -> {
            if (!ch.isEmpty()) throw new IllegalArgumentException(name + " takes no children, got " + ch.size());
            return build.build(a);
        }, args, false);
    }

    /** Registers a container: its children in order and a constructor taking them. */
    public static <M extends Module> void container(String name, Class<M> cls, Function<M, List<Module>> children, Builder build) {
        container(name, cls, children, build, m -> args(), true);
    }

    @SuppressWarnings("unchecked")
    private static <M extends Module> void container(String name, Class<M> cls, Function<M, List<Module>> children, Builder build,
                                                     Function<M, JsonObject> args, boolean isContainer) {
        Type t = new Type(name, cls, m -> args.apply((M) m), m -> children.apply((M) m), build, isContainer);
        synchronized (BY_NAME) {
            BY_NAME.put(name, t);
            BY_CLASS.put(cls, t);
        }
    }

    /** Builds a leaf from its arguments. */
    @FunctionalInterface
    public interface LeafBuilder {
        Module build(Args args) throws ModelFileException;
    }

    /** The registered type names. */
    public static List<String> names() {
        synchronized (BY_NAME) {
            return List.copyOf(BY_NAME.keySet());
        }
    }

    private static Type typeOf(Module m) {
        Type t;
        synchronized (BY_NAME) {
            t = BY_CLASS.get(m.getClass());
        }
        if (t == null) {
            throw new IllegalArgumentException((m.path().isEmpty() ? m.getClass().getName() : m.label())
                    + ": no model-file type is registered for " + m.getClass().getName() + " (add one line to normlab.io.LayerTypes)");
        }
        return t;
    }

    /** The JSON description of {@code m} and everything under it. */
    public static JsonObject describe(Module m) {
        Type t = typeOf(m);
        JsonObject node = new JsonObject();
        node.addProperty("type", t.name);
        node.add("args", t.args.apply(m));
        if (t.container) {
            JsonArray arr = new JsonArray();
            for (Module c : t.children.apply(m)) arr.add(describe(c));
            node.add("children", arr);
        }
        return node;
    }

    /** Builds the module a description names, with freshly initialized (zero) parameters and default buffers. */
    public static Module build(JsonElement node, String where) throws ModelFileException {
        if (node == null || !node.isJsonObject()) throw new ModelFileException(where + ": expected a layer object, got " + node);
        JsonObject o = node.getAsJsonObject();
        JsonElement type = o.get("type");
        if (type == null || !type.isJsonPrimitive() || !type.getAsJsonPrimitive().isString()) {
            throw new ModelFileException(where + ": missing \"type\"");
        }
        Type t;
        synchronized (BY_NAME) {
            t = BY_NAME.get(type.getAsString());
        }
        if (t == null) throw new ModelFileException(where + ": unknown layer type '" + type.getAsString() + "'; known types: " + names());
        JsonElement a = o.has("args") ? o.get("args") : new JsonObject();
        if (!a.isJsonObject()) throw new ModelFileException(where + " (" + t.name + "): \"args\" must be an object");
        List<Module> children = new ArrayList<>();
        JsonElement ch = o.get("children");
        if (ch != null) {
            if (!ch.isJsonArray()) throw new ModelFileException(where + " (" + t.name + "): \"children\" must be an array");
            int i = 0;
            for (JsonElement c : ch.getAsJsonArray()) children.add(build(c, where + ".children[" + i++ + "]"));
        }
        Args args = new Args(a.getAsJsonObject(), where + " (" + t.name + ")");
        Module m;
        try {
            m = t.builder.build(args, children);
        } catch (IllegalArgumentException e) {
            throw new ModelFileException(where + " (" + t.name + "): " + e.getMessage(), e);
        } catch (OutOfMemoryError e) {
            // Sizes larger than the heap (a corrupt or hostile description): one failed allocation, nothing else affected.
            throw new ModelFileException(where + " (" + t.name + "): too large to allocate with these arguments " + a + " (" + e.getMessage() + ")");
        }
        args.requireAllUsed();
        return m;
    }

    /**
     * A deep copy: same structure, parameters, buffers and per-module training mode; shares nothing with {@code m}.
     */
    public static Module copy(Module m) {
        Module c;
        try {
            c = build(describe(m), "copy of " + m.getClass().getSimpleName());
        } catch (ModelFileException e) {
            throw new IllegalStateException("cannot rebuild a model from its own description: " + e.getMessage(), e);
        }
        c.loadStateDict(m.stateDict());
        copyModes(m, c);
        return c;
    }

    /**
     * A new tree in which every module that {@code replace} maps to a non-null value is replaced by that value;
     * containers are rebuilt around their (possibly replaced) children, other leaves are reused (not copied), so the
     * old tree must not be used afterwards. Every module of the result takes the root's training mode.
     */
    public static Module rebuild(Module m, Function<Module, Module> replace) {
        Module out = rebuildTree(m, replace);
        out.setPath("");
        out.setTraining(m.isTraining());
        return out;
    }

    private static Module rebuildTree(Module m, Function<Module, Module> replace) {
        Module r = replace.apply(m);
        if (r != null) return r;
        Type t = typeOf(m);
        if (!t.container) return m;
        List<Module> newCh = new ArrayList<>();
        for (Module c : t.children.apply(m)) newCh.add(rebuildTree(c, replace));
        try {
            return t.builder.build(new Args(t.args.apply(m), m.label()), newCh);
        } catch (ModelFileException e) {
            throw new IllegalStateException(m.label() + ": cannot rebuild: " + e.getMessage(), e);
        }
    }

    /** Gives every module of {@code to} the mode of its counterpart in {@code from} (same structure). */
    private static void copyModes(Module from, Module to) {
        to.setTraining(from.isTraining()); // sets the whole subtree; the children are then corrected one by one
        Iterator<Module> a = from.children().values().iterator(), b = to.children().values().iterator();
        while (a.hasNext() && b.hasNext()) copyModes(a.next(), b.next());
    }

    /** Builds a JSON object from name/value pairs (numbers, booleans, strings, int arrays, null). */
    public static JsonObject args(Object... kv) {
        JsonObject o = new JsonObject();
        for (int i = 0; i < kv.length; i += 2) {
            String k = (String) kv[i];
            Object v = kv[i + 1];
            if (v == null) o.add(k, JsonNull.INSTANCE);
            else if (v instanceof Number n) o.add(k, new JsonPrimitive(n));
            else if (v instanceof Boolean b) o.add(k, new JsonPrimitive(b));
            else if (v instanceof String s) o.add(k, new JsonPrimitive(s));
            else if (v instanceof int[] arr) {
                JsonArray a = new JsonArray();
                for (int x : arr) a.add(x);
                o.add(k, a);
            } else throw new IllegalArgumentException("args: unsupported value type for '" + k + "': " + v.getClass());
        }
        return o;
    }

    /** Typed access to a node's arguments; every failure names the node and the argument. */
    public static final class Args {
        private final JsonObject o;
        private final String where;
        private final java.util.Set<String> used = new java.util.HashSet<>();

        Args(JsonObject o, String where) {
            this.o = o;
            this.where = where;
        }

        private JsonElement get(String name) throws ModelFileException {
            used.add(name);
            JsonElement v = o.get(name);
            if (v == null) throw new ModelFileException(where + ": missing argument '" + name + "'");
            return v;
        }

        public int integer(String name) throws ModelFileException {
            JsonElement v = get(name);
            try {
                if (v.isJsonPrimitive() && v.getAsJsonPrimitive().isNumber()) return new java.math.BigDecimal(v.getAsString()).intValueExact();
            } catch (ArithmeticException | NumberFormatException ignored) {
                // falls through to the error below
            }
            throw new ModelFileException(where + ": argument '" + name + "' must be an integer, got " + v);
        }

        public double number(String name) throws ModelFileException {
            JsonElement v = get(name);
            if (v.isJsonPrimitive() && v.getAsJsonPrimitive().isNumber()) return v.getAsDouble();
            throw new ModelFileException(where + ": argument '" + name + "' must be a number, got " + v);
        }

        public Double nullableNumber(String name) throws ModelFileException {
            JsonElement v = get(name);
            return v.isJsonNull() ? null : number(name);
        }

        public boolean bool(String name) throws ModelFileException {
            JsonElement v = get(name);
            if (v.isJsonPrimitive() && v.getAsJsonPrimitive().isBoolean()) return v.getAsBoolean();
            throw new ModelFileException(where + ": argument '" + name + "' must be true or false, got " + v);
        }

        /** An integer or a list of integers (PyTorch's {@code kernel_size=3} or {@code (3, 3)}), as an array of {@code n}. */
        public int[] ints(String name, int n) throws ModelFileException {
            JsonElement v = get(name);
            if (v.isJsonArray()) {
                if (v.getAsJsonArray().size() != n) throw new ModelFileException(where + ": argument '" + name + "' must have " + n + " entries, got " + v);
                int[] out = new int[n];
                for (int i = 0; i < n; i++) {
                    JsonElement e = v.getAsJsonArray().get(i);
                    if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) throw new ModelFileException(where + ": argument '" + name + "' must hold integers, got " + v);
                    out[i] = e.getAsInt();
                }
                return out;
            }
            int x = integer(name);
            int[] out = new int[n];
            java.util.Arrays.fill(out, x);
            return out;
        }

        /** A list of integers of any length (e.g. LayerNorm's {@code normalized_shape}); a single integer is a list of one. */
        public int[] intList(String name) throws ModelFileException {
            JsonElement v = get(name);
            if (!v.isJsonArray()) return new int[] {integer(name)};
            return ints(name, v.getAsJsonArray().size());
        }

        /** The optional {@code layout} argument: NCHW when absent. */
        public Layout layout() throws ModelFileException {
            if (!has("layout")) return Layout.NCHW;
            JsonElement v = get("layout");
            if (v.isJsonPrimitive() && v.getAsJsonPrimitive().isString()) {
                for (Layout l : Layout.values()) if (l.name().equals(v.getAsString())) return l;
            }
            throw new ModelFileException(where + ": argument 'layout' must be \"NCHW\" or \"NHWC\", got " + v);
        }

        /** Whether the argument is present (for optional arguments with defaults). */
        public boolean has(String name) {
            used.add(name);
            return o.has(name);
        }

        void requireAllUsed() throws ModelFileException {
            for (String k : o.keySet()) {
                if (!used.contains(k)) throw new ModelFileException(where + ": unknown argument '" + k + "'");
            }
        }
    }
}
