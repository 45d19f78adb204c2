package normlab.rnn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import normlab.tensor.Rng;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;
import normlab.testing.GradCheck;
import org.junit.jupiter.api.Test;

/**
 * Backward through time against finite differences ({@link GradCheck}: fourth-order central differences of
 * L = Σ r·y summed in double, every element of x and of every parameter perturbed): LSTM and GRU with two layers in
 * both layouts and given initial states, whose gradients dL/dh0 and dL/dc0 are checked the same way; LastStep and
 * Unflatten; and the one-line errors for bad input.
 */
class RecurrentGradCheckTest {
    static Tensor randn(Rng rng, double scale, int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) t.data[i] = (float) (scale * rng.nextGaussian());
        return t;
    }

    @Test
    void lstmTwoLayersBatchFirst() {
        Rng rng = new Rng(3);
        LSTM m = new LSTM(3, 4, 2, true, rng);
        Tensor h0 = randn(rng, 0.5, 2, 2, 4), c0 = randn(rng, 0.5, 2, 2, 4);
        m.setInitialState(h0, c0);
        GradCheck.check(m, randn(rng, 1, 2, 5, 3), GradCheck.TOL);
        initialStateGrad(m, h0, () -> m.initialHiddenGrad(), randn(rng, 1, 2, 5, 3));
        initialStateGrad(m, c0, () -> m.initialCellGrad(), randn(rng, 1, 2, 5, 3));
    }

    @Test
    void lstmTimeMajor() {
        Rng rng = new Rng(4);
        GradCheck.check(new LSTM(2, 3, 1, false, rng), randn(rng, 1, 6, 3, 2), GradCheck.TOL);
    }

    @Test
    void gruTwoLayersTimeMajor() {
        Rng rng = new Rng(5);
        GRU m = new GRU(3, 4, 2, false, rng);
        Tensor h0 = randn(rng, 0.5, 2, 3, 4);
        m.setInitialState(h0, null);
        GradCheck.check(m, randn(rng, 1, 4, 3, 3), GradCheck.TOL);
        initialStateGrad(m, h0, () -> m.initialHiddenGrad(), randn(rng, 1, 4, 3, 3));
    }

    @Test
    void gruBatchFirst() {
        Rng rng = new Rng(6);
        GradCheck.check(new GRU(2, 3, 1, true, rng), randn(rng, 1, 3, 5, 2), GradCheck.TOL);
    }

    @Test
    void classifierGlue() {
        Rng rng = new Rng(7);
        GradCheck.check(new normlab.nn.Sequential(new Unflatten(4, 3), new LSTM(3, 5, rng), new LastStep(),
                new normlab.nn.Linear(5, 2, rng)), randn(rng, 1, 3, 12), GradCheck.TOL);
        LastStep last = new LastStep();
        Tensor x = randn(rng, 1, 2, 3, 4);
        Tensor y = last.forward(x);
        assertEquals(x.at(1, 2, 3), y.at(1, 3));
        Tensor dx = last.backward(Tensor.full(1f, 2, 4));
        assertEquals(0f, dx.at(0, 1, 0));
        assertEquals(1f, dx.at(0, 2, 0));
    }

    /** dL/d(state) against differences of L = Σ r·y in the state's elements. */
    private static void initialStateGrad(Recurrent m, Tensor state, java.util.function.Supplier<Tensor> grad, Tensor x) {
        Rng rng = new Rng(11);
        m.zeroGrad();
        Tensor y = m.forward(x);
        Tensor r = randn(rng, 1, y.shape());
        m.backward(r);
        Tensor g = grad.get();
        double abs = 0;
        for (int i = 0; i < y.numel(); i++) abs += Math.abs((double) r.data[i] * y.data[i]);
        GradCheck.checkScalar(m.label() + " initial state", state, g, () -> {
            Tensor out = m.forward(x);
            double s = 0;
            for (int i = 0; i < out.numel(); i++) s += (double) r.data[i] * out.data[i];
            return s;
        }, GradCheck.ROUNDINGS * 0x1p-24 * abs, GradCheck.TOL);
    }

    @Test
    void badInputIsOneLineNamingTheLayer() {
        LSTM m = new LSTM(3, 4, 1, true, new Rng(1));
        ShapeException e = assertThrows(ShapeException.class, () -> m.forward(Tensor.zeros(2, 5, 4)));
        assertTrue(e.getMessage().contains("LSTM") && e.getMessage().contains("[2, 5, 4]") && e.getMessage().contains("3 input features"),
                e.getMessage());
        assertThrows(ShapeException.class, () -> m.forward(Tensor.zeros(2, 3)));
        m.setInitialState(Tensor.zeros(1, 3, 4), null);
        e = assertThrows(ShapeException.class, () -> m.forward(Tensor.zeros(2, 5, 3)));
        assertTrue(e.getMessage().contains("h0 of shape [1, 2, 4]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new GRU(3, 4, new Rng(1)).setInitialState(null, Tensor.zeros(1, 1, 4)));
        assertThrows(IllegalStateException.class, () -> new GRU(3, 4, new Rng(1)).backward(Tensor.zeros(1, 1, 4)));
        assertTrue(!e.getMessage().contains("\n"));
    }
}
