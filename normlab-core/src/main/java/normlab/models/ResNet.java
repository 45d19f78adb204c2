package normlab.models;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntFunction;
import normlab.nn.Activation;
import normlab.nn.BasicBlock;
import normlab.nn.Conv2d;
import normlab.nn.GlobalAvgPool;
import normlab.nn.Init;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.PreActBlock;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm2d;
import normlab.norm.GroupNorm;
import normlab.tensor.Rng;

/**
 * CIFAR-style residual networks of depth 6n+2 (He et al. 2015 §4.2), sized for 28×28 one-channel images
 * (Fashion-MNIST), as one {@link Sequential}:
 * <pre>
 *   post-activation (BasicBlock):   0 conv3×3(in→w0)  1 norm  2 ReLU  3 stage1  4 stage2  5 stage3  6 GlobalAvgPool  7 Linear
 *   pre-activation  (PreActBlock):  0 conv3×3(in→w0)  1 stage1  2 stage2  3 stage3  4 norm  5 ReLU  6 GlobalAvgPool  7 Linear
 *   stage k: n blocks of width w_k (16, 32, 64), the first with stride s_k (1, 2, 2), the others stride 1
 * </pre>
 * Depth counts the stem conv, 2 convs per block and the Linear: 6n + 2 (8, 14, 20, 32, 44, 56, 110). With strides
 * 1/2/2 a 28×28 input leaves stage 3 at 7×7 (strides 1/2/4: 4×4, for a deep BN network whose last norm sees few
 * positions per channel, {@link #finalSize}). Width or stride changes use the 1×1 projection shortcut ("option B",
 * as torchvision): conv + norm in post-activation blocks, conv alone on the pre-activated input in pre-activation ones.
 * A pre-activation stack has no norm in the stem (the first block starts with one) and ends with norm-ReLU before
 * pooling (He et al. 2016).
 *
 * <p>Normalization: BatchNorm2d (PyTorch defaults), GroupNorm(g) or none; without a norm every conv keeps a bias.
 * Init: convs Kaiming normal with fan-out (torchvision's {@code kaiming_normal_(mode="fan_out", nonlinearity="relu")}),
 * conv biases 0, norms γ = 1, β = 0, the Linear PyTorch's default. {@code zeroInitResidual} (off by default) makes
 * every block start as its shortcut: the γ of the last norm of each post-activation block's residual branch (bn2) is 0,
 * and where that branch ends in a conv instead (pre-activation blocks, or no norm) that conv's weight and bias are 0.
 * State-dict keys: {@code 0.weight}, {@code 3.0.conv1.weight}, {@code 4.0.downsample.1.running_mean}, {@code 7.bias}.
 */
public final class ResNet {
    private ResNet() {}

    /** Which residual block: the original post-activation one or the pre-activation one. */
    public enum Block { POST, PRE }

    /**
     * The normalization of every conv: a label for reports and a factory of the layer for c channels (null: none).
     * {@link #BN}, {@link #gn(int)}, {@link #NONE}.
     */
    public record Norm(String label, IntFunction<Module> factory) {
        /** Whether there is a normalization at all. */
        public boolean present() {
            return factory != null;
        }
    }

    /** BatchNorm2d with PyTorch's defaults. */
    public static final Norm BN = new Norm("BN", BatchNorm2d::new);
    /** No normalization (convs keep their bias). */
    public static final Norm NONE = new Norm("none", null);

    /** GroupNorm with {@code groups} groups (every stage's width must be a multiple of it). */
    public static Norm gn(int groups) {
        if (groups <= 0) throw new IllegalArgumentException("ResNet: GroupNorm needs groups > 0, got " + groups);
        return new Norm("GN(" + groups + ")", c -> {
            if (c % groups != 0) throw new IllegalArgumentException("ResNet: GroupNorm(" + groups + ") cannot divide " + c + " channels into equal groups");
            return new GroupNorm(groups, c);
        });
    }

    /**
     * One network's shape: depth 6n+2, block kind, norm, input channels, classes, stage widths and strides (three each),
     * zero-init of each block's last layer.
     */
    public record Config(int depth, Block block, Norm norm, int inChannels, int classes, int[] widths, int[] strides,
                         boolean zeroInitResidual) {
        public Config {
            if (depth < 8 || (depth - 2) % 6 != 0) {
                throw new IllegalArgumentException("ResNet: depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110), got " + depth);
            }
            if (block == null || norm == null) throw new IllegalArgumentException("ResNet: block kind and norm must be given");
            if (widths.length != 3 || strides.length != 3) {
                throw new IllegalArgumentException("ResNet: need 3 stage widths and 3 strides, got " + Arrays.toString(widths) + " and " + Arrays.toString(strides));
            }
            for (int i = 0; i < 3; i++) {
                if (widths[i] <= 0 || strides[i] <= 0) {
                    throw new IllegalArgumentException("ResNet: widths and strides must be positive, got " + Arrays.toString(widths) + " and " + Arrays.toString(strides));
                }
            }
            if (inChannels <= 0 || classes <= 0) throw new IllegalArgumentException("ResNet: input channels and classes must be positive, got " + inChannels + ", " + classes);
            widths = widths.clone();
            strides = strides.clone();
        }

        /** The CIFAR-style network for 1×28×28 input and 10 classes: widths 16/32/64, strides 1/2/2, no zero-init. */
        public static Config of(int depth, Block block, Norm norm) {
            return new Config(depth, block, norm, 1, 10, new int[] {16, 32, 64}, new int[] {1, 2, 2}, false);
        }

        /** Blocks per stage, n = (depth − 2)/6. */
        public int blocksPerStage() {
            return (depth - 2) / 6;
        }

        public Config withWidths(int... w) {
            return new Config(depth, block, norm, inChannels, classes, w, strides, zeroInitResidual);
        }

        public Config withStrides(int... s) {
            return new Config(depth, block, norm, inChannels, classes, widths, s, zeroInitResidual);
        }

        public Config withZeroInitResidual(boolean on) {
            return new Config(depth, block, norm, inChannels, classes, widths, strides, on);
        }

        /** A short name: {@code preact-20-BN}. */
        public String name() {
            return (block == Block.PRE ? "preact-" : "post-") + depth + "-" + norm.label();
        }
    }

    /** The network of {@code c}, initialized from {@code rng}. */
    public static Sequential build(Config c, Rng rng) {
        IntFunction<Module> norm = c.norm().factory();
        List<Module> layers = new ArrayList<>();
        Conv2d stem = new Conv2d(c.inChannels(), c.widths()[0], 3, 1, 1, 1, 1, norm == null, null);
        Init.normal(stem.weight.value, Math.sqrt(2.0 / Init.fanOut(stem.weight.value)), rng);
        layers.add(stem);
        if (c.block() == Block.POST) {
            if (norm != null) layers.add(norm.apply(c.widths()[0]));
            layers.add(new Activation.ReLU());
        }
        int in = c.widths()[0];
        for (int s = 0; s < 3; s++) {
            List<Module> blocks = new ArrayList<>();
            for (int b = 0; b < c.blocksPerStage(); b++) {
                int stride = b == 0 ? c.strides()[s] : 1, out = c.widths()[s];
                Module blk = c.block() == Block.POST ? new BasicBlock(in, out, stride, norm, rng) : new PreActBlock(in, out, stride, norm, rng);
                if (c.zeroInitResidual()) zeroLast(blk);
                blocks.add(blk);
                in = out;
            }
            layers.add(new Sequential(blocks));
        }
        if (c.block() == Block.PRE) {
            if (norm != null) layers.add(norm.apply(in));
            layers.add(new Activation.ReLU());
        }
        layers.add(new GlobalAvgPool());
        layers.add(new Linear(in, c.classes(), rng));
        return new Sequential(layers);
    }

    /** Makes the block's residual branch output 0: bn2's γ in a normalized post-activation block, else conv2's weight and bias. */
    private static void zeroLast(Module blk) {
        if (blk instanceof BasicBlock b && b.bn2.namedParameters().containsKey("weight")) {
            Init.constant(b.bn2.namedParameters().get("weight").value, 0f);
            return;
        }
        Conv2d last = (Conv2d) (blk instanceof BasicBlock b ? b.conv2 : ((PreActBlock) blk).conv2);
        Init.constant(last.weight.value, 0f);
        if (last.bias != null) Init.constant(last.bias.value, 0f);
    }

    /** Spatial size (h, w) after the three stages for an h×w input (the stem keeps it; each stage's 3×3 conv, pad 1, divides by its stride, rounding up). */
    public static int[] finalSize(Config c, int h, int w) {
        for (int s : c.strides()) {
            h = (h - 1) / s + 1;
            w = (w - 1) / s + 1;
        }
        return new int[] {h, w};
    }
}
