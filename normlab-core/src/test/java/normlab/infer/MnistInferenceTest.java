package normlab.infer;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import normlab.data.Dataset;
import normlab.data.Datasets;
import normlab.nn.Activation;
import normlab.nn.Conv2d;
import normlab.nn.Flatten;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm;
import normlab.norm.BatchNorm2d;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.models.MnistMlp;
import normlab.train.Trainer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Folding and recalibration on briefly trained MNIST models: the paper's BN MLP (784-100-100-100-10, sigmoid) and a
 * small BN CNN. Fold metric: max|folded − unfolded| / max|unfolded| ≤ 1e-5 over the logits of 2,000 images.
 *
 * <p>To keep the test fast only MNIST's 10,000-image test split is loaded, as a labelled pool cut into disjoint
 * slices: [0, 6000) trains, [6000, 8000) is the held-out set for recalibration, [8000, 10000) evaluates.
 */
class MnistInferenceTest {
    static Dataset train, held, test;
    static Sequential mlp, cnn;

    @BeforeAll
    static void trainModels() throws IOException {
        long t0 = System.nanoTime();
        Dataset pool = Datasets.mnist(false);
        train = pool.slice(0, 6000);
        held = pool.slice(6000, 8000);
        test = pool.slice(8000, 10000);
        System.out.printf("MNIST load %.1f s%n", (System.nanoTime() - t0) / 1e9);
        mlp = MnistMlp.build(true, 1.0, new Rng(1));
        Trainer t = new Trainer(mlp, new SGD(mlp.parameters(), 1.0), train, 60, new Rng(2), true);
        for (int i = 0; i < 200; i++) t.step();
        mlp.eval();
        long t1 = System.nanoTime();
        Rng r = new Rng(3);
        cnn = new Sequential(
                new Conv2d(1, 8, 3, 2, 1, 1, 1, false, r), new BatchNorm2d(8), new Activation.ReLU(),
                new Conv2d(8, 16, 3, 2, 1, 1, 1, true, r), new BatchNorm2d(16), new Activation.ReLU(),
                new Flatten(), new Linear(16 * 7 * 7, 10, r));
        Trainer tc = new Trainer(cnn, new SGD(cnn.parameters(), 0.1, 0.9, false, 0, false), train, 50, new Rng(4), false);
        for (int i = 0; i < 100; i++) tc.step();
        cnn.eval();
        System.out.printf("MNIST load + MLP training %.1f s, CNN training %.1f s%n", (t1 - t0) / 1e9, (System.nanoTime() - t1) / 1e9);
    }

    private static double accuracy(Module m, Dataset d, int from, int to, boolean flat) {
        int correct = 0;
        for (int i = from; i < to; i += 500) {
            int[] idx = Dataset.range(i, Math.min(to, i + 500));
            correct += Trainer.countCorrect(m.forward(flat ? d.batchFlat(idx) : d.batch(idx)), d.labels(idx));
        }
        return (double) correct / (to - from);
    }

    @Test
    void foldedMlpMatches() {
        Module f = Fold.fold(mlp);
        Tensor x = test.batchFlat(Dataset.range(0, 2000));
        double err = Toy.relErr(f.forward(x), mlp.forward(x));
        System.out.printf("MNIST MLP: fold rel err %.2e, accuracy %.4f%n", err, accuracy(mlp, test, 0, 2000, true));
        assertTrue(err <= 1e-5, "rel err " + err);
        assertTrue(accuracy(mlp, test, 0, 2000, true) > 0.8, "the model learned: " + accuracy(mlp, test, 0, 2000, true));
        assertEquals(accuracy(mlp, test, 0, 2000, true), accuracy(f, test, 0, 2000, true));
    }

    @Test
    void foldedCnnMatches() {
        Module f = Fold.fold(cnn);
        Tensor x = test.batch(Dataset.range(0, 2000));
        double err = Toy.relErr(f.forward(x), cnn.forward(x));
        System.out.printf("MNIST CNN: fold rel err %.2e, accuracy %.4f%n", err, accuracy(cnn, test, 0, 2000, false));
        assertTrue(err <= 1e-5, "rel err " + err);
        assertTrue(accuracy(cnn, test, 0, 2000, false) > 0.8, "the model learned: " + accuracy(cnn, test, 0, 2000, false));
    }

    @Test
    void recalibrationRecoversCorruptedMlp() {
        Module m = normlab.io.LayerTypes.copy(mlp);
        double clean = accuracy(m, test, 0, 2000, true);
        Rng r = new Rng(5);
        corrupt(m, r);
        double corrupted = accuracy(m, test, 0, 2000, true);
        List<Tensor> batches = new ArrayList<>();
        for (int i = 0; i < 20; i++) batches.add(held.batchFlat(Dataset.range(i * 100, i * 100 + 100)));
        Recalibrate.run(m, batches);
        double recovered = accuracy(m, test, 0, 2000, true);
        System.out.printf("MNIST MLP recalibration: clean %.4f, corrupted %.4f, recalibrated %.4f%n", clean, corrupted, recovered);
        assertTrue(corrupted < clean - 0.2, "corruption hurts: " + corrupted + " vs " + clean);
        assertTrue(recovered >= clean - 0.02, "recovered: " + recovered + " vs " + clean);
    }

    private static void corrupt(Module m, Rng r) {
        if (m instanceof BatchNorm bn) {
            for (int c = 0; c < bn.numFeatures; c++) {
                bn.runningMean.data[c] += (float) (2 * r.nextGaussian());
                bn.runningVar.data[c] *= (float) Math.exp(2 * r.nextGaussian());
            }
        }
        for (Module c : m.children().values()) corrupt(c, r);
    }
}
