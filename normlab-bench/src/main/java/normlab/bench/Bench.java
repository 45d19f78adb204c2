package normlab.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import normlab.nn.Activation;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm1d;
import normlab.tensor.Rng;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The JMH settings every benchmark here shares (JMH's annotations are inherited; a subclass overrides one by declaring
 * it): per-thread state, average time in µs, 3 warm-up and 5 measured iterations of 1 s, one fork with the Vector API
 * module. Also the inputs and models several benchmarks and {@link Peer} build.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public abstract class Bench {
    /** {@code len} values drawn from N(0, 1). */
    static float[] gaussian(Rng rng, int len) {
        float[] a = new float[len];
        for (int i = 0; i < len; i++) a[i] = (float) rng.nextGaussian();
        return a;
    }

    /**
     * The paper's MLP, 784-100-100-100-10 with sigmoid hidden units and PyTorch's default Linear init, optionally with
     * BatchNorm1d before each sigmoid; the hidden Linears keep their bias before a BN unless {@code dropBiasBeforeBn}.
     */
    static Sequential paperMlp(boolean bn, boolean dropBiasBeforeBn, Rng rng) {
        int[] s = {784, 100, 100, 100, 10};
        List<Module> layers = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            layers.add(new Linear(s[i], s[i + 1], !(bn && dropBiasBeforeBn && i < 3), rng));
            if (i < 3) {
                if (bn) layers.add(new BatchNorm1d(s[i + 1]));
                layers.add(new Activation.Sigmoid());
            }
        }
        return new Sequential(layers);
    }
}
