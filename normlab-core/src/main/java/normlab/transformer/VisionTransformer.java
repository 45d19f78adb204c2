package normlab.transformer;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import normlab.nn.Conv2d;
import normlab.nn.Init;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.nn.Sequential;
import normlab.tensor.Rng;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * A small Vision Transformer (Dosovitskiy et al. 2021) classifier for C×S×S images, input (N, C, S, S) or flat
 * (N, C·S·S). With P the patch size, T₀ = (S/P)² patches and E the model width:
 * <pre>
 *   z = conv_proj(x)                      Conv2d(C, E, kernel = stride = P): (N, E, S/P, S/P) → tokens (N, T₀, E)
 *   z = [class_token; z] + pos_embedding  class token optional (T = T₀ + 1), learnable position embedding (1, T, E)
 *   z = layers(z)                         depth × TransformerEncoderLayer(E, heads, mlp, GELU, dropout 0, norm_first, norm)
 *   z = norm(z)                           final norm, pre-norm only (a post-norm stack ends in a norm already)
 *   y = head(z[:, 0]) or head(mean_t z)   class-token or mean-pool head: Linear(E, classes)
 * </pre>
 * State-dict keys: {@code conv_proj.*}, {@code class_token} (1, 1, E), {@code pos_embedding} (1, T, E),
 * {@code layers.<i>.self_attn.*} … (PyTorch's TransformerEncoderLayer names), {@code norm.*}, {@code head.*} — a PyTorch
 * module with these attributes (tools/golden/gen_transformer.py's {@code Vit}) loads them strictly. Initialization:
 * PyTorch's defaults for the layers, position embedding normal(0, 0.02), class token 0 (torchvision's ViT).
 * Backward: the reverse, dpos = Σₙ dz, dclass = Σₙ dz[:, 0].
 */
public final class VisionTransformer extends Module {
    public final int imageSize, channels, patchSize, dim, depth, heads, mlpDim, classes;
    public final boolean normFirst, classToken;
    public final TransformerEncoderLayer.Norm normType;
    public final Conv2d convProj;
    public final Parameter classTokenParam; // null without a class token
    public final Parameter posEmbedding;
    public final Sequential layers;
    public final Module norm; // null for post-norm
    public final Linear head;
    private final int grid, tokens;
    private final Map<String, Module> named;

    private int n;          // batch of the last forward
    private int[] inShape;  // its input shape (dx takes it)

    public VisionTransformer(int imageSize, int channels, int patchSize, int dim, int depth, int heads, int mlpDim, int classes,
                             boolean normFirst, TransformerEncoderLayer.Norm norm, boolean classToken, Rng rng) {
        if (patchSize <= 0 || imageSize <= 0 || imageSize % patchSize != 0) {
            throw new IllegalArgumentException("VisionTransformer: image_size must be a positive multiple of patch_size, got image_size="
                    + imageSize + " patch_size=" + patchSize);
        }
        if (depth < 0 || classes <= 0 || channels <= 0) {
            throw new IllegalArgumentException("VisionTransformer: need depth >= 0, classes > 0, channels > 0, got depth=" + depth
                    + " classes=" + classes + " channels=" + channels);
        }
        this.imageSize = imageSize;
        this.channels = channels;
        this.patchSize = patchSize;
        this.dim = dim;
        this.depth = depth;
        this.heads = heads;
        this.mlpDim = mlpDim;
        this.classes = classes;
        this.normFirst = normFirst;
        this.normType = norm;
        this.classToken = classToken;
        this.grid = imageSize / patchSize;
        this.tokens = grid * grid + (classToken ? 1 : 0);
        this.convProj = new Conv2d(channels, dim, patchSize, patchSize, 0, 1, 1, true, rng);
        this.classTokenParam = classToken ? new Parameter("class_token", Tensor.zeros(1, 1, dim), Parameter.Kind.WEIGHT) : null;
        this.posEmbedding = new Parameter("pos_embedding", Tensor.zeros(1, tokens, dim), Parameter.Kind.WEIGHT);
        if (rng != null) Init.normal(posEmbedding.value, 0.02, rng);
        List<Module> ls = new ArrayList<>();
        for (int i = 0; i < depth; i++) ls.add(new TransformerEncoderLayer(dim, heads, mlpDim, 0.0, "gelu", 1e-5, normFirst, norm, rng));
        this.layers = new Sequential(ls);
        this.norm = normFirst ? norm.make(dim, 1e-5) : null;
        this.head = new Linear(dim, classes, true, rng);
        Map<String, Module> m = new LinkedHashMap<>();
        m.put("conv_proj", convProj);
        m.put("layers", layers);
        if (this.norm != null) m.put("norm", this.norm);
        m.put("head", head);
        this.named = java.util.Collections.unmodifiableMap(m);
        setPath("");
    }

    /** Tokens per image (patches, plus the class token if any). */
    public int tokens() {
        return tokens;
    }

    @Override
    protected List<Parameter> ownParameters() {
        return classTokenParam == null ? List.of(posEmbedding) : List.of(classTokenParam, posEmbedding);
    }

    @Override
    public Map<String, Module> children() {
        return named;
    }

    @Override
    public Tensor forward(Tensor x) {
        int pixels = channels * imageSize * imageSize;
        if (!(x.rank() == 2 && x.dim(1) == pixels) && !(x.rank() == 4 && x.dim(1) == channels && x.dim(2) == imageSize && x.dim(3) == imageSize)) {
            throw new ShapeException(label() + ": expected input of shape [N, " + channels + ", " + imageSize + ", " + imageSize
                    + "] or [N, " + pixels + "], got " + x.shapeString());
        }
        n = x.dim(0);
        inShape = x.shape();
        int t0 = grid * grid, off = classToken ? 1 : 0;
        float[] c = convProj.forward(x.view(n, channels, imageSize, imageSize)).data; // (N, E, T₀)
        // z[b, off + t, e] = c[b, e, t] + pos[off + t, e];  z[b, 0, e] = cls[e] + pos[0, e]
        Tensor z = Tensor.zeros(n, tokens, dim);
        float[] zd = z.data, pos = posEmbedding.value.data;
        for (int b = 0; b < n; b++) {
            if (classToken) for (int e = 0; e < dim; e++) zd[b * tokens * dim + e] = classTokenParam.value.data[e] + pos[e];
            for (int e = 0; e < dim; e++) {
                for (int t = 0; t < t0; t++) zd[(b * tokens + off + t) * dim + e] = c[(b * dim + e) * t0 + t] + pos[(off + t) * dim + e];
            }
        }
        Tensor h = layers.forward(z);
        if (norm != null) h = norm.forward(h.view(n * tokens, dim));
        // pooled[b] = h[b, 0] (class token) or (1/T) Σₜ h[b, t]
        Tensor pooled = Tensor.zeros(n, dim);
        float[] hd = h.data, pd = pooled.data;
        for (int b = 0; b < n; b++) {
            if (classToken) {
                System.arraycopy(hd, b * tokens * dim, pd, b * dim, dim);
            } else {
                for (int t = 0; t < tokens; t++) for (int e = 0; e < dim; e++) pd[b * dim + e] += hd[(b * tokens + t) * dim + e];
                for (int e = 0; e < dim; e++) pd[b * dim + e] /= tokens;
            }
        }
        return head.forward(pooled);
    }

    @Override
    public Tensor backward(Tensor dy) {
        return backward(dy, true);
    }

    /** The first layer of a network: no dL/dx (conv_proj computes its parameter gradients only). */
    @Override
    public void backwardParams(Tensor dy) {
        backward(dy, false);
    }

    private Tensor backward(Tensor dy, boolean withDx) {
        requireForward(inShape, this);
        Tensor.requireShape(label() + " backward", dy, n, classes);
        float[] dp = head.backward(dy).data;
        // dh[b, 0] = dpooled[b] (class token) or dh[b, t] = dpooled[b]/T
        Tensor dh = Tensor.zeros(n * tokens, dim);
        float[] dhd = dh.data;
        for (int b = 0; b < n; b++) {
            if (classToken) System.arraycopy(dp, b * dim, dhd, b * tokens * dim, dim);
            else for (int t = 0; t < tokens; t++) for (int e = 0; e < dim; e++) dhd[(b * tokens + t) * dim + e] = dp[b * dim + e] / tokens;
        }
        Tensor g = norm != null ? norm.backward(dh) : dh;
        float[] dz = layers.backward(g.view(n, tokens, dim)).data;
        // dpos += Σ_b dz[b];  dcls += Σ_b dz[b, 0];  dc[b, e, t] = dz[b, off + t, e]
        int t0 = grid * grid, off = classToken ? 1 : 0;
        float[] gpos = posEmbedding.grad.data;
        Tensor dc = Tensor.zeros(n, dim, grid, grid);
        float[] dcd = dc.data;
        for (int b = 0; b < n; b++) {
            for (int i = 0; i < tokens * dim; i++) gpos[i] += dz[b * tokens * dim + i];
            if (classToken) for (int e = 0; e < dim; e++) classTokenParam.grad.data[e] += dz[b * tokens * dim + e];
            for (int e = 0; e < dim; e++) {
                for (int t = 0; t < t0; t++) dcd[(b * dim + e) * t0 + t] = dz[(b * tokens + off + t) * dim + e];
            }
        }
        if (!withDx) {
            convProj.backwardParams(dc);
            return null;
        }
        return convProj.backward(dc).view(inShape);
    }
}
