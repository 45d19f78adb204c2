package normlab.dist;

import java.util.List;
import normlab.nn.CrossEntropyLoss;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.optim.Optimizer;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * One replica of synchronous data-parallel training: a model whose BatchNorms are {@link normlab.norm.SyncBatchNorm}s
 * over {@code collective}, its optimizer, and the step every replica runs at once on its slice of the global batch:
 * <pre>
 *   zero gradients;  z_r = model(x_r)                             (SyncBatchNorm all-gathers its statistics)
 *   dL/dz_r = (softmax(z_r) − onehot(y_r))/B                       (CE's mean over the global batch of B rows)
 *   backward of dL/dz_r                                           (SyncBatchNorm all-reduces Σdy, Σdy·(x−μ))
 *   g ← Σ_r g_r, all parameters as one flat array (one all-reduce in rank order); loss ← Σ_r loss_r; optimizer step
 * </pre>
 * Used by {@link DataParallel} (threads) and by the Spark trainer (barrier tasks over a {@link TcpCollective}).
 */
public final class Replica {
    public final Module model;
    public final Optimizer optimizer;
    public final Collective collective;

    /** The outcome of one replica's step: its logits (its rows) and the mean loss over the global batch. */
    public record Result(Tensor logits, double loss) {}

    /** {@code model} must already be synchronized ({@link DataParallel#toSync}, {@link DataParallel#attach}). */
    public Replica(Module model, Optimizer optimizer, Collective collective) {
        this.model = model;
        this.optimizer = optimizer;
        this.collective = collective;
    }

    /** One step on this replica's rows {@code x} (possibly none) with labels {@code y}, of a global batch of {@code globalBatch}. */
    public Result step(Tensor x, int[] y, int globalBatch) {
        optimizer.zeroGrad();
        Tensor z = model.forward(x).copy();
        if (z.rank() != 2) throw new ShapeException("DataParallel: expected logits (N, K) from the model, got " + z.shapeString());
        double[] loss = new double[1];
        Tensor dz;
        if (y.length > 0) {
            CrossEntropyLoss ce = new CrossEntropyLoss();
            loss[0] = (double) ce.forward(z, y) * y.length;
            dz = ce.backward(globalBatch);
        } else {
            dz = Tensor.zeros(z.shape());
        }
        model.backwardParams(dz);
        List<Parameter> ps = optimizer.parameters();
        int total = 0;
        for (Parameter p : ps) total += p.grad.numel();
        float[] flat = new float[total];
        int o = 0;
        for (Parameter p : ps) {
            System.arraycopy(p.grad.data, 0, flat, o, p.grad.numel());
            o += p.grad.numel();
        }
        collective.allReduceSum(flat);
        collective.allReduceSum(loss);
        o = 0;
        for (Parameter p : ps) {
            System.arraycopy(flat, o, p.grad.data, 0, p.grad.numel());
            o += p.grad.numel();
        }
        optimizer.step();
        return new Result(z, loss[0] / globalBatch);
    }
}
