package normlab.bench;

import normlab.kernels.Parallel;
import normlab.nn.CrossEntropyLoss;
import normlab.nn.Sequential;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.openjdk.jmh.annotations.*;

/** JMH: one SGD training step of the paper's MLP (784-100×3-10, sigmoid, batch 60), with and without BatchNorm. */
public class MlpStepBench extends Bench {
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
        model = paperMlp(bn, false, rng);
        opt = new SGD(model.parameters(), 0.01);
        loss = new CrossEntropyLoss();
        x = Tensor.of(gaussian(rng, 60 * 784), 60, 784);
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
