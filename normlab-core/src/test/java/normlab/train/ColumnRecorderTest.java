package normlab.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import normlab.tensor.Rng;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;

class ColumnRecorderTest {
    @Test
    void keepsOneColumnAcrossBatches() {
        ColumnRecorder r = new ColumnRecorder(1);
        r.accept(Tensor.of(new float[] {0, 10, 0, 1, 20, 1}, 2, 3));
        r.accept(Tensor.of(new float[] {0, 30, 0}, 1, 3));
        assertArrayEquals(new float[] {10, 20, 30}, r.values());
        r.clear();
        assertEquals(0, r.size());
        assertThrows(ShapeException.class, () -> r.accept(Tensor.zeros(2, 1)));
    }

    @Test
    void percentilesInterpolateLinearly() {
        // For the values 1..10 linear interpolation puts percentile p at 1 + 9p/100, whatever order they arrive in.
        ColumnRecorder r = new ColumnRecorder(0);
        float[] v = {7, 3, 10, 1, 5, 2, 9, 4, 8, 6};
        r.accept(Tensor.of(v, 10, 1));
        double[] q = r.percentiles(0, 15, 50, 85, 100);
        double[] want = {1, 1 + 9 * 0.15, 1 + 9 * 0.5, 1 + 9 * 0.85, 10};
        for (int i = 0; i < q.length; i++) assertEquals(want[i], q[i], 1e-9);
    }

    @Test
    void percentilesOfAGaussianSample() {
        // The 15/50/85th percentiles of N(0,1) are −1.0364, 0, 1.0364; 20,000 draws land within 0.03.
        ColumnRecorder r = new ColumnRecorder(0);
        Rng rng = new Rng(9);
        float[] v = new float[20_000];
        for (int i = 0; i < v.length; i++) v[i] = (float) rng.nextGaussian();
        r.accept(Tensor.of(v, v.length, 1));
        double[] q = r.percentiles(15, 50, 85);
        assertEquals(-1.0364, q[0], 0.03);
        assertEquals(0.0, q[1], 0.03);
        assertEquals(1.0364, q[2], 0.03);
    }
}
