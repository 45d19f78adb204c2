package normlab.infer;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import normlab.io.LayerSpec;
import normlab.io.LayerSpecs;
import normlab.io.LayerTypes;
import normlab.nn.Identity;
import normlab.nn.Layout;
import normlab.nn.Module;
import normlab.nn.Residual;
import normlab.nn.ResidualBlock;
import normlab.nn.Sequential;
import normlab.norm.RunningStatsNorm;

/**
 * Folds eval-mode BatchNorm (BatchNorm1d/2d, FrozenBatchNorm2d, and BatchRenorm and GhostBatchNorm, whose evaluation
 * is the same affine) into the Linear or Conv2d before it. At test time BN is the fixed per-channel affine
 * y = k·x + s with k = γ/√(rv+ε) and s = β − rm·k (Ioffe &amp; Szegedy, Algorithm 2), so a Linear (or Conv2d)
 * z = W·x + b followed by it is one layer with
 * <pre>
 *   W' = W·γ/√(rv+ε)              (row o of W, i.e. output channel o, scaled by k_o)
 *   b' = (b − rm)·γ/√(rv+ε) + β   (b = 0 when the layer has no bias; γ = 1, β = 0 when BN is not affine)
 * </pre>
 * The folded layer always has a bias. Which layers fold is asked, not listed: a norm folds if it is a
 * {@link RunningStatsNorm}, and a producer takes it by its {@link LayerSpec} fold rule (in {@link LayerSpecs}). The BN's place is taken by an {@link Identity}, so every other layer keeps its
 * key. The whole-model pass ({@link #fold}) works on a deep copy (the original is untouched) and returns it in eval
 * mode. A BN folds only into the layer immediately before it in a {@link Sequential} (nested Sequentials are one
 * sequence); anything in between — an activation, pooling, dropout, another BN, the join of a {@link Residual} — or
 * a BN without running statistics is refused with an error naming both layers. In a {@link ResidualBlock} each path
 * is such a sequence: a post-activation block's BNs follow their convs and fold (the downsample's BN into its 1×1
 * conv); a pre-activation block's first BN normalizes the block's input, a residual sum, and is refused saying so.
 */
public final class Fold {
    private Fold() {}

    /** A BN that was folded, and the layer it went into (labels in the original model). */
    public record Pair(String producer, String norm) {}

    /** The folded model, the pairs folded and, for {@link #foldWhereAllowed}, the BNs left in place and why. */
    public record Result(Module model, List<Pair> folded, List<String> refused) {}

    /** Thrown by {@link #fold} when a BN cannot be folded; lists every such BN. */
    public static final class FoldException extends IllegalArgumentException {
        public final List<String> reasons;

        FoldException(List<String> reasons) {
            super(String.join("\n", reasons));
            this.reasons = List.copyOf(reasons);
        }
    }

    /** Folds every BN of {@code model} into the layer before it; throws {@link FoldException} if any BN cannot be. */
    public static Module fold(Module model) {
        Result r = plan(model, true);
        return r.model();
    }

    /** Folds every BN that can be folded and leaves the others in place, listing them with the reason. */
    public static Result foldWhereAllowed(Module model) {
        return plan(model, false);
    }

    private static Result plan(Module model, boolean strict) {
        Module copy = LayerTypes.copy(model);
        List<Module[]> pairs = new ArrayList<>();
        List<String> refused = new ArrayList<>();
        scan(copy, pairs, refused);
        if (strict && !refused.isEmpty()) throw new FoldException(refused);
        Map<Module, Module> replace = new IdentityHashMap<>();
        List<Pair> folded = new ArrayList<>();
        for (Module[] p : pairs) {
            replace.put(p[0], foldPair(p[0], p[1]));
            replace.put(p[1], new Identity());
            folded.add(new Pair(p[0].label(), p[1].label()));
        }
        Module out = LayerTypes.rebuild(copy, replace::get);
        out.eval();
        return new Result(out, folded, refused);
    }

    /**
     * Whether {@code m} is a normalization this class folds: one whose evaluation is BatchNorm's fixed affine with
     * running statistics ({@link RunningStatsNorm}: BatchNorm1d/2d, FrozenBatchNorm2d, BatchRenorm, GhostBatchNorm).
     */
    public static boolean isFoldableNorm(Module m) {
        return m instanceof RunningStatsNorm;
    }

    /** Whether a BN can fold into {@code m} (a per-output-channel linear map whose spec has a fold rule: Linear, Conv2d). */
    public static boolean isProducer(Module m) {
        LayerSpec<?> s = LayerSpecs.ofKind(m);
        return s != null && s.isProducer();
    }

    /**
     * The eval-mode affine of a BN as {k, s} per channel (y = k·x + s), in double:
     * k = γ/√(rv+ε), s = β − rm·k.
     */
    public static double[][] affineOf(Module norm) {
        if (!(norm instanceof RunningStatsNorm r)) throw new IllegalArgumentException(norm.label() + " is not a normalization that can be folded");
        RunningStatsNorm.RunningAffine a = r.runningAffine();
        if (a == null) {
            throw new IllegalArgumentException(norm.label() + " has no running statistics (track_running_stats=false): "
                    + "it normalizes with batch statistics even in eval mode, so it is not a fixed affine and cannot be folded");
        }
        if (a.layout() != Layout.NCHW) {
            throw new IllegalArgumentException(norm.label() + " is channels-last (NHWC), but Linear and Conv2d give channels at dim 1");
        }
        return a.scaleShift();
    }

    /** The single layer equal to {@code producer} followed by {@code norm} in eval mode. Neither is modified. */
    public static Module foldPair(Module producer, Module norm) {
        double[][] ks = affineOf(norm);
        LayerSpec<?> spec = LayerSpecs.ofKind(producer);
        if (spec != null && spec.isProducer()) {
            requireChannels(producer, spec.outChannels(producer), norm, ks[0].length);
            return spec.fold(producer, ks[0], ks[1]);
        }
        throw new IllegalArgumentException("cannot fold " + norm.label() + " into " + producer.label()
                + ": only Linear and Conv2d take a folded BatchNorm");
    }

    private static void requireChannels(Module producer, int out, Module norm, int c) {
        if (out != c) {
            throw new IllegalArgumentException("cannot fold " + norm.label() + " (" + c + " channels) into " + producer.label()
                    + " (" + out + " output channels)");
        }
    }

    /**
     * W'[o, :] = W[o, :]·k_o and b'_o = b_o·k_o + s_o (= (b_o − rm_o)·k_o + β_o), for weights of shape (out, rest):
     * rest = in for Linear, in·kh·kw for Conv2d. b may be null (no bias: b = 0).
     */
    public static void scaleRows(float[] wOut, float[] bOut, float[] w, float[] b, double[] k, double[] s, int out, int rest) {
        for (int o = 0; o < out; o++) {
            double ko = k[o];
            int base = o * rest;
            for (int j = 0; j < rest; j++) wOut[base + j] = (float) (w[base + j] * ko);
            bOut[o] = (float) ((b == null ? 0.0 : b[o]) * ko + s[o]);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Finding pairs: a Sequential (nested ones flattened) is one sequence; any other container is opaque to its
    // neighbours and its children are scanned on their own.

    private static void scan(Module m, List<Module[]> pairs, List<String> refused) {
        if (m instanceof Sequential) {
            List<Module> seq = new ArrayList<>();
            flatten(m, seq);
            scanPath(seq, null, pairs, refused);
        } else if (m instanceof ResidualBlock b) {
            // Each path of a residual block is a sequence of its own; the join (the add) lies between paths.
            List<Module> first = new ArrayList<>();
            for (Module c : b.before()) flatten(c, first);
            if (b.before().isEmpty()) for (Module c : b.residual()) flatten(c, first);
            scanPath(first, b, pairs, refused);
            if (!b.before().isEmpty()) scanPath(flat(b.residual()), null, pairs, refused);
            scanPath(flat(b.shortcut()), null, pairs, refused);
            scanPath(flat(b.after()), null, pairs, refused);
        } else if (isFoldableNorm(m)) {
            refused.add("cannot fold " + m.label() + ": no Linear or Conv2d comes directly before it");
        } else {
            for (Module c : m.children().values()) scan(c, pairs, refused);
        }
    }

    /** One sequence of layers; {@code block} is the residual block whose input (or pre-activation) it starts from, if any. */
    private static void scanPath(List<Module> seq, ResidualBlock block, List<Module[]> pairs, List<String> refused) {
        for (int i = 0; i < seq.size(); i++) {
            Module el = seq.get(i);
            if (isFoldableNorm(el)) {
                if (i == 0 && block != null) {
                    refused.add("cannot fold " + el.label() + ": it is a pre-activation norm, the first layer of " + block.label()
                            + ", normalizing the block's input (a residual sum or the stem's output) rather than the output of one "
                            + "Linear or Conv2d, so no layer can absorb it; it stays in place as its eval-mode affine");
                } else {
                    check(seq, i, pairs, refused);
                }
            } else if (!el.children().isEmpty()) {
                scan(el, pairs, refused);
            }
        }
    }

    private static List<Module> flat(List<Module> path) {
        List<Module> out = new ArrayList<>();
        for (Module c : path) flatten(c, out);
        return out;
    }

    private static void flatten(Module m, List<Module> out) {
        if (m instanceof Sequential s) for (Module c : s.layers()) flatten(c, out);
        else out.add(m);
    }

    private static void check(List<Module> seq, int i, List<Module[]> pairs, List<String> refused) {
        Module bn = seq.get(i);
        Module prev = i > 0 ? seq.get(i - 1) : null;
        if (prev != null && isProducer(prev)) {
            try {
                affineOf(bn);
                pairs.add(new Module[] {prev, bn});
            } catch (IllegalArgumentException e) {
                refused.add("cannot fold " + bn.label() + " into " + prev.label() + ": " + e.getMessage());
            }
            return;
        }
        if (prev == null) {
            refused.add("cannot fold " + bn.label() + ": no Linear or Conv2d comes before it");
            return;
        }
        Module producer = null;
        for (int j = i - 1; j >= 0 && producer == null; j--) producer = lastProducer(seq.get(j));
        String between = prev instanceof Residual || prev instanceof ResidualBlock ? "the residual join of " + prev.label() : prev.label();
        if (producer == null) {
            refused.add("cannot fold " + bn.label() + ": no Linear or Conv2d comes before it (" + between + " does)");
        } else {
            refused.add("cannot fold " + bn.label() + " into " + producer.label() + ": " + between + " lies between them");
        }
    }

    /** The last Linear/Conv2d inside {@code m} in forward order (m itself if it is one; a block's residual branch's), or null. */
    private static Module lastProducer(Module m) {
        if (isProducer(m)) return m;
        // A residual block's output comes out of its residual branch (its after path has no producer).
        List<Module> ch = new ArrayList<>(m instanceof ResidualBlock b ? b.residual() : m.children().values());
        for (int j = ch.size() - 1; j >= 0; j--) {
            Module p = lastProducer(ch.get(j));
            if (p != null) return p;
        }
        return null;
    }
}
