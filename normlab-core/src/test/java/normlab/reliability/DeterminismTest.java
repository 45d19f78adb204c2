package normlab.reliability;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import normlab.data.Dataset;
import normlab.kernels.Parallel;
import normlab.nn.Init;
import normlab.nn.Module;
import normlab.models.SmallCnn;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.models.MnistMlp;
import normlab.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Determinism: the same seed gives bit-identical training at any kernel thread count (chunk boundaries depend only
 * on sizes, partial sums combine in a fixed order), and an eval-mode model may be used from many threads at once,
 * giving exactly the single-threaded outputs (forward keeps no scratch state that changes its result).
 */
class DeterminismTest {
    static Dataset data(int n, long seed) {
        Rng rng = new Rng(seed);
        float[] img = new float[n * 28 * 28];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            labels[i] = rng.nextInt(10);
            for (int j = 0; j < 28 * 28; j++) img[i * 784 + j] = (float) (rng.nextDouble() + (j % 10 == labels[i] ? 0.4 : 0));
        }
        return new Dataset("synthetic", img, labels, 28, 28);
    }

    /** Trains {@code model} for {@code steps} SGD steps from fixed seeds; returns a copy of every parameter and buffer. */
    static Map<String, Tensor> train(Module model, boolean flat, int steps) {
        SGD opt = new SGD(model.parameters(), 0.05, 0.9, false, 1e-4, true);
        Trainer t = new Trainer(model, opt, data(240, 5), 40, new Rng(11), flat);
        for (int i = 0; i < steps; i++) t.step();
        return model.stateDict();
    }

    static void assertBitIdentical(Map<String, Tensor> a, Map<String, Tensor> b, String what) {
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) assertArrayEquals(a.get(k).data, b.get(k).data, 0f, what + ": " + k);
    }

    @Test
    void sameSeedSameWeightsAtEveryThreadCount() {
        int old = Parallel.threads();
        try {
            Parallel.setThreads(1);
            Map<String, Tensor> mlp1 = train(MnistMlp.build(true, 1.0, new Rng(3)), true, 12);
            Map<String, Tensor> cnn1 = train(SmallCnn.build(SmallCnn.Norm.BN, 4, 8, new Rng(3)), false, 4);
            assertBitIdentical(mlp1, train(MnistMlp.build(true, 1.0, new Rng(3)), true, 12), "MLP, second run");
            for (int threads : new int[] {2, 3, 8}) {
                Parallel.setThreads(threads);
                assertBitIdentical(mlp1, train(MnistMlp.build(true, 1.0, new Rng(3)), true, 12), "MLP at " + threads + " threads");
                assertBitIdentical(cnn1, train(SmallCnn.build(SmallCnn.Norm.BN, 4, 8, new Rng(3)), false, 4), "CNN at " + threads + " threads");
            }
        } finally {
            Parallel.setThreads(old);
        }
    }

    /** One eval-mode model (trained a little, so running statistics are not the defaults) shared by 8 threads. */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"BN", "GN", "LN", "IN", "RMS", "BATCH_RENORM", "GHOST_BN", "FROZEN_BN"}) // SmallCnn.Norm.valueOf
    void evalModelSharedByEightThreads(SmallCnn.Norm norm) throws Exception {
        Module cnn = SmallCnn.build(norm, 4, 8, new Rng(9));
        train(cnn, false, 2);
        checkConcurrent(cnn.eval(), new int[] {1, 28, 28});
    }

    @Test
    void evalMlpSharedByEightThreads() throws Exception {
        Module mlp = MnistMlp.build(true, 1.0, new Rng(9));
        train(mlp, true, 5);
        checkConcurrent(mlp.eval(), new int[] {784});
    }

    static void checkConcurrent(Module model, int[] sampleShape) throws Exception {
        int threads = 8, rounds = 6;
        Rng rng = new Rng(21);
        List<Tensor> inputs = new ArrayList<>();
        List<Tensor> expected = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            int[] shape = new int[sampleShape.length + 1];
            shape[0] = 1 + i % 4; // different batch sizes, so shared scratch of the wrong size would show
            System.arraycopy(sampleShape, 0, shape, 1, sampleShape.length);
            Tensor x = Tensor.zeros(shape);
            Init.normal(x, 1, rng);
            inputs.add(x);
            expected.add(model.forward(x).copy());
        }
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            CyclicBarrier start = new CyclicBarrier(threads);
            List<Future<?>> fs = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                int id = i;
                fs.add(pool.submit((Callable<Void>) () -> {
                    start.await();
                    for (int r = 0; r < rounds; r++) {
                        int k = (id + r) % threads;
                        Tensor y = model.forward(inputs.get(k));
                        assertArrayEquals(expected.get(k).data, y.data, 0f, "thread " + id + " round " + r + " input " + k);
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) f.get();
        } finally {
            pool.shutdownNow();
        }
    }
}
