package normlab.nn;

import normlab.tensor.Rng;
import normlab.tensor.Tensor;

/**
 * Weight initializers, as in {@code torch.nn.init}. Fan-in/fan-out follow PyTorch: for a weight of shape
 * (out, in, k...) fan_in = in·Πk and fan_out = out·Πk.
 */
public final class Init {
    private Init() {}

    /** N(0, std²). */
    public static void normal(Tensor t, double std, Rng rng) {
        normal(t, 0, std, rng);
    }

    /** N(mean, std²). */
    public static void normal(Tensor t, double mean, double std, Rng rng) {
        for (int i = 0; i < t.data.length; i++) t.data[i] = (float) (mean + std * rng.nextGaussian());
    }

    /** U(a, b). */
    public static void uniform(Tensor t, double a, double b, Rng rng) {
        for (int i = 0; i < t.data.length; i++) t.data[i] = (float) (a + (b - a) * rng.nextDouble());
    }

    /** Constant value. */
    public static void constant(Tensor t, float v) {
        java.util.Arrays.fill(t.data, v);
    }

    /** Xavier/Glorot uniform: U(±gain·√(6/(fan_in+fan_out))). */
    public static void xavierUniform(Tensor t, double gain, Rng rng) {
        double a = gain * Math.sqrt(6.0 / (fanIn(t) + fanOut(t)));
        uniform(t, -a, a, rng);
    }

    /** Xavier/Glorot normal: N(0, gain²·2/(fan_in+fan_out)). */
    public static void xavierNormal(Tensor t, double gain, Rng rng) {
        normal(t, gain * Math.sqrt(2.0 / (fanIn(t) + fanOut(t))), rng);
    }

    /** Kaiming/He normal for ReLU, fan-in mode: N(0, 2/fan_in). */
    public static void kaimingNormal(Tensor t, Rng rng) {
        normal(t, Math.sqrt(2.0 / fanIn(t)), rng);
    }

    /** Kaiming/He uniform for ReLU, fan-in mode: U(±√(6/fan_in)). */
    public static void kaimingUniform(Tensor t, Rng rng) {
        double a = Math.sqrt(6.0 / fanIn(t));
        uniform(t, -a, a, rng);
    }

    public static int fanIn(Tensor t) {
        if (t.rank() < 2) throw new IllegalArgumentException("fan-in needs a weight of rank >= 2, got " + t.shapeString());
        return t.numel() / t.dim(0);
    }

    public static int fanOut(Tensor t) {
        if (t.rank() < 2) throw new IllegalArgumentException("fan-out needs a weight of rank >= 2, got " + t.shapeString());
        return t.numel() / t.dim(1);
    }
}
