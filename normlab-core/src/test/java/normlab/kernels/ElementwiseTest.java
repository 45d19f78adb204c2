package normlab.kernels;

import static org.junit.jupiter.api.Assertions.assertTrue;

import normlab.nn.Activation;
import normlab.nn.Module;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Sigmoid and Tanh forward: the vector-lane path agrees with the scalar double-precision reference to
 * max |simd − scalar| ≤ 1e-6 (outputs lie in (−1, 1); about 8 float ulps near 1), including saturated inputs (±100).
 */
class ElementwiseTest {
    private final boolean simd0 = Kernels.simd();

    @AfterEach
    void restore() {
        Kernels.setSimd(simd0);
    }

    private static float[] run(Module m, boolean simd) {
        Kernels.setSimd(simd);
        Rng rng = new Rng(8);
        Tensor x = Tensor.zeros(7, 101);
        for (int i = 0; i < x.numel(); i++) x.data[i] = (float) (6 * rng.nextGaussian());
        x.data[0] = 100f;
        x.data[1] = -100f;
        x.data[2] = 0f;
        return m.forward(x).data;
    }

    @Test
    void simdAgreesWithScalar() {
        for (Module m : new Module[] {new Activation.Sigmoid(), new Activation.Tanh()}) {
            float[] ref = run(m, false), got = run(m, true);
            double maxErr = 0;
            for (int i = 0; i < ref.length; i++) maxErr = Math.max(maxErr, Math.abs(ref[i] - got[i]));
            assertTrue(maxErr <= 1e-6, m.getClass().getSimpleName() + ": max err " + maxErr);
        }
    }

    /** exp: within 2 float ulps of the double-precision value over the range activations use. */
    @Test
    void expIsAccurate() {
        double worst = 0;
        for (float x = -80f; x <= 80f; x += 0.01953125f) {
            double ref = Math.exp(x);
            worst = Math.max(worst, Math.abs(Elementwise.exp(x) - ref) / Math.ulp((float) ref));
        }
        assertTrue(worst <= 2, "exp: worst error " + worst + " ulp");
    }

    /**
     * Lanes and scalar tail compute the same function bit for bit, so a value's result does not depend on its position
     * in the array (nor on whether the JIT has compiled the loop: only IEEE +, ×, ÷ and FMA are used).
     */
    @Test
    void lanesEqualScalarTailBitForBit() {
        Rng rng = new Rng(3);
        int n = 1000;
        float[] x = new float[n], ys = new float[n], yt = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (8 * rng.nextGaussian());
        x[0] = 1e-3f;
        x[1] = -0.1f;
        x[2] = 0.125f;
        Elementwise.sigmoid(ys, x, n);
        Elementwise.tanh(yt, x, n);
        for (int i = 0; i < n; i++) {
            assertTrue(Float.floatToIntBits(ys[i]) == Float.floatToIntBits(1f / (1f + Elementwise.exp(-x[i]))), "sigmoid lane " + i);
            assertTrue(Float.floatToIntBits(yt[i]) == Float.floatToIntBits(Elementwise.tanh(x[i])), "tanh lane " + i + " x=" + x[i]);
        }
    }
}
