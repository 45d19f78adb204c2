package normlab.norm;

import normlab.tensor.Tensor;

/** InstanceNorm over (N, C, L) input, as PyTorch's {@code nn.InstanceNorm1d}. The math and the batch-size notes are in {@link InstanceNorm}. */
public final class InstanceNorm1d extends InstanceNorm {
    /** PyTorch's defaults: ε 1e-5, momentum 0.1, no affine, no running statistics. */
    public InstanceNorm1d(int numFeatures) {
        this(numFeatures, 1e-5, 0.1, false, false);
    }

    public InstanceNorm1d(int numFeatures, double eps, double momentum, boolean affine, boolean trackRunningStats) {
        super(numFeatures, eps, momentum, affine, trackRunningStats);
    }

    @Override
    protected void checkInput(Tensor x) {
        requireRank(x, 3);
    }
}
