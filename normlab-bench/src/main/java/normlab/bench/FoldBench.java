package normlab.bench;

import normlab.infer.Fold;
import normlab.nn.Activation;
import normlab.nn.Conv2d;
import normlab.nn.Flatten;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm;
import normlab.norm.BatchNorm2d;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.openjdk.jmh.annotations.*;

/**
 * JMH: eval-mode inference of a BN model, the same model folded ({@link Fold}), and the same architecture built
 * without BN (layers with biases, nothing in between). Folding should make BN free: {@code folded} ≈ {@code noBn}.
 * Models: the paper's MNIST MLP 784-100-100-100-10 (sigmoid) on a batch of 256, and a CNN
 * conv(1→16, 3×3) BN ReLU conv(16→32, 3×3, stride 2) BN ReLU flatten linear(32·14·14→10) on 64 images of 28×28.
 * On a shared, loaded machine run it with {@code -bm sample} and compare the p0.00 (minimum) rows, which contention
 * cannot inflate. {@code reuse=true} runs the models with reused activation buffers, which takes allocation and GC
 * out of the comparison.
 */
public class FoldBench extends Bench {
    @Param({"mlp", "cnn"})
    public String model;

    /** Activations in reused buffers (an inference loop's setting; no allocation or zero-fill noise) or fresh tensors. */
    @Param({"true", "false"})
    public boolean reuse;

    Module withBn, folded, noBn;
    Tensor x;

    @Setup
    public void setup() {
        withBn = build(model, true);
        noBn = build(model, false);
        Rng r = new Rng(7);
        randomStats(withBn, r);
        withBn.eval();
        noBn.eval();
        folded = Fold.fold(withBn);
        for (Module m : new Module[] {withBn, folded, noBn}) m.reuseOutputs(reuse);
        x = model.equals("mlp") ? Tensor.zeros(256, 784) : Tensor.zeros(64, 1, 28, 28);
        for (int i = 0; i < x.data.length; i++) x.data[i] = r.nextFloat();
    }

    static Module build(String model, boolean bn) {
        Rng r = new Rng(1);
        if (model.equals("mlp")) return paperMlp(bn, true, r);
        java.util.List<Module> layers = new java.util.ArrayList<>();
        layers.add(new Conv2d(1, 16, 3, 1, 1, 1, 1, !bn, r));
        if (bn) layers.add(new BatchNorm2d(16));
        layers.add(new Activation.ReLU());
        layers.add(new Conv2d(16, 32, 3, 2, 1, 1, 1, !bn, r));
        if (bn) layers.add(new BatchNorm2d(32));
        layers.add(new Activation.ReLU());
        layers.add(new Flatten());
        layers.add(new Linear(32 * 14 * 14, 10, r));
        return new Sequential(layers);
    }

    static void randomStats(Module m, Rng r) {
        if (m instanceof BatchNorm bn) {
            for (int c = 0; c < bn.numFeatures; c++) {
                bn.runningMean.data[c] = (float) r.nextGaussian();
                bn.runningVar.data[c] = (float) (0.5 + r.nextDouble());
            }
        }
        for (Module c : m.children().values()) randomStats(c, r);
    }

    @Benchmark
    public Tensor unfolded() {
        return withBn.forward(x);
    }

    @Benchmark
    public Tensor folded() {
        return folded.forward(x);
    }

    @Benchmark
    public Tensor noBn() {
        return noBn.forward(x);
    }
}
