package normlab.bench;

import java.util.concurrent.TimeUnit;
import normlab.norm.BatchNorm2d;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.openjdk.jmh.annotations.*;

/** JMH: BatchNorm2d forward (train and eval) and backward on (32, 64, 56, 56). */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class BatchNormBench {
    BatchNorm2d bn;
    Tensor x, dy;

    @Setup
    public void setup() {
        Rng rng = new Rng(1);
        x = Tensor.zeros(32, 64, 56, 56);
        dy = Tensor.zeros(32, 64, 56, 56);
        for (int i = 0; i < x.data.length; i++) {
            x.data[i] = (float) rng.nextGaussian();
            dy.data[i] = (float) rng.nextGaussian();
        }
        bn = new BatchNorm2d(64);
    }

    @Benchmark
    public Tensor forwardTrain() {
        bn.train();
        return bn.forward(x);
    }

    @Benchmark
    public Tensor forwardEval() {
        bn.eval();
        return bn.forward(x);
    }

    @Benchmark
    public Tensor backwardTrain() {
        bn.train();
        bn.forward(x);
        return bn.backward(dy);
    }
}
