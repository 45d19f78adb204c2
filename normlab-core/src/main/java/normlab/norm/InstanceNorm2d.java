package normlab.norm;

/** InstanceNorm over (N, C, H, W) input, as PyTorch's {@code nn.InstanceNorm2d}. The math and the batch-size notes are in {@link InstanceNorm}. */
public final class InstanceNorm2d extends InstanceNorm {
    /** PyTorch's defaults: ε 1e-5, momentum 0.1, no affine, no running statistics. */
    public InstanceNorm2d(int numFeatures) {
        this(numFeatures, 1e-5, 0.1, false, false);
    }

    /** @param momentum in [0, 1]; null is rejected, as PyTorch's instance_norm does */
    public InstanceNorm2d(int numFeatures, double eps, Double momentum, boolean affine, boolean trackRunningStats) {
        super(4, numFeatures, eps, momentum, affine, trackRunningStats);
    }
}
