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
}
