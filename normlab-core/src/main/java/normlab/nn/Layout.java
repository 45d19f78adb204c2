package normlab.nn;

/**
 * Memory order of an image batch. NCHW (PyTorch's default) keeps each channel's H·W plane contiguous; NHWC ("channels
 * last") keeps the C channels of each pixel contiguous. Layers that accept both read NHWC in place, without a
 * transposing copy, and their outputs and gradients keep the input's layout.
 */
public enum Layout {
    /** (N, C, H, W): channel dimension 1. */
    NCHW,
    /** (N, H, W, C): channel dimension last. */
    NHWC;

    /** Index of the channel dimension in a tensor of the given rank. */
    public int channelDim(int rank) {
        return this == NCHW ? 1 : rank - 1;
    }
}
