package normlab.bench;

import java.util.concurrent.TimeUnit;
import normlab.data.Dataset;
import normlab.nn.Sequential;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.models.MnistMlp;
import normlab.train.Trainer;
import org.openjdk.jmh.annotations.*;

/**
 * JMH: training steps per second of the MNIST experiment's two networks (784-100-100-100-10 sigmoid, batch 60, plain
 * SGD lr 0.1), single-threaded, on 6,000 synthetic MNIST-sized images (pixels uniform in [0, 1], random labels; the
 * cost of a step does not depend on the pixel values). One benchmark operation is one {@link Trainer#step()}: batch
 * gather, forward, cross-entropy, backward, SGD update; so the throughput score is steps/s.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -jar normlab-bench/target/benchmarks.jar MlpTrainBench}
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class MlpTrainBench extends Bench {
    @Param({"baseline", "bn"})
    public String variant;

    /** Kernel threads (the experiment's --threads 1 runs each network on one). */
    @Param({"1"})
    public int threads;

    Trainer trainer;

    @Setup
    public void setup() {
        Rng rng = new Rng(1);
        int n = 6000;
        float[] px = new float[n * 784];
        int[] labels = new int[n];
        for (int i = 0; i < px.length; i++) px[i] = rng.nextFloat();
        for (int i = 0; i < n; i++) labels[i] = rng.nextInt(10);
        Dataset data = new Dataset("synthetic", px, labels, 28, 28);
        normlab.kernels.Parallel.setThreads(threads);
        Sequential model = MnistMlp.build(variant.equals("bn"), 0.01, rng.split());
        trainer = new Trainer(model, new SGD(model.parameters(), 0.1), data, 60, rng.split(), true);
    }

    @Benchmark
    public float step() {
        return trainer.step();
    }
}
