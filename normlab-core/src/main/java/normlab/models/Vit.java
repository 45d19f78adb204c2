package normlab.models;

import normlab.tensor.Rng;
import normlab.transformer.TransformerEncoderLayer;
import normlab.transformer.VisionTransformer;

/**
 * Builder of a small {@link VisionTransformer}: image size, patch, width, depth, heads, MLP width, classes, norm
 * placement (pre or post) and type (LayerNorm, RMSNorm, BatchNorm1d), class-token or mean-pool head. Defaults: a
 * 1×28×28 image in 7×7 patches (16 tokens), width 64, depth 6, 4 heads, MLP 128, 10 classes, pre-LayerNorm, mean pool.
 * <pre>
 *   VisionTransformer m = Vit.mnist().depth(12).normFirst(false).build(new Rng(1));
 * </pre>
 */
public record Vit(int imageSize, int channels, int patch, int dim, int depth, int heads, int mlpDim, int classes,
                  boolean normFirst, TransformerEncoderLayer.Norm norm, boolean classToken) {
    /** The defaults of the class comment (28×28 grey images, 10 classes). */
    public static Vit mnist() {
        return new Vit(28, 1, 7, 64, 6, 4, 128, 10, true, TransformerEncoderLayer.Norm.LAYER_NORM, false);
    }

    public Vit dim(int d) {
        return new Vit(imageSize, channels, patch, d, depth, heads, mlpDim, classes, normFirst, norm, classToken);
    }

    public Vit depth(int d) {
        return new Vit(imageSize, channels, patch, dim, d, heads, mlpDim, classes, normFirst, norm, classToken);
    }

    public Vit heads(int h) {
        return new Vit(imageSize, channels, patch, dim, depth, h, mlpDim, classes, normFirst, norm, classToken);
    }

    public Vit mlpDim(int m) {
        return new Vit(imageSize, channels, patch, dim, depth, heads, m, classes, normFirst, norm, classToken);
    }

    public Vit patch(int p) {
        return new Vit(imageSize, channels, p, dim, depth, heads, mlpDim, classes, normFirst, norm, classToken);
    }

    public Vit normFirst(boolean pre) {
        return new Vit(imageSize, channels, patch, dim, depth, heads, mlpDim, classes, pre, norm, classToken);
    }

    public Vit norm(TransformerEncoderLayer.Norm n) {
        return new Vit(imageSize, channels, patch, dim, depth, heads, mlpDim, classes, normFirst, n, classToken);
    }

    public Vit classToken(boolean on) {
        return new Vit(imageSize, channels, patch, dim, depth, heads, mlpDim, classes, normFirst, norm, on);
    }

    /** The network, weights drawn from {@code rng} (PyTorch's default initializations). */
    public VisionTransformer build(Rng rng) {
        return new VisionTransformer(imageSize, channels, patch, dim, depth, heads, mlpDim, classes, normFirst, norm, classToken, rng);
    }
}
