package normlab.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.Arrays;
import java.util.Map;
import normlab.io.LayerTypes;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * An eval-mode Linear packs Wᵀ once per weight version: not again on the next call, but again after an optimizer step
 * and after {@code loadStateDict} (without any train/eval switch in between), so its outputs then equal a fresh model's.
 * 40 rows take the packed path; 1 row the unpacked dot-product kernel (checked too). The eval forward of many rows
 * gives the training forward's bits.
 */
class LinearEvalCacheTest {
    static Tensor input(Rng r, int n, int k) {
        Tensor x = Tensor.zeros(n, k);
        for (int i = 0; i < x.numel(); i++) x.data[i] = (float) r.nextGaussian();
        return x;
    }

    /** Outputs of a fresh copy of {@code m} (built from its state dict) in eval mode. */
    static float[] fresh(Module m, Tensor x) {
        Module c = LayerTypes.copy(m);
        c.eval();
        return c.forward(x).data.clone();
    }

    @Test
    void packsOncePerVersionAndAgainAfterAnOptimizerStep() {
        Rng r = new Rng(11);
        Linear lin = new Linear(300, 70, r);
        Sequential m = new Sequential(lin);
        m.eval();
        Tensor x = input(r, 40, 300), x1 = input(r, 1, 300);
        float[] y0 = m.forward(x).data.clone();
        m.forward(x);
        m.forward(x);
        assertEquals(1, lin.packCount(), "re-packed on a call with unchanged weights");
        // a gradient step while in eval mode: nothing but the optimizer tells the layer the weights moved
        m.forward(x);
        m.backward(input(r, 40, 70));
        new SGD(m.parameters(), 0.5).step();
        float[] y1 = m.forward(x).data.clone(), y1one = m.forward(x1).data.clone();
        assertEquals(2, lin.packCount());
        assertFalse(Arrays.equals(y0, y1), "the step changed nothing");
        assertArrayEquals(fresh(m, x), y1, "stale packed weights after an optimizer step");
        assertArrayEquals(fresh(m, x1), y1one);
    }

    @Test
    void packsAgainAfterLoadStateDict() {
        Rng r = new Rng(12);
        Sequential m = new Sequential(new Linear(200, 33, r)), other = new Sequential(new Linear(200, 33, r));
        m.eval();
        Tensor x = input(r, 40, 200);
        float[] before = m.forward(x).data.clone();
        Map<String, Tensor> state = other.stateDict();
        m.loadStateDict(state);
        float[] after = m.forward(x).data.clone();
        assertFalse(Arrays.equals(before, after));
        assertArrayEquals(fresh(other, x), after, "stale packed weights after loadStateDict");
    }

    @Test
    void evalForwardOfManyRowsGivesTheTrainingForwardsBits() {
        Rng r = new Rng(13);
        Linear lin = new Linear(784, 100, r);
        for (int n : new int[] {17, 64, 300}) {
            Tensor x = input(r, n, 784);
            lin.train();
            float[] train = lin.forward(x).data.clone();
            lin.eval();
            assertArrayEquals(train, lin.forward(x).data, "batch " + n);
        }
    }
}
