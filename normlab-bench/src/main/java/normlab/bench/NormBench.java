package normlab.bench;

import java.util.concurrent.TimeUnit;
import normlab.kernels.Kernels;
import normlab.kernels.Parallel;
import normlab.nn.Module;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.openjdk.jmh.annotations.*;

/**
 * Shared JMH body for the normalization layers: forward in training mode, forward in evaluation mode, and backward
 * of a saved training forward, at the thread count and kernel path given by the parameters. Each subclass names a
 * layer and its input shape (the peer comparison's workloads).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public abstract class NormBench {
    @Param({"1", "2"})
    public int threads;

    @Param({"true"})
    public boolean simd;

    Module layer;
    Tensor x, dy;

    /** The layer under test. */
    abstract Module make();

    /** Its input shape. */
    abstract int[] shape();

    @Setup
    public void setup() {
        Parallel.setThreads(threads);
        Kernels.setSimd(simd);
        Rng rng = new Rng(1);
        x = Tensor.zeros(shape());
        dy = Tensor.zeros(shape());
        for (int i = 0; i < x.numel(); i++) {
            x.data[i] = (float) rng.nextGaussian();
            dy.data[i] = (float) rng.nextGaussian();
        }
        layer = make();
        layer.train();
        layer.forward(x);
    }

    @Benchmark
    public Tensor forwardTrain() {
        layer.train();
        return layer.forward(x);
    }

    @Benchmark
    public Tensor forwardEval() {
        layer.eval();
        return layer.forward(x);
    }

    /** Backward of the forward saved in setup (training mode). */
    @Benchmark
    public Tensor backward() {
        return layer.backward(dy);
    }
}
