package normlab.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import normlab.data.Dataset;
import normlab.nn.Activation;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm1d;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The trainer's non-finite policy: layers pass NaN/Inf through (as PyTorch), and the trainer catches it before the
 * optimizer step — STOP (default) names the step and the first parameter whose value or gradient went bad and leaves
 * the weights of the last good step; SKIP drops the update and goes on; IGNORE applies it.
 */
class NonFinitePolicyTest {
    /** 40 examples of 2×2 "images", one of which (index 7) holds a NaN when {@code poison}. */
    static Dataset data(boolean poison) {
        Rng rng = new Rng(1);
        float[] x = new float[40 * 4];
        for (int i = 0; i < x.length; i++) x[i] = (float) rng.nextGaussian();
        if (poison) x[7 * 4 + 2] = Float.NaN;
        int[] y = new int[40];
        for (int i = 0; i < 40; i++) y[i] = i % 3;
        return new Dataset("tiny", x, y, 2, 2);
    }

    static Trainer trainer(Dataset d) {
        Module m = new Sequential(new Linear(4, 5, new Rng(2)), new BatchNorm1d(5), new Activation.Tanh(), new Linear(5, 3, new Rng(3)));
        return new Trainer(m, new SGD(m.parameters(), 0.1), d, 40, new Rng(4), true); // one batch = the whole set
    }

    @Test
    void stopNamesStepAndWhereAndKeepsLastGoodWeights() {
        Trainer t = trainer(data(true));
        Map<String, Tensor> before = t.model().stateDict();
        NonFiniteException e = assertThrows(NonFiniteException.class, t::step);
        assertEquals(1, e.step);
        assertEquals("loss", e.where);
        assertTrue(e.getMessage().contains("step 1") && e.getMessage().contains("not applied"), e.getMessage());
        for (var kv : before.entrySet()) {
            assertArrayEquals(kv.getValue().data, t.model().stateTensors().get(kv.getKey()).data, 0f, kv.getKey() + " changed");
        }
    }

    @Test
    void stopNamesTheLayerOfANonFiniteParameter() {
        Trainer t = trainer(data(false));
        t.step();
        Linear last = (Linear) ((Sequential) t.model()).get(3);
        last.weight.value.data[4] = Float.POSITIVE_INFINITY; // e.g. an update that overflowed
        NonFiniteException e = assertThrows(NonFiniteException.class, t::step);
        assertEquals(2, e.step);
        assertTrue(e.where.equals("loss") || e.where.startsWith("3.weight"), e.where);
    }

    @Test
    void skipAndIgnore() {
        Trainer skip = trainer(data(true)).onNonFinite(Trainer.NonFinitePolicy.SKIP);
        Map<String, Tensor> before = skip.model().stateDict();
        assertTrue(Float.isNaN(skip.step()));
        assertEquals(1, skip.skippedSteps());
        assertEquals(1, skip.steps());
        assertArrayEquals(before.get("0.weight").data, skip.model().stateTensors().get("0.weight").data, 0f);
        Trainer ignore = trainer(data(true)).onNonFinite(Trainer.NonFinitePolicy.IGNORE);
        ignore.step();
        assertTrue(Float.isNaN(ignore.model().stateTensors().get("0.weight").data[0]), "IGNORE applies the NaN update");
    }
}
