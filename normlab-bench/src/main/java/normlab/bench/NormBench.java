package normlab.bench;

import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
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
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public abstract class NormBench extends Bench {
    @Param({"1", "2"})
    public int threads;

    @Param({"true"})
    public boolean simd;

    Module layer;
    Tensor x, dy;

    private final Supplier<Module> make;
    private final int[] shape;

    /** For subclasses that override {@link #make()} and {@link #shape()} (e.g. shapes from a JMH parameter). */
    NormBench() {
        this(null);
    }

    /** A benchmark of the layer {@code make} builds on input of {@code shape}. */
    NormBench(Supplier<Module> make, int... shape) {
        this.make = make;
        this.shape = shape;
    }

    /** The layer under test. */
    Module make() {
        return make.get();
    }

    /** Its input shape. */
    int[] shape() {
        return shape;
    }

    @Setup
    public void setup() {
        Parallel.setThreads(threads);
        Kernels.setSimd(simd);
        Rng rng = new Rng(1);
        int[] s = shape();
        x = Tensor.zeros(s);
        dy = Tensor.zeros(s);
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
