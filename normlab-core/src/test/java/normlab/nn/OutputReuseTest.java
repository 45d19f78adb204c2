package normlab.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.ArrayList;
import java.util.List;
import normlab.norm.BatchNorm1d;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * Output-buffer reuse and {@code backwardParams}: with {@link Module#reuseOutputs} on, repeated forward/backward calls
 * on different inputs give exactly the results of a model that allocates fresh tensors (no stale value leaks through a
 * reused buffer), the buffers really are reused, and backwardParams accumulates the same parameter gradients as a full
 * backward.
 */
class OutputReuseTest {
    private static Sequential mlp(long seed) {
        Rng rng = new Rng(seed);
        return new Sequential(new Linear(13, 9, rng), new BatchNorm1d(9), new Activation.Sigmoid(), new Linear(9, 7, rng),
                new Activation.Tanh(), new Linear(7, 5, rng), new Activation.ReLU(), new Linear(5, 3, false, rng));
    }

    private static Tensor gaussian(Rng rng, int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) t.data[i] = (float) rng.nextGaussian();
        return t;
    }

    /** Forward + backward on each input in turn (x of xShape, dy of dyShape); outputs, dx and gradients, copied. */
    private static List<float[]> run(Sequential m, boolean reuse, boolean paramsOnly, int[] xShape, int[] dyShape) {
        m.reuseOutputs(reuse);
        Rng rng = new Rng(11);
        List<float[]> out = new ArrayList<>();
        for (int call = 0; call < 3; call++) {
            Tensor x = gaussian(rng, xShape), dy = gaussian(rng, dyShape);
            m.zeroGrad();
            out.add(m.forward(x).data.clone());
            if (paramsOnly) m.backwardParams(dy);
            else out.add(m.backward(dy).data.clone());
            for (Parameter p : m.parameters()) out.add(p.grad.data.clone());
        }
        return out;
    }

    private static List<float[]> run(Sequential m, boolean reuse, boolean paramsOnly) {
        return run(m, reuse, paramsOnly, new int[] {6, 13}, new int[] {6, 3});
    }

    @Test
    void reusedBuffersGiveTheFreshResults() {
        List<float[]> fresh = run(mlp(4), false, false), reused = run(mlp(4), true, false);
        for (int i = 0; i < fresh.size(); i++) assertArrayEquals(fresh.get(i), reused.get(i), "array " + i);
    }

    private static Sequential cnn(long seed) {
        Rng rng = new Rng(seed);
        return new Sequential(new Conv2d(2, 4, 3, 1, 1, 1, 1, true, rng), new normlab.norm.BatchNorm2d(4), new Activation.ReLU(),
                new MaxPool2d(2), new Conv2d(4, 6, 3, 2, 1, 1, 2, false, rng), new Activation.ReLU(), new Flatten(),
                new Linear(6 * 2 * 2, 3, rng));
    }

    /** {@link #run} for the CNN on (5, 2, 9, 9) inputs. */
    private static List<float[]> runCnn(Sequential m, boolean reuse, boolean paramsOnly) {
        return run(m, reuse, paramsOnly, new int[] {5, 2, 9, 9}, new int[] {5, 3});
    }

    @Test
    void cnnWithReusedBuffersGivesTheFreshResults() {
        List<float[]> fresh = runCnn(cnn(4), false, false), reused = runCnn(cnn(4), true, false);
        for (int i = 0; i < fresh.size(); i++) assertArrayEquals(fresh.get(i), reused.get(i), "array " + i);
        List<float[]> params = runCnn(cnn(4), true, true);
        int g = cnn(4).parameters().size();
        for (int call = 0; call < 3; call++) {
            for (int k = 0; k < g; k++) {
                assertArrayEquals(fresh.get(call * (2 + g) + 2 + k), params.get(call * (1 + g) + 1 + k), "call " + call + " grad " + k);
            }
        }
    }

    @Test
    void buffersAreReusedOnlyWhenAskedAndOnlyForTheSameShape() {
        Linear l = new Linear(4, 3, new Rng(1));
        Tensor x = Tensor.zeros(2, 4);
        assertNotSame(l.forward(x), l.forward(x));
        l.reuseOutputs(true);
        Tensor y = l.forward(x);
        assertSame(y, l.forward(x));
        assertNotSame(y, l.forward(Tensor.zeros(5, 4)));
        l.reuseOutputs(false);
        assertNotSame(l.forward(x), l.forward(x));
    }

    @Test
    void backwardParamsGivesTheSameParameterGradients() {
        List<float[]> full = run(mlp(6), true, false), params = run(mlp(6), true, true);
        // full has [y, dx, grads...] per call, params [y, grads...]
        int g = mlp(6).parameters().size();
        for (int call = 0; call < 3; call++) {
            int a = call * (2 + g), b = call * (1 + g);
            assertArrayEquals(full.get(a), params.get(b));
            for (int k = 0; k < g; k++) assertArrayEquals(full.get(a + 2 + k), params.get(b + 1 + k), "call " + call + " grad " + k);
        }
    }

    @Test
    void theFirstLinearSkipsItsInputGradient() {
        Linear l = new Linear(4, 3, new Rng(1));
        l.reuseOutputs(true);
        l.forward(Tensor.zeros(2, 4));
        l.backwardParams(Tensor.zeros(2, 3));
        // no dx buffer was made: slot 1 is still empty
        Tensor[] slots = l.outputSlotsForTest();
        assertNull(slots.length > 1 ? slots[1] : null);
    }
}
