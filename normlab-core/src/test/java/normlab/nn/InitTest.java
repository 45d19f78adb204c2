package normlab.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * Initializers: means and standard deviations within 5 standard errors of the target, uniform bounds respected and
 * nearly reached, fans as PyTorch computes them, and the same seed giving the same weights.
 */
class InitTest {
    private static double[] meanStd(Tensor t) {
        double s = 0, q = 0;
        for (float v : t.data) {
            s += v;
            q += (double) v * v;
        }
        double m = s / t.numel();
        return new double[] {m, Math.sqrt(q / t.numel() - m * m)};
    }

    private static void assertUniform(Tensor t, double bound) {
        double max = 0;
        for (float v : t.data) {
            assertTrue(Math.abs(v) <= bound, v + " outside ±" + bound);
            max = Math.max(max, Math.abs(v));
        }
        assertTrue(max > 0.999 * bound, "largest |w| " + max + " far from the bound " + bound);
        double[] ms = meanStd(t);
        double n = t.numel();
        assertEquals(0, ms[0], 5 * bound / Math.sqrt(3 * n));
        assertEquals(bound / Math.sqrt(3), ms[1], 5 * bound / Math.sqrt(n));
    }

    @Test
    void fans() {
        assertEquals(300, Init.fanIn(Tensor.zeros(200, 300)));
        assertEquals(200, Init.fanOut(Tensor.zeros(200, 300)));
        assertEquals(3 * 5 * 5, Init.fanIn(Tensor.zeros(16, 3, 5, 5)));
        assertEquals(16 * 5 * 5, Init.fanOut(Tensor.zeros(16, 3, 5, 5)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Init.fanIn(Tensor.zeros(7)));
        assertTrue(e.getMessage().contains("[7]"), e.getMessage());
    }

    @Test
    void normalAndUniform() {
        Rng rng = new Rng(1);
        Tensor t = Tensor.zeros(200, 300);
        int n = t.numel();
        Init.normal(t, 0.5, rng);
        double[] ms = meanStd(t);
        assertEquals(0, ms[0], 5 * 0.5 / Math.sqrt(n));
        assertEquals(0.5, ms[1], 5 * 0.5 / Math.sqrt(2.0 * n));
        Init.normal(t, 3, 0.1, rng);
        assertEquals(3, meanStd(t)[0], 5 * 0.1 / Math.sqrt(n));
        Init.uniform(t, 2, 4, rng);
        for (float v : t.data) assertTrue(v >= 2 && v <= 4);
        assertEquals(3, meanStd(t)[0], 5 / Math.sqrt(3.0 * n));
        Init.constant(t, 0.25f);
        for (float v : t.data) assertEquals(0.25f, v);
    }

    @Test
    void xavierAndKaiming() {
        Rng rng = new Rng(2);
        Tensor t = Tensor.zeros(200, 300);
        int n = t.numel();
        Init.xavierUniform(t, 1.0, rng);
        assertUniform(t, Math.sqrt(6.0 / 500));
        Init.xavierUniform(t, 2.0, rng);
        assertUniform(t, 2 * Math.sqrt(6.0 / 500));
        Init.xavierNormal(t, 1.0, rng);
        assertEquals(Math.sqrt(2.0 / 500), meanStd(t)[1], 5 * Math.sqrt(2.0 / 500) / Math.sqrt(2.0 * n));
        Init.kaimingNormal(t, rng);
        assertEquals(Math.sqrt(2.0 / 300), meanStd(t)[1], 5 * Math.sqrt(2.0 / 300) / Math.sqrt(2.0 * n));
        Init.kaimingUniform(t, rng);
        assertUniform(t, Math.sqrt(6.0 / 300));
        Tensor conv = Tensor.zeros(64, 8, 3, 3);
        Init.kaimingUniform(conv, rng);
        assertUniform(conv, Math.sqrt(6.0 / 72));
    }

    /** Linear's default: PyTorch's U(±1/√in) for weight and bias; the same seed gives the same layer bit for bit. */
    @Test
    void linearDefaultAndReproducible() {
        Linear a = new Linear(400, 100, new Rng(5)), b = new Linear(400, 100, new Rng(5)), c = new Linear(400, 100, new Rng(6));
        assertArrayEquals(a.weight.value.data, b.weight.value.data);
        assertArrayEquals(a.bias.value.data, b.bias.value.data);
        assertTrue(a.weight.value.data[0] != c.weight.value.data[0]);
        assertUniform(a.weight.value, 1 / Math.sqrt(400));
        for (float v : a.bias.value.data) assertTrue(Math.abs(v) <= 1 / Math.sqrt(400));
    }
}
