package normlab.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import normlab.kernels.Parallel;
import normlab.nn.Activation;
import normlab.nn.CrossEntropyLoss;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm1d;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.openjdk.jmh.annotations.*;

/** JMH: one SGD training step of the paper's MLP (784-100×3-10, sigmoid, batch 60), with and without BatchNorm. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class MlpStepBench {
    @Param({"false", "true"})
    public boolean bn;

    @Param({"1", "2"})
    public int threads;

    Sequential model;
    SGD opt;
    CrossEntropyLoss loss;
    Tensor x;
    int[] labels;

    @Setup
    public void setup() {
        Parallel.setThreads(threads);
        Rng rng = new Rng(1);
        List<Module> layers = new ArrayList<>();
        int in = 784;
        for (int i = 0; i < 3; i++) {
            layers.add(new Linear(in, 100, rng));
            if (bn) layers.add(new BatchNorm1d(100));
            layers.add(new Activation.Sigmoid());
            in = 100;
        }
        layers.add(new Linear(100, 10, rng));
        model = new Sequential(layers);
        opt = new SGD(model.parameters(), 0.01);
        loss = new CrossEntropyLoss();
        x = Tensor.zeros(60, 784);
        for (int i = 0; i < x.numel(); i++) x.data[i] = (float) rng.nextGaussian();
        labels = new int[60];
        for (int i = 0; i < 60; i++) labels[i] = rng.nextInt(10);
        model.train();
        model.reuseOutputs(true); // as the Trainer runs a step
    }

    @Benchmark
    public float step() {
        model.zeroGrad();
        float l = loss.forward(model.forward(x), labels);
        model.backwardParams(loss.backward());
        opt.step();
        return l;
    }
}
