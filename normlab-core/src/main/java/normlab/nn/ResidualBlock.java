package normlab.nn;

import java.util.ArrayList;
import java.util.List;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * A residual block as four paths of child modules, composed (no kernel of its own beyond the add):
 * <pre>
 *   a = before(x)                        (a pre-activation shared by both branches, or nothing)
 *   y = after(residual(a) + shortcut(a)) (an empty shortcut is the identity; after: a ReLU, or nothing)
 * </pre>
 * Backward: g = after'(dy); da = residual'(g) + shortcut'(g); dx = before'(da). Each path is a list of modules applied
 * in order, so folding ({@code normlab.infer.Fold}) and ONNX export walk a block's paths as they walk a Sequential.
 * Subclasses ({@link BasicBlock}, {@link PreActBlock}) name the children (PyTorch's state-dict keys) and say which
 * path each belongs to; every module appears on exactly one path.
 */
public abstract class ResidualBlock extends Module {
    /** Modules applied to the input before the split; their output feeds both branches. */
    public abstract List<Module> before();

    /** The residual branch F. */
    public abstract List<Module> residual();

    /** The shortcut branch; empty for the identity. */
    public abstract List<Module> shortcut();

    /** Modules applied to the sum. */
    public abstract List<Module> after();

    @Override
    public Tensor forward(Tensor x) {
        Tensor a = x;
        for (Module m : before()) a = m.forward(a);
        Tensor r = a;
        for (Module m : residual()) r = m.forward(r);
        Tensor s = a;
        for (Module m : shortcut()) s = m.forward(s);
        if (!r.sameShape(s)) {
            throw new ShapeException(label() + ": residual branch gives " + r.shapeString() + " but the "
                    + (shortcut().isEmpty() ? "identity shortcut" : "shortcut") + " gives " + s.shapeString() + " for input " + x.shapeString()
                    + (shortcut().isEmpty() ? " (a stride or width change needs a downsample shortcut)" : ""));
        }
        // z = residual(a) + shortcut(a)
        Tensor z = outputTensor(0, r.shape());
        float[] zd = z.data, rd = r.data, sd = s.data;
        for (int i = 0; i < zd.length; i++) zd[i] = rd[i] + sd[i];
        for (Module m : after()) z = m.forward(z);
        return z;
    }

    @Override
    public Tensor backward(Tensor dy) {
        List<Module> after = after(), residual = residual(), shortcut = shortcut(), before = before();
        Tensor g = dy;
        for (int i = after.size() - 1; i >= 0; i--) g = after.get(i).backward(g);
        Tensor gs = g;
        for (int i = shortcut.size() - 1; i >= 0; i--) gs = shortcut.get(i).backward(gs);
        Tensor gr = g;
        for (int i = residual.size() - 1; i >= 0; i--) gr = residual.get(i).backward(gr);
        if (!gr.sameShape(gs)) {
            throw new ShapeException(label() + ": backward: residual branch dx " + gr.shapeString() + " differs from shortcut dx " + gs.shapeString());
        }
        // da = dF/da·g + dS/da·g
        Tensor da = outputTensor(1, gr.shape());
        float[] d = da.data, p = gr.data, q = gs.data;
        for (int i = 0; i < d.length; i++) d[i] = p[i] + q[i];
        for (int i = before.size() - 1; i >= 0; i--) da = before.get(i).backward(da);
        return da;
    }

    /** The paths' modules in one list: before, residual, shortcut, after. */
    public List<Module> pathModules() {
        List<Module> out = new ArrayList<>(before());
        out.addAll(residual());
        out.addAll(shortcut());
        out.addAll(after());
        return out;
    }

    /** Kaiming normal for a ReLU network, fan-out mode (torchvision's ResNet init): N(0, 2/(out·kh·kw)); bias 0. */
    static void kaimingFanOut(Conv2d c, normlab.tensor.Rng rng) {
        if (rng == null) return;
        Init.normal(c.weight.value, Math.sqrt(2.0 / Init.fanOut(c.weight.value)), rng);
        if (c.bias != null) Init.constant(c.bias.value, 0f);
    }

    /** The normalization for c channels from {@code norm}, or an {@link Identity} when there is none. */
    static Module normOrIdentity(java.util.function.IntFunction<Module> norm, int c) {
        Module m = norm == null ? null : norm.apply(c);
        return m == null ? new Identity() : m;
    }

    /** Throws unless the channel counts are positive and the stride is 1 or more. */
    static void requireSizes(String block, int in, int out, int stride) {
        if (in <= 0 || out <= 0 || stride <= 0) {
            throw new IllegalArgumentException(block + ": need in_channels, out_channels and stride > 0, got " + in + ", " + out + ", " + stride);
        }
    }
}
