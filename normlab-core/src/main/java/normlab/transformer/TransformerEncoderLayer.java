package normlab.transformer;

import java.util.LinkedHashMap;
import java.util.Map;
import normlab.nn.Activation;
import normlab.nn.Dropout;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.MultiheadAttention;
import normlab.norm.BatchNorm1d;
import normlab.norm.LayerNorm;
import normlab.norm.RMSNorm;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;

/**
 * One Transformer encoder block as PyTorch's {@code nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward,
 * dropout, activation, layer_norm_eps, batch_first=True, norm_first)}, with its children and state-dict names
 * ({@code self_attn.in_proj_weight}, {@code linear1.weight}, {@code linear2.weight}, {@code norm1.weight},
 * {@code norm2.weight}, …). Input and output (N, T, E). With FF(z) = linear2(dropout(act(linear1(z)))):
 * <pre>
 *   post-norm (norm_first = false, PyTorch's default):  h = norm1(x + dropout1(SA(x))),   y = norm2(h + dropout2(FF(h)))
 *   pre-norm  (norm_first = true):                      h = x + dropout1(SA(norm1(x))),   y = h + dropout2(FF(norm2(h)))
 * </pre>
 * Backward runs the same graph in reverse, each residual adding its shortcut's gradient.
 *
 * <p>The normalization is a choice ({@link Norm}): LayerNorm (PyTorch's), RMSNorm (same names: {@code norm1.weight},
 * eps = layer_norm_eps) or BatchNorm1d over all N·T tokens (a contrast; it has running statistics under
 * {@code norm1.running_mean} …). Each normalizes the E features of a token, on the (N·T, E) view. Activation "relu"
 * (default) or "gelu" (exact). Dropout (default 0.1 in PyTorch; pass 0 for none) runs in training only, on the FFN's
 * hidden units, both residual branches and (inside self_attn) the attention weights, as PyTorch; with p = 0 it is skipped.
 */
public final class TransformerEncoderLayer extends Module {
    /** The normalization of a block; {@link #typeName} is its model-file name. */
    public enum Norm {
        LAYER_NORM("LayerNorm"), RMS_NORM("RMSNorm"), BATCH_NORM("BatchNorm1d");

        public final String typeName;

        Norm(String typeName) {
            this.typeName = typeName;
        }

        /** The constant whose {@link #typeName} is {@code name}; throws naming the choices. */
        public static Norm named(String name) {
            for (Norm n : values()) if (n.typeName.equals(name)) return n;
            throw new IllegalArgumentException("TransformerEncoderLayer: norm must be LayerNorm, RMSNorm or BatchNorm1d, got '" + name + "'");
        }

        Module make(int e, double eps) {
            return switch (this) {
                case LAYER_NORM -> new LayerNorm(new int[] {e}, eps, true, true);
                case RMS_NORM -> new RMSNorm(new int[] {e}, eps, true);
                case BATCH_NORM -> new BatchNorm1d(e, eps, 0.1, true, true);
            };
        }
    }

    public final int dModel;
    public final int nhead;
    public final int dimFeedforward;
    public final double dropoutP;
    public final String activationName;
    public final double layerNormEps;
    public final boolean normFirst;
    public final Norm normType;

    public final MultiheadAttention selfAttn;
    public final Linear linear1;
    public final Dropout dropout;
    public final Linear linear2;
    public final Module norm1;
    public final Module norm2;
    public final Dropout dropout1;
    public final Dropout dropout2;
    public final Module activation;
    private final Map<String, Module> named;

    private int[] shape; // (N, T, E) of the last forward

    /** PyTorch's defaults except dropout 0: ReLU, ε 1e-5, post-norm, LayerNorm. */
    public TransformerEncoderLayer(int dModel, int nhead, int dimFeedforward, Rng rng) {
        this(dModel, nhead, dimFeedforward, 0.0, "relu", 1e-5, false, Norm.LAYER_NORM, rng);
    }

    /** @param rng initializes the parameters (null: zero weights) and seeds the dropout masks */
    public TransformerEncoderLayer(int dModel, int nhead, int dimFeedforward, double dropout, String activation,
                                   double layerNormEps, boolean normFirst, Norm norm, Rng rng) {
        if (dimFeedforward <= 0) throw new IllegalArgumentException("TransformerEncoderLayer: dim_feedforward must be positive, got " + dimFeedforward);
        if (!"relu".equals(activation) && !"gelu".equals(activation)) {
            throw new IllegalArgumentException("TransformerEncoderLayer: activation must be 'relu' or 'gelu', got '" + activation + "'");
        }
        this.dModel = dModel;
        this.nhead = nhead;
        this.dimFeedforward = dimFeedforward;
        this.dropoutP = dropout;
        this.activationName = activation;
        this.layerNormEps = layerNormEps;
        this.normFirst = normFirst;
        this.normType = norm;
        this.selfAttn = new MultiheadAttention(dModel, nhead, dropout, true, rng);
        this.linear1 = new Linear(dModel, dimFeedforward, true, rng);
        Rng dropRng = rng == null ? new Rng(1) : rng.split();
        this.dropout = new Dropout(dropout, dropRng.split());
        this.linear2 = new Linear(dimFeedforward, dModel, true, rng);
        this.norm1 = norm.make(dModel, layerNormEps);
        this.norm2 = norm.make(dModel, layerNormEps);
        this.dropout1 = new Dropout(dropout, dropRng.split());
        this.dropout2 = new Dropout(dropout, dropRng.split());
        this.activation = activation.equals("relu") ? new Activation.ReLU() : new Activation.GELU();
        Map<String, Module> m = new LinkedHashMap<>();
        m.put("self_attn", selfAttn);
        m.put("linear1", linear1);
        m.put("dropout", this.dropout);
        m.put("linear2", linear2);
        m.put("norm1", norm1);
        m.put("norm2", norm2);
        m.put("dropout1", dropout1);
        m.put("dropout2", dropout2);
        m.put("activation", this.activation);
        this.named = java.util.Collections.unmodifiableMap(m);
        setPath("");
    }

    @Override
    public Map<String, Module> children() {
        return named;
    }

    /** x (N, T, E) → (N, T, E). */
    @Override
    public Tensor forward(Tensor x) {
        requireRank(x, 3);
        requireDim(x, 2, dModel, "model features");
        shape = x.shape();
        int rows = x.dim(0) * x.dim(1);
        Tensor x2 = x.view(rows, dModel);
        Tensor out = outputTensor(0, rows, dModel);
        if (normFirst) {
            // h = x + SA(norm1(x));  y = h + FF(norm2(h))
            Tensor a = drop(dropout1, selfAttn.forward(norm1.forward(x2).view(shape))).view(rows, dModel);
            Tensor h = outputTensor(2, rows, dModel);
            add(h.data, x2.data, a.data);
            Tensor f = drop(dropout2, feedForward(norm2.forward(h)));
            add(out.data, h.data, f.data);
        } else {
            // h = norm1(x + SA(x));  y = norm2(h + FF(h))
            Tensor a = drop(dropout1, selfAttn.forward(x)).view(rows, dModel);
            Tensor s = outputTensor(2, rows, dModel);
            add(s.data, x2.data, a.data);
            Tensor h = norm1.forward(s);
            Tensor f = drop(dropout2, feedForward(h));
            Tensor z = outputTensor(3, rows, dModel);
            add(z.data, h.data, f.data);
            out.copyFrom(norm2.forward(z));
        }
        return out.view(shape);
    }

    @Override
    public Tensor backward(Tensor dy) {
        requireForward(shape, this);
        Tensor.requireShape(label() + " backward", dy, shape);
        int rows = shape[0] * shape[1];
        Tensor dy2 = dy.view(rows, dModel);
        Tensor dx = outputTensor(1, rows, dModel);
        if (normFirst) {
            // dh = dy + norm2ᵀ(FFᵀ(dy));  dx = dh + norm1ᵀ(SAᵀ(dh))
            Tensor dh = outputTensor(4, rows, dModel);
            add(dh.data, dy2.data, norm2.backward(feedForwardBackward(undrop(dropout2, dy2))).data);
            Tensor da = selfAttn.backward(undrop(dropout1, dh.view(shape)).view(shape));
            add(dx.data, dh.data, norm1.backward(da.view(rows, dModel)).data);
        } else {
            // dz = norm2ᵀ(dy);  dh = dz + FFᵀ(dz);  ds = norm1ᵀ(dh);  dx = ds + SAᵀ(ds)
            Tensor dz = norm2.backward(dy2);
            Tensor dh = outputTensor(4, rows, dModel);
            add(dh.data, dz.data, feedForwardBackward(undrop(dropout2, dz)).data);
            Tensor ds = norm1.backward(dh);
            Tensor da = selfAttn.backward(undrop(dropout1, ds.view(shape)).view(shape));
            add(dx.data, ds.data, da.data);
        }
        return dx.view(shape);
    }

    /** linear2(dropout(act(linear1(z)))) on (N·T, E). */
    private Tensor feedForward(Tensor z) {
        return linear2.forward(drop(dropout, activation.forward(linear1.forward(z))));
    }

    private Tensor feedForwardBackward(Tensor g) {
        return linear1.backward(activation.backward(undrop(dropout, linear2.backward(g))));
    }

    /** Dropout only when it does something (training, p &gt; 0); the identity otherwise. */
    private Tensor drop(Dropout d, Tensor x) {
        return isTraining() && d.p > 0 ? d.forward(x) : x;
    }

    private Tensor undrop(Dropout d, Tensor g) {
        return isTraining() && d.p > 0 ? d.backward(g) : g;
    }

    /** c = a + b elementwise. */
    private static void add(float[] c, float[] a, float[] b) {
        for (int i = 0; i < c.length; i++) c[i] = a[i] + b[i];
    }
}
