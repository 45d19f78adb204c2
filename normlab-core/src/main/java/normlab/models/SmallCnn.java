package normlab.models;

import java.util.ArrayList;
import java.util.List;
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

    /** The normalization after each convolution. */
    public enum Norm {
        /** No normalization (identity). */
        NONE,
        /** {@link BatchNorm2d}, PyTorch defaults. */
        BN,
        /** {@link GroupNorm} with 4 groups (1 if the channels are not a multiple of 4). */
        GN,
        /** {@link LayerNorm} over (C, H, W), elementwise affine. */
        LN,
        /** {@link InstanceNorm2d} with a per-channel affine (PyTorch's default has none), no running statistics. */
        IN,
        /** {@link RMSNorm} over (C, H, W). */
        RMS,
        /** {@link BatchRenorm} with the paper's schedule. */
        BATCH_RENORM,
        /** {@link GhostBatchNorm} with virtual batch size 8. */
        GHOST_BN,
        /** {@link FrozenBatchNorm2d} at its defaults (a fixed, nearly identity affine). */
        FROZEN_BN;

        /** The layer for c channels of h×w, or null for NONE. */
        public Module make(int c, int h, int w) {
            return switch (this) {
                case NONE -> null;
                case BN -> new BatchNorm2d(c);
                case GN -> new GroupNorm(c % 4 == 0 ? 4 : 1, c);
                case LN -> new LayerNorm(c, h, w);
                case IN -> new InstanceNorm2d(c, 1e-5, 0.1, true, false);
                case RMS -> new RMSNorm(c, h, w);
                case BATCH_RENORM -> new BatchRenorm(c);
                case GHOST_BN -> new GhostBatchNorm(c, 8);
                case FROZEN_BN -> new FrozenBatchNorm2d(c);
            };
        }

        /** Whether the layer has a learnable per-channel shift that makes a preceding conv bias redundant. */
        public boolean hasShift() {
            return this != NONE && this != RMS && this != FROZEN_BN;
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
