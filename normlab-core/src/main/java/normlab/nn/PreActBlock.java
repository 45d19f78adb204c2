package normlab.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;
import normlab.tensor.Rng;

/**
 * The pre-activation residual block (He et al. 2016, "Identity Mappings in Deep Residual Networks"):
 * <pre>
 *   a = ReLU(bn1(x))
 *   y = conv2( ReLU(bn2(conv1(a))) ) + shortcut        nothing after the add
 *   shortcut = x (identity) when s = 1 and in = out,
 *            else downsample(a) = Sequential(conv 1×1, stride s)(a): the projection reads the pre-activated input
 *            (as the paper's code and common CIFAR implementations do), with no norm of its own
 * </pre>
 * With an identity shortcut bn1 and ReLU belong to the residual branch; with a projection they come before the split
 * and feed both branches. The norms come from a factory (BatchNorm2d, GroupNorm) or are none ({@link Identity}; every
 * conv then keeps a bias). Keys: {@code bn1.*}, {@code conv1.weight}, {@code bn2.*}, {@code conv2.weight},
 * {@code downsample.0.weight}; ReLUs are children {@code relu1}, {@code relu2}. Init: Kaiming normal, fan-out, biases
 * 0. A network of these blocks needs a final norm-ReLU before pooling ({@code normlab.models.ResNet} adds it).
 * Folding: bn2 follows conv1 and folds; bn1 normalizes the block's input — a residual sum, not one conv's output — so
 * no layer can absorb it and it stays in place.
 */
public final class PreActBlock extends ResidualBlock {
    public final Module bn1, conv1, bn2, conv2;
    /** The projection shortcut, or null for the identity. */
    public final Module downsample;
    private final Activation.ReLU relu1 = new Activation.ReLU(), relu2 = new Activation.ReLU();
    private final Map<String, Module> children;

    /** A block from in to out channels with stride s; {@code norm} makes the norm for c channels (null: no norm). */
    public PreActBlock(int in, int out, int stride, IntFunction<Module> norm, Rng rng) {
        this(parts(in, out, stride, norm, rng));
    }

    private PreActBlock(Module[] p) {
        this(p[0], p[1], p[2], p[3], p[4]);
    }

    private static Module[] parts(int in, int out, int stride, IntFunction<Module> norm, Rng rng) {
        requireSizes("PreActBlock", in, out, stride);
        boolean bias = norm == null;
        Conv2d c1 = new Conv2d(in, out, 3, stride, 1, 1, 1, bias, null), c2 = new Conv2d(out, out, 3, 1, 1, 1, 1, bias, null);
        kaimingFanOut(c1, rng);
        kaimingFanOut(c2, rng);
        Module ds = null;
        if (stride != 1 || in != out) {
            Conv2d p = new Conv2d(in, out, 1, stride, 0, 1, 1, bias, null);
            kaimingFanOut(p, rng);
            ds = new Sequential(p);
        }
        return new Module[] {normOrIdentity(norm, in), c1, normOrIdentity(norm, out), c2, ds};
    }

    /** A block from its parts (model files, folding); {@code downsample} null for the identity shortcut. */
    public PreActBlock(Module bn1, Module conv1, Module bn2, Module conv2, Module downsample) {
        this.bn1 = bn1;
        this.conv1 = conv1;
        this.bn2 = bn2;
        this.conv2 = conv2;
        this.downsample = downsample;
        Map<String, Module> m = new LinkedHashMap<>();
        m.put("bn1", bn1);
        m.put("relu1", relu1);
        m.put("conv1", conv1);
        m.put("bn2", bn2);
        m.put("relu2", relu2);
        m.put("conv2", conv2);
        if (downsample != null) m.put("downsample", downsample);
        this.children = Collections.unmodifiableMap(m);
        setPath("");
    }

    @Override
    public List<Module> before() {
        return downsample == null ? List.of() : List.of(bn1, relu1);
    }

    @Override
    public List<Module> residual() {
        return downsample == null ? List.of(bn1, relu1, conv1, bn2, relu2, conv2) : List.of(conv1, bn2, relu2, conv2);
    }

    @Override
    public List<Module> shortcut() {
        return downsample == null ? List.of() : List.of(downsample);
    }

    @Override
    public List<Module> after() {
        return List.of();
    }

    @Override
    public Map<String, Module> children() {
        return children;
    }

    /** The parts a model file lists, in order: bn1, conv1, bn2, conv2 and, if present, downsample. */
    public List<Module> parts() {
        List<Module> out = new ArrayList<>(List.of(bn1, conv1, bn2, conv2));
        if (downsample != null) out.add(downsample);
        return out;
    }
}
