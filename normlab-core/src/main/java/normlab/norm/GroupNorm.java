package normlab.norm;

import java.util.List;
import normlab.kernels.GroupKernels;
import normlab.kernels.GroupView;
import normlab.nn.Layout;
import normlab.nn.Parameter;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * Group Normalization (Wu &amp; He 2018) as PyTorch's {@code nn.GroupNorm(G, C)}: the C channels of each sample are split
 * into G groups of C/G consecutive channels; each (sample, group) is normalized over its (C/G)·S values (S = spatial
 * size), then a per-channel affine is applied.
 * <pre>
 *   μ_ng = mean of group g of sample n,  σ²_ng = biased variance,  y = (x − μ_ng)/√(σ²_ng + ε) · γ_c + β_c
 * </pre>
 * G = 1 has LayerNorm's statistics over (C, H, W) (with a per-channel, not elementwise, affine); G = C is
 * InstanceNorm with an affine. Defaults as PyTorch: ε 1e-5, affine on (γ = 1, β = 0). No running statistics.
 *
 * <p>Layouts: NCHW input (N, C, *) is viewed as rows of (C/G)·S contiguous values, (A, P, G, Q) = (N, 1, G, (C/G)·S);
 * NHWC input (N, *, C) is read in place as (N, S, G, C/G), a strided view of the same kernels ({@link GroupKernels}, {@link GroupView}).
 *
 * <p>Small batches: statistics are per sample, so batch size 1 and 2 work and give each sample the same output it
 * would get alone. A group of one value (C/G = 1 and S = 1) normalizes to 0, y = β, as PyTorch.
 */
public final class GroupNorm extends Normalization {
    public final int numGroups;
    public final int numChannels;
    public final double eps;
    public final boolean affine;
    public final Layout layout;
    public final Parameter weight; // γ, null unless affine
    public final Parameter bias;   // β, null unless affine

    /** GroupNorm with PyTorch's defaults: ε 1e-5, affine, NCHW. */
    public GroupNorm(int numGroups, int numChannels) {
        this(numGroups, numChannels, 1e-5, true, Layout.NCHW);
    }

    /** GroupNorm over NCHW input (PyTorch's only layout). */
    public GroupNorm(int numGroups, int numChannels, double eps, boolean affine) {
        this(numGroups, numChannels, eps, affine, Layout.NCHW);
    }

    public GroupNorm(int numGroups, int numChannels, double eps, boolean affine, Layout layout) {
        if (numGroups <= 0 || numChannels <= 0 || numChannels % numGroups != 0) {
            throw new IllegalArgumentException("GroupNorm: numChannels (" + numChannels + ") must be a positive multiple of numGroups (" + numGroups + ")");
        }
        if (!(eps > 0)) throw new IllegalArgumentException("GroupNorm: eps must be > 0, got " + eps);
        this.numGroups = numGroups;
        this.numChannels = numChannels;
        this.eps = eps;
        this.affine = affine;
        this.layout = layout;
        this.weight = affine ? new Parameter("weight", Tensor.full(1f, numChannels), Parameter.Kind.NORM) : null;
        this.bias = affine ? new Parameter("bias", Tensor.zeros(numChannels), Parameter.Kind.NORM) : null;
    }

    @Override
    protected List<Parameter> ownParameters() {
        return affine ? List.of(weight, bias) : List.of();
    }

    /** The kernels' view of an input of this shape and layout. */
    private GroupView view(Tensor x) {
        int n = x.dim(0), s = x.numel() / Math.max(1, n * numChannels), cg = numChannels / numGroups;
        return layout == Layout.NCHW ? GroupView.channelsFirst(n, numGroups, cg, s) : GroupView.channelsLast(n, s, numGroups, cg);
    }

    @Override
    public Tensor forward(Tensor x) {
        if (x.rank() < 2) throw new ShapeException(label() + ": expected input of rank >= 2, got shape " + x.shapeString());
        requireDim(x, layout.channelDim(x.rank()), numChannels, "channels");
        if (x.numel() == 0) throw new ShapeException(label() + ": empty input of shape " + x.shapeString());
        return normalizeGroups(x, view(x), eps, weight, bias);
    }

    /** Per group: dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), ĝ = dy·γ_c; dγ_c = Σ dy·x̂, dβ_c = Σ dy. */
    @Override
    public Tensor backward(Tensor dy) {
        return backwardGroups(dy, weight, bias, false);
    }
}
