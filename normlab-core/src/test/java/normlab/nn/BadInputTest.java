package normlab.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import normlab.norm.BatchNorm;
import normlab.norm.BatchNorm1d;
import normlab.norm.BatchNorm2d;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Wrong input to every layer gives an exception whose message names the layer by its path in the model, the shape
 * seen and the shape (or value) expected. Non-finite values are not errors in layers: they propagate as in PyTorch
 * (NaN in → NaN out, confined to the affected rows or channels) so the trainer's non-finite policy can catch them.
 */
class BadInputTest {
    /** Runs {@code body}, expects {@code type}, and checks that the message contains every fragment. */
    static <T extends Throwable> T expect(Class<T> type, Executable body, String... fragments) {
        T e = assertThrows(type, body);
        for (String f : fragments) {
            assertTrue(e.getMessage() != null && e.getMessage().contains(f),
                    "message lacks \"" + f + "\": " + e.getMessage());
        }
        return e;
    }

    static Tensor randn(Rng rng, int... shape) {
        Tensor t = Tensor.zeros(shape);
        Init.normal(t, 1, rng);
        return t;
    }

    /** Linear → BN1d → ReLU → Linear, nested one level so paths are "1.0", "1.1", ... */
    static Sequential mlp(Rng rng) {
        return new Sequential(new Linear(6, 4, rng), new Sequential(new BatchNorm1d(4), new Activation.ReLU(),
                new Linear(4, 3, rng)), new Flatten());
    }

    @Test
    void pathsNameNestedLayers() {
        Sequential m = mlp(new Rng(1));
        Sequential inner = (Sequential) m.get(1);
        assertEquals("Linear '0'", m.get(0).label());
        assertEquals("BatchNorm1d '1.0'", inner.get(0).label());
        assertEquals("Linear '1.2'", inner.get(2).label());
    }

    @Test
    void linearWrongRankAndFeatures() {
        Sequential m = mlp(new Rng(2));
        expect(ShapeException.class, () -> m.forward(Tensor.zeros(2, 3, 6)), "Linear '0'", "rank 2", "[2, 3, 6]");
        expect(ShapeException.class, () -> m.forward(Tensor.zeros(2, 5)), "Linear '0'", "expected 6", "[2, 5]", "got 5");
        Linear inner = (Linear) ((Sequential) m.get(1)).get(2);
        expect(ShapeException.class, () -> inner.forward(Tensor.zeros(2, 6)), "Linear '1.2'", "expected 4", "[2, 6]");
    }

    @Test
    void batchNormWrongRankAndChannels() {
        Sequential m = mlp(new Rng(3));
        BatchNorm bn = (BatchNorm) ((Sequential) m.get(1)).get(0);
        expect(ShapeException.class, () -> bn.forward(Tensor.zeros(4)), "BatchNorm1d '1.0'", "[4]", "rank [2, 3]");
        expect(ShapeException.class, () -> bn.forward(Tensor.zeros(2, 4, 3, 3)), "BatchNorm1d '1.0'", "[2, 4, 3, 3]");
        expect(ShapeException.class, () -> bn.forward(Tensor.zeros(5, 3)), "BatchNorm1d '1.0'", "expected 4 channels",
                "[5, 3]", "got 3");
        BatchNorm2d bn2 = new BatchNorm2d(3);
        new Sequential(new Flatten(), bn2); // gives it the path "1"
        expect(ShapeException.class, () -> bn2.forward(Tensor.zeros(2, 3, 4)), "BatchNorm2d '1'", "rank 4", "[2, 3, 4]");
        expect(ShapeException.class, () -> bn2.forward(Tensor.zeros(2, 5, 4, 4)), "BatchNorm2d '1'", "expected 3 channels",
                "[2, 5, 4, 4]");
    }

    @Test
    void emptyBatch() {
        BatchNorm1d bn = new BatchNorm1d(4);
        new Sequential(bn);
        // BatchNorm refuses an empty batch in both modes (no statistics can come from it).
        expect(ShapeException.class, () -> bn.forward(Tensor.zeros(0, 4)), "BatchNorm1d '0'", "empty batch", "[0, 4]");
        bn.eval();
        expect(ShapeException.class, () -> bn.forward(Tensor.zeros(0, 4)), "BatchNorm1d '0'", "empty batch", "[0, 4]");
        // Linear and activations map an empty batch to an empty batch, as PyTorch does.
        Linear lin = new Linear(6, 4, new Rng(4));
        assertArrayEquals(new int[] {0, 4}, lin.forward(Tensor.zeros(0, 6)).shape());
        assertArrayEquals(new int[] {0, 6}, lin.backward(Tensor.zeros(0, 4)).shape());
        assertArrayEquals(new int[] {0, 3}, new Activation.ReLU().forward(Tensor.zeros(0, 3)).shape());
        assertArrayEquals(new int[] {0, 12}, new Flatten().forward(Tensor.zeros(0, 3, 2, 2)).shape());
        // The loss refuses it: a mean over zero rows is undefined.
        expect(ShapeException.class, () -> new CrossEntropyLoss().forward(Tensor.zeros(0, 3), new int[0]),
                "CrossEntropyLoss", "empty batch", "[0, 3]");
    }

    @Test
    void batchOfOneWhenTraining() {
        BatchNorm1d bn = new BatchNorm1d(4);
        new Sequential(new Linear(6, 4, new Rng(5)), bn);
        expect(ShapeException.class, () -> bn.forward(Tensor.zeros(1, 4)), "BatchNorm1d '1'",
                "more than 1 value per channel", "[1, 4]");
        // (1, C, L) with L ≥ 2 has L values per channel: allowed, as in PyTorch.
        assertEquals(3, bn.forward(randn(new Rng(6), 1, 4, 3)).dim(2));
        BatchNorm2d bn2 = new BatchNorm2d(2);
        expect(ShapeException.class, () -> bn2.forward(Tensor.zeros(1, 2, 1, 1)), "BatchNorm2d", "[1, 2, 1, 1]");
        // Without running statistics, evaluation also uses batch statistics, so the same rule holds (as PyTorch).
        BatchNorm1d noStats = new BatchNorm1d(4, 1e-5, 0.1, true, false);
        noStats.eval();
        expect(ShapeException.class, () -> noStats.forward(Tensor.zeros(1, 4)), "BatchNorm1d", "[1, 4]");
        // With running statistics (here the defaults 0 and 1), evaluation of a single sample is fine.
        BatchNorm1d fresh = new BatchNorm1d(4);
        fresh.eval();
        Tensor y = fresh.forward(Tensor.full(2f, 1, 4));
        assertEquals(2f / (float) Math.sqrt(1 + 1e-5), y.data[0], 1e-6f);
    }

    @Test
    void badHyperparameters() {
        expect(IllegalArgumentException.class, () -> new BatchNorm1d(4, 0, 0.1, true, true), "BatchNorm1d", "eps", "> 0", "got 0.0");
        expect(IllegalArgumentException.class, () -> new BatchNorm1d(4, -1e-5, 0.1, true, true), "eps", "got -1.0E-5");
        expect(IllegalArgumentException.class, () -> new BatchNorm2d(4, Double.NaN, 0.1, true, true), "BatchNorm2d", "eps", "NaN");
        expect(IllegalArgumentException.class, () -> new BatchNorm1d(4, 1e-5, -0.1, true, true), "momentum", "[0, 1]", "got -0.1");
        expect(IllegalArgumentException.class, () -> new BatchNorm1d(4, 1e-5, 1.5, true, true), "momentum", "got 1.5");
        expect(IllegalArgumentException.class, () -> new BatchNorm1d(4, 1e-5, Double.NaN, true, true), "momentum", "NaN");
        expect(IllegalArgumentException.class, () -> new BatchNorm1d(0), "numFeatures", "got 0");
        expect(IllegalArgumentException.class, () -> new Linear(0, 3, null), "Linear", "in=0");
        // The boundaries are legal: momentum 0 (frozen statistics), 1 (last batch only), null (cumulative average).
        new BatchNorm1d(4, 1e-5, 0.0, true, true);
        new BatchNorm1d(4, 1e-5, 1.0, true, true);
        new BatchNorm1d(4, 1e-5, null, true, true);
        expect(IllegalArgumentException.class, () -> new SGD(List.of(), -1), "SGD", "lr", "-1");
        expect(IllegalArgumentException.class, () -> new SGD(List.of(), 0.1, -0.5, false, 0, false), "SGD", "momentum");
    }

    @Test
    void backwardMisuse() {
        Sequential m = mlp(new Rng(7));
        Linear first = (Linear) m.get(0);
        expect(IllegalStateException.class, () -> first.backward(Tensor.zeros(2, 4)), "Linear '0'", "before forward");
        BatchNorm bn = (BatchNorm) ((Sequential) m.get(1)).get(0);
        expect(IllegalStateException.class, () -> bn.backward(Tensor.zeros(2, 4)), "BatchNorm1d '1.0'", "before forward");
        m.forward(randn(new Rng(8), 5, 6));
        expect(ShapeException.class, () -> first.backward(Tensor.zeros(5, 3)), "Linear '0'", "[5, 3]", "[5, 4]");
        expect(ShapeException.class, () -> bn.backward(Tensor.zeros(4, 4)), "BatchNorm1d '1.0'", "[4, 4]", "[5, 4]");
        Activation relu = (Activation) ((Sequential) m.get(1)).get(1);
        expect(ShapeException.class, () -> relu.backward(Tensor.zeros(5, 5)), "ReLU '1.1'", "[5, 5]", "[5, 4]");
    }

    @Test
    void flattenNeedsABatchDimension() {
        Flatten f = new Flatten();
        new Sequential(new Linear(2, 2, null), f);
        expect(ShapeException.class, () -> f.forward(Tensor.scalar(1f)), "Flatten '1'", "[]");
        expect(ShapeException.class, () -> f.forward(Tensor.zeros(3)), "Flatten '1'", "[3]", "rank >= 2");
    }

    @Test
    void lossLabelsAndShapes() {
        CrossEntropyLoss loss = new CrossEntropyLoss();
        expect(ShapeException.class, () -> loss.forward(Tensor.zeros(2, 3, 1), new int[2]), "CrossEntropyLoss", "[2, 3, 1]");
        expect(ShapeException.class, () -> loss.forward(Tensor.zeros(2, 3), new int[3]), "CrossEntropyLoss", "3 labels", "[2, 3]");
        expect(IllegalArgumentException.class, () -> loss.forward(Tensor.zeros(2, 3), new int[] {0, 3}), "label 3", "row 1", "[0, 3)");
        expect(IllegalArgumentException.class, () -> loss.forward(Tensor.zeros(2, 3), new int[] {-1, 0}), "label -1", "row 0");
    }

    // ---- state dicts -------------------------------------------------------------------------------------------------

    @Test
    void stateDictMismatchesAreListedAtOnce() {
        Sequential m = mlp(new Rng(9));
        Map<String, Tensor> sd = m.stateDict();
        Map<String, float[]> before = new LinkedHashMap<>();
        for (var e : m.stateTensors().entrySet()) before.put(e.getKey(), e.getValue().data.clone());
        sd.remove("1.0.running_var");
        sd.remove("1.2.bias");
        sd.put("1.0.running_varr", Tensor.zeros(4));
        sd.put("0.weight", Tensor.zeros(4, 5));
        sd.put("1.0.num_batches_tracked", Tensor.zeros(1));
        sd.get("0.bias").data[0] = 123f; // a correct key whose value must NOT be loaded, since the whole load fails
        StateDictException e = expect(StateDictException.class, () -> m.loadStateDict(sd), "Sequential",
                "missing keys: [1.0.running_var, 1.2.bias]", "unexpected keys: [1.0.running_varr]",
                "0.weight: checkpoint has [4, 5], model has [4, 6]",
                "1.0.num_batches_tracked: checkpoint has [1], model has []");
        assertEquals(List.of("1.0.running_var", "1.2.bias"), e.missing);
        assertEquals(List.of("1.0.running_varr"), e.unexpected);
        assertEquals(2, e.wrongShape.size());
        for (var t : m.stateTensors().entrySet()) {
            assertArrayEquals(before.get(t.getKey()), t.getValue().data, 0f, t.getKey() + " changed by a failed load");
        }
    }

    @Test
    void stateDictOfASubmoduleNamesItsPath() {
        Sequential m = mlp(new Rng(10));
        Module inner = m.get(1);
        Map<String, Tensor> sd = inner.stateDict();
        sd.remove("0.weight");
        expect(StateDictException.class, () -> inner.loadStateDict(sd), "Sequential '1'", "missing keys: [0.weight]");
    }

    @Test
    void stateDictRoundTripLoadsEverything() {
        Sequential a = mlp(new Rng(11)), b = mlp(new Rng(12));
        a.forward(randn(new Rng(13), 8, 6)); // move running statistics off their defaults
        b.loadStateDict(a.stateDict());
        for (var e : a.stateTensors().entrySet()) {
            assertArrayEquals(e.getValue().data, b.stateTensors().get(e.getKey()).data, 0f, e.getKey());
        }
    }

    // ---- non-finite values -------------------------------------------------------------------------------------------

    @Test
    void nanInInputPropagatesOnlyWhereItShould() {
        Rng rng = new Rng(14);
        Tensor x = randn(rng, 5, 6);
        Linear lin = new Linear(6, 4, rng);
        Tensor clean = lin.forward(x);
        x.data[2 * 6 + 3] = Float.NaN;
        Tensor y = lin.forward(x);
        for (int i = 0; i < 5; i++) {
            for (int j = 0; j < 4; j++) {
                float v = y.data[i * 4 + j];
                if (i == 2) assertTrue(Float.isNaN(v), "row 2 should be NaN");
                else assertEquals(clean.data[i * 4 + j], v, 0f, "row " + i + " should be unaffected");
            }
        }
        // BatchNorm: a NaN poisons its channel's statistics (that whole channel, and its running buffers), nothing else.
        BatchNorm1d bn = new BatchNorm1d(4);
        Tensor z = bn.forward(y);
        for (int i = 0; i < z.numel(); i++) assertTrue(Float.isNaN(z.data[i]), "BN output " + i + " should be NaN");
        Tensor x2 = randn(rng, 8, 3);
        x2.data[5 * 3 + 1] = Float.POSITIVE_INFINITY;
        BatchNorm1d bn2 = new BatchNorm1d(3);
        Tensor z2 = bn2.forward(x2);
        for (int i = 0; i < 8; i++) {
            assertTrue(Float.isNaN(z2.data[i * 3 + 1]), "channel 1 should be NaN at row " + i);
            assertTrue(Float.isFinite(z2.data[i * 3]) && Float.isFinite(z2.data[i * 3 + 2]), "channels 0, 2 finite at row " + i);
        }
        assertTrue(Float.isNaN(bn2.runningMean.data[1]) || Float.isInfinite(bn2.runningMean.data[1]));
        assertTrue(Float.isFinite(bn2.runningMean.data[0]) && Float.isFinite(bn2.runningVar.data[2]));
    }

    @Test
    void activationsPropagateNaNAsPyTorch() {
        Tensor x = Tensor.of(new float[] {Float.NaN, -1f, 2f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}, 1, 5);
        Tensor r = new Activation.ReLU().forward(x);
        assertTrue(Float.isNaN(r.data[0]), "relu(NaN) is NaN in PyTorch, got " + r.data[0]);
        assertArrayEquals(new float[] {0f, 2f, Float.POSITIVE_INFINITY, 0f}, java.util.Arrays.copyOfRange(r.data, 1, 5), 0f);
        Tensor s = new Activation.Sigmoid().forward(x);
        assertTrue(Float.isNaN(s.data[0]));
        assertArrayEquals(new float[] {1f, 0f}, new float[] {s.data[3], s.data[4]}, 0f);
        Tensor t = new Activation.Tanh().forward(x);
        assertTrue(Float.isNaN(t.data[0]));
        assertArrayEquals(new float[] {1f, -1f}, new float[] {t.data[3], t.data[4]}, 0f);
        CrossEntropyLoss loss = new CrossEntropyLoss();
        assertTrue(Float.isNaN(loss.forward(Tensor.of(new float[] {Float.NaN, 0f, 1f}, 1, 3), new int[] {1})));
        // Huge but finite logits stay finite (log-sum-exp with the maximum subtracted).
        assertTrue(Float.isFinite(loss.forward(Tensor.of(new float[] {1e30f, -1e30f, 0f}, 1, 3), new int[] {1})));
    }

    @Test
    void nanInParametersAndGradientsPropagate() {
        Rng rng = new Rng(15);
        BatchNorm1d bn = new BatchNorm1d(3);
        bn.weight.value.data[1] = Float.NaN;
        Tensor y = bn.forward(randn(rng, 4, 3));
        for (int i = 0; i < 4; i++) {
            assertTrue(Float.isNaN(y.data[i * 3 + 1]));
            assertFalse(Float.isNaN(y.data[i * 3]));
        }
        Linear lin = new Linear(3, 2, rng);
        lin.weight.grad.data[0] = Float.NaN;
        new SGD(lin.parameters(), 0.1).step();
        assertTrue(Float.isNaN(lin.weight.value.data[0]), "SGD applies a NaN gradient; the trainer must catch it first");
        assertTrue(Float.isFinite(lin.weight.value.data[1]));
    }
}
