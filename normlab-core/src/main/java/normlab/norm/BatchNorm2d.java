package normlab.norm;

import normlab.nn.Layout;
import normlab.tensor.Tensor;

/**
 * BatchNorm over (N, C, H, W) input, or channels-last (N, H, W, C) with {@link Layout#NHWC}, as PyTorch's
 * {@code nn.BatchNorm2d} (PyTorch's channels_last memory format). The math is in {@link BatchNorm}.
 */
public final class BatchNorm2d extends BatchNorm {
    public BatchNorm2d(int numFeatures) {
        super(numFeatures);
    }

    public BatchNorm2d(int numFeatures, double eps, Double momentum, boolean affine, boolean trackRunningStats) {
        super(numFeatures, eps, momentum, affine, trackRunningStats);
    }

    public BatchNorm2d(int numFeatures, double eps, Double momentum, boolean affine, boolean trackRunningStats, Layout layout) {
        super(numFeatures, eps, momentum, affine, trackRunningStats, layout);
    }

    /** PyTorch's defaults with the given layout. */
    public BatchNorm2d(int numFeatures, Layout layout) {
        super(numFeatures, 1e-5, 0.1, true, true, layout);
    }

    @Override
    protected void checkInput(Tensor x) {
        requireRank(x, 4);
    }
}
