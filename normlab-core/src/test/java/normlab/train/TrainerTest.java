package normlab.train;

import normlab.models.MnistMlp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import normlab.data.Dataset;
import normlab.io.Safetensors;
import normlab.nn.Activation;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm1d;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The training loop on a synthetic 4×4-image problem whose class is the brightest quadrant. */
class TrainerTest {
    /** n images of 4×4; label = index of the quadrant with the largest sum, made clear by a bright 2×2 block. */
    static Dataset quadrants(int n, long seed) {
        Rng rng = new Rng(seed);
        float[] px = new float[n * 16];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            int q = rng.nextInt(4);
            labels[i] = q;
            for (int p = 0; p < 16; p++) px[i * 16 + p] = 0.3f * rng.nextFloat();
            int r0 = (q / 2) * 2, c0 = (q % 2) * 2;
            for (int r = r0; r < r0 + 2; r++) for (int c = c0; c < c0 + 2; c++) px[i * 16 + r * 4 + c] += 0.7f;
        }
        return new Dataset("quadrants", px, labels, 4, 4);
    }

    static Sequential model(Rng rng) {
        return new Sequential(new Linear(16, 8, false, rng), new BatchNorm1d(8), new Activation.Sigmoid(), new Linear(8, 4, rng));
    }

    @Test
    void fitLearnsEvaluatesOnScheduleAndRestoresMode() {
        Dataset train = quadrants(600, 1), test = quadrants(200, 2);
        Sequential m = model(new Rng(5));
        Trainer t = new Trainer(m, new SGD(m.parameters(), 0.5), train, 20, new Rng(7), true);
        double before = Trainer.evaluate(m, test, true, null).accuracy();
        assertTrue(m.isTraining(), "evaluate must restore training mode");
        List<Integer> evalSteps = new ArrayList<>();
        List<Double> trainLosses = new ArrayList<>();
        int[] stepCalls = {0};
        Evaluation last = t.fit(250, 100, test, null, new Trainer.Listener() {
            @Override
            public void onStep(int step, float loss) {
                stepCalls[0]++;
                assertEquals(stepCalls[0], step);
            }

            @Override
            public void onEval(int step, double trainLoss, Evaluation e) {
                evalSteps.add(step);
                trainLosses.add(trainLoss);
            }
        });
        assertEquals(250, stepCalls[0]);
        assertEquals(List.of(100, 200, 250), evalSteps);
        assertEquals(250, t.steps());
        assertTrue(t.epoch() >= 8, "250 batches of 20 over 600 examples = 8 full passes, got " + t.epoch());
        assertTrue(trainLosses.get(2) < trainLosses.get(0), "training loss should fall: " + trainLosses);
        assertTrue(before < 0.5, "untrained accuracy " + before);
        assertTrue(last.accuracy() > 0.9, "trained accuracy " + last.accuracy());
        assertEquals(200, last.n());
    }

    @Test
    void fitEpochsTakesFloorNOverBatchStepsPerEpoch() {
        Dataset train = quadrants(100, 8);
        Sequential m = model(new Rng(5));
        Trainer t = new Trainer(m, new SGD(m.parameters(), 0.1), train, 30, new Rng(2), true);
        List<Integer> evals = new ArrayList<>();
        t.fitEpochs(2, 4, quadrants(30, 9), null, new Trainer.Listener() {
            @Override
            public void onEval(int step, double trainLoss, Evaluation e) {
                evals.add(step);
            }
        });
        // 100 examples in batches of 30: 3 steps per epoch, 6 for two; evaluations after step 4 and the last.
        assertEquals(6, t.steps());
        assertEquals(List.of(4, 6), evals);
    }

    @Test
    void sameSeedsSameModel() {
        Dataset train = quadrants(120, 3);
        float[][] weights = new float[2][];
        for (int k = 0; k < 2; k++) {
            Sequential m = model(new Rng(11));
            Trainer t = new Trainer(m, new SGD(m.parameters(), 0.1), train, 12, new Rng(13), true);
            for (int i = 0; i < 30; i++) t.step();
            weights[k] = ((Linear) m.get(0)).weight.value.data.clone();
        }
        assertTrue(java.util.Arrays.equals(weights[0], weights[1]));
    }

    @Test
    void hooksSeeTheInputOfTheChosenLayer() {
        Dataset test = quadrants(50, 4);
        Sequential m = model(new Rng(5));
        m.eval();
        Module sigmoid = m.get(2);
        ColumnRecorder rec = new ColumnRecorder(3);
        List<Tensor> seen = new ArrayList<>();
        Hooks hooks = new Hooks().onInput(sigmoid, rec).onInput(sigmoid, seen::add);
        Tensor x = test.batchFlat(Dataset.range(0, 50));
        Tensor viaHooks = hooks.forward(m, x);
        Tensor plain = m.forward(x);
        assertEquals(1, seen.size());
        // The sigmoid's input is BatchNorm's output.
        Tensor bnOut = m.get(1).forward(m.get(0).forward(x));
        for (int i = 0; i < bnOut.numel(); i++) assertEquals(bnOut.data[i], seen.get(0).data[i]);
        for (int i = 0; i < 50; i++) assertEquals(bnOut.data[i * 8 + 3], rec.values()[i]);
        for (int i = 0; i < plain.numel(); i++) assertEquals(plain.data[i], viaHooks.data[i]);
        // Evaluation calls the hooks on every batch: 50 values over the whole set.
        rec.clear();
        Trainer.evaluate(m, test, true, hooks);
        assertEquals(50, rec.size());
    }

    @Test
    void checkpointHoldsTheStateDictUnderPyTorchKeys(@TempDir Path dir) throws Exception {
        Dataset train = quadrants(60, 6);
        Sequential m = model(new Rng(5));
        Trainer t = new Trainer(m, new SGD(m.parameters(), 0.1), train, 10, new Rng(1), true);
        for (int i = 0; i < 5; i++) t.step();
        Path file = dir.resolve("sub/model.safetensors");
        t.saveCheckpoint(file, Map.of("steps", "5"));
        Safetensors.Contents c = Safetensors.read(file);
        // The model's tensors come first under PyTorch's keys; the training state follows under extra/.
        List<String> keys = new ArrayList<>(c.tensors().keySet());
        List<String> modelKeys = List.of("0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                "1.num_batches_tracked", "3.weight", "3.bias");
        assertEquals(modelKeys, keys.subList(0, modelKeys.size()));
        assertTrue(keys.subList(modelKeys.size(), keys.size()).stream().allMatch(k -> k.startsWith("extra/")), keys.toString());
        assertEquals(5f, c.tensors().get("1.num_batches_tracked").data[0]);
        assertEquals("5", c.metadata().get("steps"));
        Sequential fresh = model(new Rng(99));
        java.util.Map<String, Tensor> state = new java.util.LinkedHashMap<>();
        for (String k : modelKeys) state.put(k, c.tensors().get(k));
        fresh.loadStateDict(state);
        // It is also a model file: it reopens with no code.
        Module reopened = normlab.io.ModelFiles.load(file);
        Tensor xr = train.batchFlat(Dataset.range(0, 10));
        m.eval();
        Tensor ya = m.forward(xr), yb = reopened.forward(xr);
        for (int i = 0; i < ya.numel(); i++) assertEquals(ya.data[i], yb.data[i]);
        Tensor x = train.batchFlat(Dataset.range(0, 10));
        m.eval();
        fresh.eval();
        Tensor a = m.forward(x), b = fresh.forward(x);
        for (int i = 0; i < a.numel(); i++) assertEquals(a.data[i], b.data[i]);
        try (var s = Files.list(file.getParent())) {
            assertFalse(s.anyMatch(p -> p.getFileName().toString().endsWith(".tmp")), "no temporary file left behind");
        }
    }

    @Test
    void paperNetworkLayout() {
        Sequential base = MnistMlp.build(false, 0.01, new Rng(1)), bn = MnistMlp.build(true, 0.01, new Rng(1));
        assertEquals(7, base.size());
        assertEquals(10, bn.size());
        assertTrue(MnistMlp.lastSigmoid(base) == base.get(5));
        assertTrue(MnistMlp.lastSigmoid(bn) == bn.get(8));
        assertTrue(((Linear) base.get(0)).bias != null);
        assertTrue(((Linear) bn.get(0)).bias == null);
        assertTrue(((Linear) bn.get(9)).bias != null);
        // Same seed, same weights in both variants; the draws have the requested spread and biases start at zero.
        float[] w0 = ((Linear) base.get(0)).weight.value.data, w1 = ((Linear) bn.get(0)).weight.value.data;
        assertTrue(java.util.Arrays.equals(w0, w1));
        double ss = 0;
        for (float v : w0) ss += v * v;
        assertEquals(0.01, Math.sqrt(ss / w0.length), 0.0005);
        for (float v : ((Linear) base.get(0)).bias.value.data) assertEquals(0f, v);
    }
}
