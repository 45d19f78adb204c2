package normlab.nn;

import normlab.tensor.Rng;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * Dropout (Srivastava et al. 2014) with inverted scaling, as PyTorch's {@code nn.Dropout(p=0.5)}: in training each
 * element is kept with probability 1−p and scaled, in evaluation the layer is the identity.
 * <pre>
 *   mᵢ ~ Bernoulli(1−p),   yᵢ = xᵢ·mᵢ/(1−p),   dxᵢ = dyᵢ·mᵢ/(1−p)     (p = 1: y = 0)
 * </pre>
 * Masks come from the layer's own seeded {@link Rng} (element i kept when the next float ≥ p), so a run is
 * reproducible. {@link #setMask} fixes the keep-mask (0/1 values) for every following training forward, for golden
 * tests against PyTorch, whose own random stream cannot be reproduced here.
 *
 * <p>Small batches: elements are independent, so batch size 1 and 2 behave like any other.
 */
public final class Dropout extends Module {
    public final double p;
    private final Rng rng;
    private Tensor fixedMask;
    private float[] scale;  // mᵢ/(1−p) of the last training forward; null after an evaluation forward
    private int[] inShape;

    public Dropout(double p, Rng rng) {
        if (!(p >= 0 && p <= 1)) throw new IllegalArgumentException("Dropout: p must be in [0, 1], got " + p);
        this.p = p;
        this.rng = rng;
    }

    /** The mask generator (null when built without one); training checkpoints save and restore its state. */
    public Rng rng() {
        return rng;
    }

    /** Uses {@code keep} (values 0 or 1, the input's shape) as the mask from now on; null returns to random masks. */
    public void setMask(Tensor keep) {
        if (keep != null) {
            for (float v : keep.data) {
                if (v != 0f && v != 1f) throw new IllegalArgumentException(label() + ": a mask holds 0 or 1, got " + v);
            }
        }
        this.fixedMask = keep;
    }

    @Override
    public Tensor forward(Tensor x) {
        inShape = x.shape();
        if (!isTraining() || p == 0) {
            scale = null;
            return x.copy();
        }
        if (fixedMask != null && !fixedMask.sameShape(x)) {
            throw new ShapeException(label() + ": fixed mask has shape " + fixedMask.shapeString() + ", input has " + x.shapeString());
        }
        if (fixedMask == null && rng == null) throw new IllegalStateException(label() + ": training needs an Rng or a fixed mask");
        float keepScale = p == 1 ? 0f : (float) (1.0 / (1.0 - p));
        scale = new float[x.numel()];
        Tensor y = Tensor.zeros(inShape);
        for (int i = 0; i < scale.length; i++) {
            boolean keep = fixedMask != null ? fixedMask.data[i] != 0f : rng.nextFloat() >= p;
            scale[i] = keep ? keepScale : 0f;
            // yᵢ = xᵢ·mᵢ/(1−p)
            y.data[i] = x.data[i] * scale[i];
        }
        return y;
    }

    @Override
    public Tensor backward(Tensor dy) {
        requireForward(inShape, this);
        Tensor.requireShape(label() + " backward", dy, inShape);
        if (scale == null) return dy.copy();
        Tensor dx = Tensor.zeros(inShape);
        for (int i = 0; i < scale.length; i++) dx.data[i] = dy.data[i] * scale[i];
        return dx;
    }
}
