package normlab.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import normlab.tensor.Rng;
import org.junit.jupiter.api.Test;

/**
 * The vector lanes of {@link Elementwise} compute exactly the bits of its scalar formulas (what makes runs
 * reproducible whether a value falls on a lane or in the tail), over ordinary, saturating and special inputs; and
 * {@link Elementwise#allFinite} finds a single NaN or infinity anywhere in the array, lanes or tail.
 */
class ElementwiseBitsTest {
    private static float[] inputs() {
        Rng rng = new Rng(3);
        float[] x = new float[4099]; // not a multiple of any lane count: the tail is exercised
        for (int i = 0; i < x.length; i++) x[i] = (float) (30 * rng.nextGaussian());
        float[] special = {0f, -0f, 1e-30f, -1e-30f, 86.9f, 87f, 87.1f, 88f, 88.1f, -86.9f, -87f, -87.1f, -88f, 200f, -200f,
                Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MAX_VALUE, -Float.MAX_VALUE, 0.5f, -0.5f, 0.125f, -0.124f};
        System.arraycopy(special, 0, x, 0, special.length);
        System.arraycopy(special, 0, x, x.length - special.length, special.length);
        return x;
    }

    @Test
    void sigmoidLanesEqualTheScalarFormula() {
        float[] x = inputs(), y = new float[x.length];
        Elementwise.sigmoid(y, x, x.length);
        for (int i = 0; i < x.length; i++) {
            float want = 1f / (1f + Elementwise.exp(-x[i]));
            assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(y[i]), "x = " + x[i]);
        }
    }

    @Test
    void tanhLanesEqualTheScalarFormula() {
        float[] x = inputs(), y = new float[x.length];
        Elementwise.tanh(y, x, x.length);
        for (int i = 0; i < x.length; i++) {
            assertEquals(Float.floatToRawIntBits(Elementwise.tanh(x[i])), Float.floatToRawIntBits(y[i]), "x = " + x[i]);
        }
    }

    @Test
    void expIsAccurate() {
        for (float v : inputs()) {
            if (Math.abs(v) > 80) continue;
            double want = Math.exp(v), got = Elementwise.exp(v);
            assertTrue(Math.abs(got - want) <= 4e-7 * want, "exp(" + v + ") = " + got + ", want " + want);
        }
    }

    @Test
    void allFiniteFindsOneBadValueAnywhere() {
        float[] a = inputs();
        for (int i = 0; i < a.length; i++) if (!Float.isFinite(a[i])) a[i] = 1f;
        assertTrue(Elementwise.allFinite(a, a.length));
        for (int pos : new int[] {0, 17, a.length / 2, a.length - 1}) {
            for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
                float keep = a[pos];
                a[pos] = bad;
                assertFalse(Elementwise.allFinite(a, a.length), bad + " at " + pos);
                assertTrue(Elementwise.allFinite(a, pos), "prefix before " + pos);
                a[pos] = keep;
            }
        }
    }
}
