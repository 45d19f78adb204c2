package normlab.family;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import normlab.data.Dataset;
import normlab.data.Datasets;
import normlab.nn.CrossEntropyLoss;
import normlab.nn.Sequential;
import normlab.models.SmallCnn;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * End to end: the small CNN (4 and 8 channels) trained with each normalization for 250 SGD steps of 32 images on the
 * first 8,000 Fashion-MNIST training images, then evaluated (evaluation mode) on the first 1,000 test images. Chance is
 * 10%; every variant must reach at least 60%, i.e. the forward, backward and running statistics of each normalization
 * work inside a real network. Needs Debian's dataset-fashion-mnist (.ci/run installs it).
 */
class SmallCnnTrainingTest {
    static final int STEPS = 250, BATCH = 32, TRAIN = 8000, TEST = 1000;
    static final double MIN_ACCURACY = 0.60;
    static Dataset train, test;

    @BeforeAll
    static void load() throws IOException {
        train = Datasets.fashionMnist(true).slice(0, TRAIN);
        test = Datasets.fashionMnist(false).slice(0, TEST);
    }

    @ParameterizedTest
    @MethodSource("normlab.models.SmallCnn$Norm#values")
    void learnsWellAboveChance(SmallCnn.Norm norm) {
        Rng rng = new Rng(2024);
        Sequential net = SmallCnn.build(norm, 4, 8, rng);
        SGD opt = new SGD(net.parameters(), 0.05, 0.9, false, 0, false);
        CrossEntropyLoss loss = new CrossEntropyLoss();
        int[] order = Dataset.range(0, TRAIN);
        rng.shuffle(order);
        net.train();
        double firstLoss = 0, lastLoss = 0;
        for (int step = 0; step < STEPS; step++) {
            int from = (step * BATCH) % TRAIN;
            int[] idx = java.util.Arrays.copyOfRange(order, from, from + BATCH);
            opt.zeroGrad();
            float l = loss.forward(net.forward(train.batch(idx)), train.labels(idx));
            net.backward(loss.backward());
            opt.step();
            if (step < 10) firstLoss += l / 10;
            if (step >= STEPS - 10) lastLoss += l / 10;
        }
        net.eval();
        int correct = 0;
        for (int from = 0; from < TEST; from += 250) {
            int[] idx = Dataset.range(from, from + 250);
            Tensor logits = net.forward(test.batch(idx));
            int[] y = test.labels(idx);
            for (int i = 0; i < idx.length; i++) {
                int best = 0;
                for (int k = 1; k < 10; k++) if (logits.data[i * 10 + k] > logits.data[i * 10 + best]) best = k;
                if (best == y[i]) correct++;
            }
        }
        double acc = (double) correct / TEST;
        System.out.printf("SmallCnn %-12s loss %.3f -> %.3f, test accuracy %.3f%n", norm, firstLoss, lastLoss, acc);
        assertTrue(lastLoss < firstLoss, norm + ": loss did not fall (" + firstLoss + " -> " + lastLoss + ")");
        assertTrue(acc >= MIN_ACCURACY, norm + ": test accuracy " + acc + " after " + STEPS + " steps, expected >= " + MIN_ACCURACY);
    }
}
