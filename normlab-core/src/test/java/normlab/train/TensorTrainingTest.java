package normlab.train;

import static org.junit.jupiter.api.Assertions.*;

import normlab.data.TensorDataset;
import normlab.nn.CrossEntropyLoss;
import normlab.nn.Linear;
import normlab.nn.Loss;
import normlab.nn.MSELoss;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm1d;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** MSELoss against a hand-computed case, a double reference and finite differences; Trainer on plain tensors. */
class TensorTrainingTest {
    @Test
    void mseByHand() {
        MSELoss l = new MSELoss();
        // ((1−0)² + (2−4)² + (−1−1)² + (3−3)²) / 4 = (1 + 4 + 4 + 0) / 4 = 2.25
        float v = l.forward(Tensor.of(new float[] {1, 2, -1, 3}, 2, 2), Tensor.of(new float[] {0, 4, 1, 3}, 2, 2));
        assertEquals(2.25f, v, 0f);
        // dL/dx = 2 (x − y) / 4
        assertArrayEquals(new float[] {0.5f, -1f, -1f, 0f}, l.backward().data, 0f);
        assertThrows(ShapeException.class, () -> l.forward(Tensor.zeros(2, 2), Tensor.zeros(4)));
        assertThrows(IllegalStateException.class, () -> new MSELoss().backward());
    }

    @Test
    void mseAgainstDoubleReferenceAndFiniteDifferences() {
        Rng rng = new Rng(3);
        Tensor x = Tensor.zeros(7, 5), y = Tensor.zeros(7, 5);
        for (int i = 0; i < x.data.length; i++) {
            x.data[i] = (float) (rng.nextDouble() * 20 - 10);
            y.data[i] = (float) (rng.nextDouble() * 20 - 10);
        }
        MSELoss l = new MSELoss();
        float v = l.forward(x, y);
        double ref = 0;
        for (int i = 0; i < x.data.length; i++) ref += Math.pow((double) x.data[i] - y.data[i], 2);
        ref /= x.data.length;
        assertEquals(ref, v, 1e-6 * Math.max(1, Math.abs(ref)));
        Tensor g = l.backward();
        for (int i = 0; i < x.data.length; i++) {
            double h = 1e-3, xi = x.data[i];
            double plus = 0, minus = 0;
            for (int j = 0; j < x.data.length; j++) {
                double a = j == i ? xi + h : x.data[j], b = j == i ? xi - h : x.data[j];
                plus += Math.pow(a - y.data[j], 2);
                minus += Math.pow(b - y.data[j], 2);
            }
            double fd = (plus - minus) / (2 * h) / x.data.length;
            assertEquals(fd, g.data[i], 1e-5, "element " + i);
        }
    }

    @Test
    void crossEntropyTakesClassIndexTensors() {
        Tensor z = Tensor.of(new float[] {1, 2, 3, 0, -1, 4}, 2, 3);
        Loss a = new CrossEntropyLoss();
        CrossEntropyLoss b = new CrossEntropyLoss();
        assertEquals(b.forward(z, new int[] {2, 0}), a.forward(z, Tensor.of(new float[] {2, 0}, 2)), 0f);
        assertArrayEquals(b.backward().data, a.backward().data, 0f);
        assertThrows(IllegalArgumentException.class, () -> a.forward(z, Tensor.of(new float[] {0.5f, 0}, 2)));
    }

    /** y = A·x + b, learned by Linear → BatchNorm1d → Linear with MSE from a TensorDataset; results repeat exactly. */
    @Test
    void trainsRegressionOnPlainTensors() {
        float[] first = null;
        for (int run = 0; run < 2; run++) {
            Rng rng = new Rng(5);
            int n = 256, f = 4, o = 2;
            Tensor x = Tensor.zeros(n, f), y = Tensor.zeros(n, o);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < f; j++) x.data[i * f + j] = (float) (rng.nextDouble() * 2 - 1);
                y.data[i * o] = x.data[i * f] - 2 * x.data[i * f + 1] + 0.5f;
                y.data[i * o + 1] = 3 * x.data[i * f + 2] + x.data[i * f + 3];
            }
            TensorDataset data = new TensorDataset(x, y);
            Module m = new Sequential(new Linear(f, 16, false, rng), new BatchNorm1d(16), new Linear(16, o, rng));
            MSELoss loss = new MSELoss();
            double before = Trainer.evaluate(m, data, loss);
            Trainer t = new Trainer(m, new SGD(m.parameters(), 0.05), data, loss, 32, new Rng(9));
            for (int s = 0; s < 400; s++) t.step();
            double after = Trainer.evaluate(m, data, loss);
            assertTrue(after < before / 20, "MSE " + before + " → " + after);
            float[] out = m.forward(data.inputs).data.clone();
            if (first == null) first = out;
            else assertArrayEquals(first, out, 0f);
        }
        assertThrows(ShapeException.class, () -> new TensorDataset(Tensor.zeros(3, 2), Tensor.zeros(4)));
    }
}
