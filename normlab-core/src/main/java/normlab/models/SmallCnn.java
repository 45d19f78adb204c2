package normlab.models;

import java.util.ArrayList;
import java.util.List;
import normlab.io.LayerSpec;
import normlab.io.LayerSpecs;
import normlab.nn.Activation;
import normlab.nn.Conv2d;
import normlab.nn.Flatten;
import normlab.nn.Linear;
import normlab.nn.MaxPool2d;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm2d;
import normlab.norm.BatchRenorm;
import normlab.norm.FrozenBatchNorm2d;
import normlab.norm.GhostBatchNorm;
import normlab.norm.GroupNorm;
import normlab.norm.InstanceNorm2d;
import normlab.norm.LayerNorm;
import normlab.norm.RMSNorm;
import normlab.tensor.Rng;

/**
 * A small CNN for 1×28×28 images whose normalization is a parameter, so the family can be compared on one network:
 * <pre>
 *   conv3×3(1→c1, pad 1) → norm(c1, 28, 28) → ReLU → maxpool 2
 *   conv3×3(c1→c2, pad 1) → norm(c2, 14, 14) → ReLU → maxpool 2 → flatten → Linear(c2·7·7 → classes)
 * </pre>
 * The convolutions carry a bias only when the normalization has no learnable shift of its own (none, RMSNorm,
 * FrozenBN), since a per-channel β makes it redundant. As a Sequential, state-dict keys are PyTorch's
 * ({@code 0.weight}, {@code 1.running_mean}, …).
 */
public final class SmallCnn {
    private SmallCnn() {}

    /**
     * The normalization after each convolution: NONE, or a layer type whose spec in {@link LayerSpecs} declares a CNN
     * use (its factory and display label). The constants below keep the historical order (which seeds and reports
     * follow); a spec with a CNN use and no constant here comes after them, in registration order.
     */
    public static final class Norm {
        private static final List<Norm> VALUES = new ArrayList<>();

        /** No normalization (identity). */
        public static final Norm NONE = add(new LayerSpec.CnnUse("NONE", "none", null));
        /** {@link BatchNorm2d}, PyTorch defaults. */
        public static final Norm BN = fromSpec("BN");
        /** {@link GroupNorm} with 4 groups (1 if the channels are not a multiple of 4). */
        public static final Norm GN = fromSpec("GN");
        /** {@link LayerNorm} over (C, H, W), elementwise affine. */
        public static final Norm LN = fromSpec("LN");
        /** {@link InstanceNorm2d} with a per-channel affine (PyTorch's default has none), no running statistics. */
        public static final Norm IN = fromSpec("IN");
        /** {@link RMSNorm} over (C, H, W). */
        public static final Norm RMS = fromSpec("RMS");
        /** {@link BatchRenorm} with the paper's schedule. */
        public static final Norm BATCH_RENORM = fromSpec("BATCH_RENORM");
        /** {@link GhostBatchNorm} with virtual batch size 8. */
        public static final Norm GHOST_BN = fromSpec("GHOST_BN");
        /** {@link FrozenBatchNorm2d} at its defaults (a fixed, nearly identity affine). */
        public static final Norm FROZEN_BN = fromSpec("FROZEN_BN");

        static {
            for (LayerSpec<?> s : LayerSpecs.all()) {
                LayerSpec.CnnUse u = s.cnn();
                if (u != null && VALUES.stream().noneMatch(n -> n.use.constant().equals(u.constant()))) add(u);
            }
        }

        private final LayerSpec.CnnUse use;
        private final int ordinal;
        private final boolean hasShift;

        private Norm(LayerSpec.CnnUse use, int ordinal) {
            this.use = use;
            this.ordinal = ordinal;
            this.hasShift = use.factory() != null && use.factory().make(4, 2, 2).namedParameters().containsKey("bias");
        }

        private static Norm add(LayerSpec.CnnUse use) {
            Norm n = new Norm(use, VALUES.size());
            VALUES.add(n);
            return n;
        }

        private static Norm fromSpec(String constant) {
            for (LayerSpec<?> s : LayerSpecs.all()) {
                if (s.cnn() != null && s.cnn().constant().equals(constant)) return add(s.cnn());
            }
            throw new IllegalStateException("SmallCnn.Norm." + constant + ": no layer spec declares this CNN use");
        }

        /** Every choice: NONE first, then the constants in order, then other specs' CNN uses. */
        public static Norm[] values() {
            return VALUES.toArray(new Norm[0]);
        }

        /** The choice named {@code name} ({@code "BN"}). */
        public static Norm valueOf(String name) {
            for (Norm n : VALUES) if (n.name().equals(name)) return n;
            throw new IllegalArgumentException("No constant " + Norm.class.getCanonicalName() + "." + name);
        }

        /** The constant's name ({@code BN}). */
        public String name() {
            return use.constant();
        }

        /** Position in {@link #values()}. */
        public int ordinal() {
            return ordinal;
        }

        /** The label experiments show ({@code BatchNorm}; {@code none} for NONE), from the spec. */
        public String label() {
            return use.label();
        }

        /** The layer for c channels of h×w, or null for NONE. */
        public Module make(int c, int h, int w) {
            return use.factory() == null ? null : use.factory().make(c, h, w);
        }

        /** Whether the layer has a learnable per-channel shift (a {@code bias} parameter) that makes a preceding conv bias redundant. */
        public boolean hasShift() {
            return hasShift;
        }

        @Override
        public String toString() {
            return name();
        }
    }

    /** The network with c1 and c2 channels and 10 classes. */
    public static Sequential build(Norm norm, int c1, int c2, Rng rng) {
        return build(norm, c1, c2, 10, rng);
    }

    public static Sequential build(Norm norm, int c1, int c2, int classes, Rng rng) {
        if (c1 <= 0 || c2 <= 0 || classes <= 0) {
            throw new IllegalArgumentException("SmallCnn: channel and class counts must be positive, got " + c1 + ", " + c2 + ", " + classes);
        }
        boolean bias = !norm.hasShift();
        List<Module> layers = new ArrayList<>();
        layers.add(new Conv2d(1, c1, 3, 1, 1, 1, 1, bias, rng));
        Module n1 = norm.make(c1, 28, 28);
        if (n1 != null) layers.add(n1);
        layers.add(new Activation.ReLU());
        layers.add(new MaxPool2d(2));
        layers.add(new Conv2d(c1, c2, 3, 1, 1, 1, 1, bias, rng));
        Module n2 = norm.make(c2, 14, 14);
        if (n2 != null) layers.add(n2);
        layers.add(new Activation.ReLU());
        layers.add(new MaxPool2d(2));
        layers.add(new Flatten());
        layers.add(new Linear(c2 * 7 * 7, classes, rng));
        return new Sequential(layers);
    }
}
