package normlab.norm;

import normlab.tensor.Tensor;

/** BatchNorm over (N, C, H, W) input, as PyTorch's {@code nn.BatchNorm2d}. The math is in {@link BatchNorm}. */
public final class BatchNorm2d extends BatchNorm {
    public BatchNorm2d(int numFeatures) {
        super(numFeatures);
    }

    public BatchNorm2d(int numFeatures, double eps, Double momentum, boolean affine, boolean trackRunningStats) {
        super(numFeatures, eps, momentum, affine, trackRunningStats);
    }

    @Override
    protected void checkInput(Tensor x) {
        requireRank(x, 4);
    }
}
