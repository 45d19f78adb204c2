package normlab.bench;

import normlab.kernels.Parallel;
import normlab.optim.Adam;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.transformer.TransformerEncoderLayer;
import org.openjdk.jmh.annotations.*;

/**
 * JMH: one Adam training step of a TransformerEncoderLayer (N = 64 sequences of 16 tokens, width 64, 4 heads, FFN 128,
 * GELU): forward, backward of a fixed upstream gradient, update. Post- or pre-norm, LayerNorm or RMSNorm.
 */
public class EncoderLayerBench extends Bench {
    @Param({"false", "true"})
    public boolean normFirst;

    @Param({"LayerNorm", "RMSNorm"})
    public String norm;

    @Param({"1"})
    public int threads;

    TransformerEncoderLayer layer;
    Adam opt;
    Tensor x, dy;

    @Setup
    public void setup() {
        Parallel.setThreads(threads);
        Rng rng = new Rng(1);
        layer = new TransformerEncoderLayer(64, 4, 128, 0.0, "gelu", 1e-5, normFirst, TransformerEncoderLayer.Norm.named(norm), rng);
        opt = new Adam(layer.parameters(), 1e-3);
        x = Tensor.of(gaussian(rng, 64 * 16 * 64), 64, 16, 64);
        dy = Tensor.of(gaussian(rng, 64 * 16 * 64), 64, 16, 64);
        layer.train();
        layer.reuseOutputs(true); // as the Trainer runs a step
    }

    @Benchmark
    public Tensor step() {
        layer.zeroGrad();
        layer.forward(x);
        Tensor dx = layer.backward(dy);
        opt.step();
        return dx;
    }
}
