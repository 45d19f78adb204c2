package normlab.data;

import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * Plain tensors as a training set (PyTorch's {@code TensorDataset}): inputs of shape (N, ...) and targets of shape
 * (N, ...), row {@code i} of each being one example. For {@link normlab.train.Trainer} with any
 * {@link normlab.nn.Loss}: targets (N) of class indices for cross-entropy, (N, outputs) for MSE.
 */
public final class TensorDataset {
    /** Inputs (N, ...) and targets (N, ...); not copied. */
    public final Tensor inputs, targets;
    /** Number of examples. */
    public final int n;

    public TensorDataset(Tensor inputs, Tensor targets) {
        normlab.kernels.VectorApi.require();
        if (inputs.rank() < 1 || targets.rank() < 1 || inputs.dim(0) != targets.dim(0)) {
            throw new ShapeException("TensorDataset: inputs " + inputs.shapeString() + " and targets " + targets.shapeString()
                    + " must have the same first dimension N");
        }
        if (inputs.dim(0) == 0) throw new ShapeException("TensorDataset: no examples (inputs " + inputs.shapeString() + ")");
        this.inputs = inputs;
        this.targets = targets;
        this.n = inputs.dim(0);
    }

    /** The rows {@code idx} of the inputs, shape (idx.length, ...). */
    public Tensor inputs(int[] idx) {
        return gather(inputs, idx);
    }

    /** The rows {@code idx} of the targets, shape (idx.length, ...). */
    public Tensor targets(int[] idx) {
        return gather(targets, idx);
    }

    private static Tensor gather(Tensor t, int[] idx) {
        int[] shape = t.shape();
        int row = t.numel() / shape[0];
        shape[0] = idx.length;
        Tensor out = Tensor.zeros(shape);
        for (int i = 0; i < idx.length; i++) System.arraycopy(t.data, idx[i] * row, out.data, i * row, row);
        return out;
    }

    @Override
    public String toString() {
        return "TensorDataset(inputs=" + inputs.shapeString() + ", targets=" + targets.shapeString() + ")";
    }
}
