package normlab.norm;

import normlab.tensor.Tensor;

/** BatchNorm over (N, C) or (N, C, L) input, as PyTorch's {@code nn.BatchNorm1d}. The math is in {@link BatchNorm}. */
public final class BatchNorm1d extends BatchNorm {
    public BatchNorm1d(int numFeatures) {
        super(numFeatures);
    }

    public BatchNorm1d(int numFeatures, double eps, Double momentum, boolean affine, boolean trackRunningStats) {
        super(numFeatures, eps, momentum, affine, trackRunningStats);
    }

    @Override
    protected void checkInput(Tensor x) {
        requireRank(x, 2, 3);
    }
}
