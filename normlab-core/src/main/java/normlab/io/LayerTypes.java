package normlab.io;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import normlab.nn.Layout;
import normlab.nn.Module;

/**
 * Model descriptions: the layer types a description can name are those of {@link LayerSpecs}, each with how to read
 * its constructor arguments off a live module and how to build one from them. It turns a model into a JSON tree and back, which gives model files
 * that reload with no code, deep copies ({@link #copy}) and structural rewrites ({@link #rebuild}, used by folding).
 *
 * <p>A node is {@code {"type": "Linear", "args": {"in_features": 784, ...}}}, plus {@code "children": [...]} for
 * containers. Type and argument names are PyTorch's ({@code torch.nn.<type>(**args)} builds the same layer), except
 * {@code Residual}, normlab's identity-shortcut block (child {@code body}).
 *
 * <p>Adding a layer type is one entry in {@link LayerSpecs}.
 */
public final class LayerTypes {
    private LayerTypes() {}

    /** The registered type names. */
    public static List<String> names() {
        List<String> out = new ArrayList<>();
        for (LayerSpec<?> s : LayerSpecs.all()) out.add(s.name());
        return out;
    }

    private static LayerSpec<?> typeOf(Module m) {
        LayerSpec<?> t = LayerSpecs.of(m);
        if (t == null) {
            throw new IllegalArgumentException((m.path().isEmpty() ? m.getClass().getName() : m.label())
                    + ": no model-file type is registered for " + m.getClass().getName() + " (add its entry to normlab.io.LayerSpecs, the registry behind normlab.io.LayerTypes)");
        }
        return t;
    }

    /** The JSON description of {@code m} and everything under it. */
    public static JsonObject describe(Module m) {
        LayerSpec<?> t = typeOf(m);
        JsonObject node = new JsonObject();
        node.addProperty("type", t.name());
        node.add("args", t.argsOf(m));
        if (t.isContainer()) {
            JsonArray arr = new JsonArray();
            for (Module c : t.childrenOf(m)) arr.add(describe(c));
            node.add("children", arr);
        }
        return node;
    }

    /**
     * PyTorch-like text of {@code m} and everything under it ({@code Module.toString()}): the spec's type name and
     * arguments, e.g. {@code Linear(in_features=784, out_features=100, bias=False)} or {@code BatchNorm1d(100, eps=1e-05,
     * momentum=0.1, affine=True, track_running_stats=True)} ({@code num_features} positional, as PyTorch prints it;
     * numbers, booleans and null in Python's spelling), children one per line as {@code (name): child}, indented by two.
     * A module with no registered spec prints its class name (and its children).
     */
    public static String toText(Module m) {
        LayerSpec<?> t = LayerSpecs.of(m);
        String name = t == null ? m.getClass().getSimpleName() : t.name();
        List<String> lines = new ArrayList<>();
        if (t != null) {
            List<String> parts = new ArrayList<>();
            for (Map.Entry<String, JsonElement> e : t.argsOf(m).entrySet()) {
                String v = python(e.getValue());
                parts.add(e.getKey().equals("num_features") && parts.isEmpty() ? v : e.getKey() + "=" + v);
            }
            if (!parts.isEmpty()) lines.add(String.join(", ", parts));
        }
        for (Map.Entry<String, Module> c : m.children().entrySet()) {
            lines.add("(" + c.getKey() + "): " + toText(c.getValue()).replace("\n", "\n  "));
        }
        if (lines.isEmpty()) return name + "()";
        if (lines.size() == 1 && m.children().isEmpty()) return name + "(" + lines.get(0) + ")";
        return name + "(\n  " + String.join("\n  ", lines) + "\n)";
    }

    /** A JSON argument as Python's repr would print it: True/False/None, 1e-05, 0.1, 784, (2, 2), 'x'. */
    private static String python(JsonElement v) {
        if (v == null || v.isJsonNull()) return "None";
        if (v.isJsonArray()) {
            List<String> items = new ArrayList<>();
            for (JsonElement e : v.getAsJsonArray()) items.add(python(e));
            return "(" + String.join(", ", items) + (items.size() == 1 ? ",)" : ")");
        }
        if (v.isJsonObject()) return v.toString();
        com.google.gson.JsonPrimitive p = v.getAsJsonPrimitive();
        if (p.isBoolean()) return p.getAsBoolean() ? "True" : "False";
        if (p.isString()) return "'" + p.getAsString() + "'";
        Number n = p.getAsNumber();
        if (n instanceof Integer || n instanceof Long || n instanceof Short || n instanceof Byte) return n.toString();
        double d = n.doubleValue();
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        if (d == Math.rint(d) && Math.abs(d) < 1e16) return (long) d + ".0";
        java.math.BigDecimal b = new java.math.BigDecimal(Double.toString(d)).stripTrailingZeros();
        double a = Math.abs(d);
        if (a >= 1e-4 && a < 1e16) return b.toPlainString();
        int exp = b.precision() - b.scale() - 1;
        String digits = b.unscaledValue().abs().toString();
        String mant = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        return (d < 0 ? "-" : "") + mant + "e" + (exp < 0 ? "-" : "+") + String.format("%02d", Math.abs(exp));
    }

    /** Builds the module a description names, with freshly initialized (zero) parameters and default buffers. */
    public static Module build(JsonElement node, String where) throws ModelFileException {
        if (node == null || !node.isJsonObject()) throw new ModelFileException(where + ": expected a layer object, got " + node);
        JsonObject o = node.getAsJsonObject();
        JsonElement type = o.get("type");
        if (type == null || !type.isJsonPrimitive() || !type.getAsJsonPrimitive().isString()) {
            throw new ModelFileException(where + ": missing \"type\"");
        }
        LayerSpec<?> t = LayerSpecs.named(type.getAsString());
        if (t == null) throw new ModelFileException(where + ": unknown layer type '" + type.getAsString() + "'; known types: " + names());
        JsonElement a = o.has("args") ? o.get("args") : new JsonObject();
        if (!a.isJsonObject()) throw new ModelFileException(where + " (" + t.name() + "): \"args\" must be an object");
        List<Module> children = new ArrayList<>();
        JsonElement ch = o.get("children");
        if (ch != null) {
            if (!ch.isJsonArray()) throw new ModelFileException(where + " (" + t.name() + "): \"children\" must be an array");
            int i = 0;
            for (JsonElement c : ch.getAsJsonArray()) children.add(build(c, where + ".children[" + i++ + "]"));
        }
        Args args = new Args(a.getAsJsonObject(), where + " (" + t.name() + ")");
        Module m;
        try {
            m = t.builder().build(args, children);
        } catch (IllegalArgumentException e) {
            throw new ModelFileException(where + " (" + t.name() + "): " + e.getMessage(), e);
        } catch (OutOfMemoryError e) {
            // Sizes larger than the heap (a corrupt or hostile description): one failed allocation, nothing else affected.
            throw new ModelFileException(where + " (" + t.name() + "): too large to allocate with these arguments " + a + " (" + e.getMessage() + ")");
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
        LayerSpec<?> t = typeOf(m);
        if (!t.isContainer()) return m;
        List<Module> newCh = new ArrayList<>();
        for (Module c : t.childrenOf(m)) newCh.add(rebuildTree(c, replace));
        try {
            return t.builder().build(new Args(t.argsOf(m), m.label()), newCh);
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

        /** A string argument (GELU's {@code approximate}, an activation's or a normalization's name). */
        public String string(String name) throws ModelFileException {
            JsonElement v = get(name);
            if (v.isJsonPrimitive() && v.getAsJsonPrimitive().isString()) return v.getAsString();
            throw new ModelFileException(where + ": argument '" + name + "' must be a string, got " + v);
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
