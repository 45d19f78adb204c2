package normlab.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;
import normlab.tensor.Rng;

/**
 * The original post-activation residual block (He et al. 2015, torchvision's {@code BasicBlock}):
 * <pre>
 *   y = ReLU( bn2(conv2( ReLU(bn1(conv1(x))) )) + shortcut(x) )
 *   conv1: 3×3, stride s, pad 1, in → out;  conv2: 3×3, stride 1, pad 1, out → out
 *   shortcut: identity when s = 1 and in = out, else "option B" downsample = Sequential(conv 1×1 stride s, norm)
 * </pre>
 * The norms are any per-channel module made by a factory (BatchNorm2d, GroupNorm), or none ({@link Identity} in their
 * place, and every conv then keeps a bias). State-dict keys are torchvision's: {@code conv1.weight}, {@code bn1.*},
 * {@code conv2.weight}, {@code bn2.*}, {@code downsample.0.weight}, {@code downsample.1.*}. Init: Kaiming normal,
 * fan-out (torchvision), conv biases 0; the norm layers keep their own init (γ = 1, β = 0). The two ReLUs are children
 * {@code relu1}, {@code relu2} (no state). Each BN follows its conv directly, so all of them fold at inference.
 */
public final class BasicBlock extends ResidualBlock {
    public final Module conv1, bn1, conv2, bn2;
    /** The projection shortcut, or null for the identity. */
    public final Module downsample;
    private final Activation.ReLU relu1 = new Activation.ReLU(), relu2 = new Activation.ReLU();
    private final Map<String, Module> children;

    /** A block from in to out channels with stride s; {@code norm} makes the norm for c channels (null: no norm). */
    public BasicBlock(int in, int out, int stride, IntFunction<Module> norm, Rng rng) {
        this(parts(in, out, stride, norm, rng));
    }

    private BasicBlock(Module[] p) {
        this(p[0], p[1], p[2], p[3], p[4]);
    }

    private static Module[] parts(int in, int out, int stride, IntFunction<Module> norm, Rng rng) {
        requireSizes("BasicBlock", in, out, stride);
        boolean bias = norm == null;
        Conv2d c1 = new Conv2d(in, out, 3, stride, 1, 1, 1, bias, null), c2 = new Conv2d(out, out, 3, 1, 1, 1, 1, bias, null);
        kaimingFanOut(c1, rng);
        kaimingFanOut(c2, rng);
        Module ds = null;
        if (stride != 1 || in != out) {
            Conv2d p = new Conv2d(in, out, 1, stride, 0, 1, 1, bias, null);
            kaimingFanOut(p, rng);
            ds = norm == null ? new Sequential(p) : new Sequential(p, normOrIdentity(norm, out));
        }
        return new Module[] {c1, normOrIdentity(norm, out), c2, normOrIdentity(norm, out), ds};
    }

    /** A block from its parts (model files, folding); {@code downsample} null for the identity shortcut. */
    public BasicBlock(Module conv1, Module bn1, Module conv2, Module bn2, Module downsample) {
        this.conv1 = conv1;
        this.bn1 = bn1;
        this.conv2 = conv2;
        this.bn2 = bn2;
        this.downsample = downsample;
        Map<String, Module> m = new LinkedHashMap<>();
        m.put("conv1", conv1);
        m.put("bn1", bn1);
        m.put("relu1", relu1);
        m.put("conv2", conv2);
        m.put("bn2", bn2);
        if (downsample != null) m.put("downsample", downsample);
        m.put("relu2", relu2);
        this.children = Collections.unmodifiableMap(m);
        setPath("");
    }

    @Override
    public List<Module> before() {
        return List.of();
    }

    @Override
    public List<Module> residual() {
        return List.of(conv1, bn1, relu1, conv2, bn2);
    }

    @Override
    public List<Module> shortcut() {
        return downsample == null ? List.of() : List.of(downsample);
    }

    @Override
    public List<Module> after() {
        return List.of(relu2);
    }

    @Override
    public Map<String, Module> children() {
        return children;
    }

    /** The parts a model file lists, in order: conv1, bn1, conv2, bn2 and, if present, downsample. */
    public List<Module> parts() {
        List<Module> out = new ArrayList<>(List.of(conv1, bn1, conv2, bn2));
        if (downsample != null) out.add(downsample);
        return out;
    }
}
