package normlab.nn;

import java.util.List;
import java.util.Map;
import normlab.kernels.Elementwise;
import normlab.kernels.Gemm;
import normlab.tensor.Rng;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * Multi-head scaled dot-product attention as PyTorch's {@code nn.MultiheadAttention(E, H, batch_first=True)}, with
 * its parameters and names: {@code in_proj_weight} (3E, E) = [W_q; W_k; W_v], {@code in_proj_bias} (3E),
 * {@code out_proj.weight} (E, E), {@code out_proj.bias} (E). Inputs are batch-first: query (N, Tq, E), key and value
 * (N, Tk, E); output (N, Tq, E). Per head h (d = E/H columns h·d … h·d+d−1 of the projections):
 * <pre>
 *   Q = q·W_qᵀ + b_q,  K = k·W_kᵀ + b_k,  V = v·W_vᵀ + b_v
 *   S = Q_h·K_hᵀ/√d  (−∞ where the key-padding mask is true),  P = softmax_rows(S),  P' = dropout(P),  O_h = P'·V_h
 *   y = O·W_oᵀ + b_o
 * </pre>
 * Backward, per head: dP' = dO_h·V_hᵀ, dV_h = P'ᵀ·dO_h, dP = dropout mask·dP', dS = P ⊙ (dP − rowsum(dP ⊙ P)),
 * dQ_h = dS·K_h/√d, dK_h = dSᵀ·Q_h/√d; then the projections' products (dW_q += dQᵀ·q, dq = dQ·W_q, …).
 *
 * <p>{@link #forward(Tensor)} is self-attention (q = k = v = x) and its {@link #backward} returns dq + dk + dv;
 * {@link #forward(Tensor, Tensor, Tensor, Tensor)} takes distinct inputs and a key-padding mask (N, Tk), nonzero =
 * ignore that key (PyTorch's boolean True); {@link #backwardQkv} returns the three input gradients. A query whose keys
 * are all masked gets NaN, as in PyTorch. Dropout on the attention weights (p, default 0) is active in training
 * only. Initialization as PyTorch: Xavier-uniform in_proj_weight, zero biases, out_proj.weight uniform in ±1/√E.
 * Deliberate differences: batch-first only; no attn_mask, bias_kv, add_zero_attn, kdim/vdim; the head-averaged
 * attention weights are not returned.
 */
public final class MultiheadAttention extends Module {
    public final int embedDim;
    public final int numHeads;
    public final int headDim;
    public final double dropout;
    public final Parameter inProjWeight;
    public final Parameter inProjBias; // null when bias=false
    public final Linear outProj;
    private final Rng dropRng;
    private Long fixedSeed; // see setDropoutSeed

    /** What the last forward left for backward. */
    private record Saved(Tensor q, Tensor k, Tensor v, int n, int tq, int tk, float[] qp, float[] kp, float[] vp,
                         float[] p, float[] keep) {}

    private Saved saved;

    public MultiheadAttention(int embedDim, int numHeads, Rng rng) {
        this(embedDim, numHeads, 0.0, true, rng);
    }

    /** @param rng initializes the parameters (null: all zero) and seeds the attention dropout */
    public MultiheadAttention(int embedDim, int numHeads, double dropout, boolean bias, Rng rng) {
        if (embedDim <= 0 || numHeads <= 0 || embedDim % numHeads != 0) {
            throw new IllegalArgumentException("MultiheadAttention: embed_dim must be a positive multiple of num_heads, got embed_dim="
                    + embedDim + " num_heads=" + numHeads);
        }
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("MultiheadAttention: dropout must be in [0, 1), got " + dropout);
        this.embedDim = embedDim;
        this.numHeads = numHeads;
        this.headDim = embedDim / numHeads;
        this.dropout = dropout;
        this.inProjWeight = new Parameter("in_proj_weight", Tensor.zeros(3 * embedDim, embedDim), Parameter.Kind.WEIGHT);
        this.inProjBias = bias ? new Parameter("in_proj_bias", Tensor.zeros(3 * embedDim), Parameter.Kind.BIAS) : null;
        this.outProj = new Linear(embedDim, embedDim, bias, rng);
        if (rng != null) {
            // xavier_uniform_ on the (3E, E) matrix: bound √(6/(fan_in + fan_out)) = √(6/(4E)).
            double b = Math.sqrt(6.0 / (4.0 * embedDim));
            Init.uniform(inProjWeight.value, -b, b, rng);
            if (outProj.bias != null) outProj.bias.value.zero();
        }
        this.dropRng = rng == null ? new Rng(0) : rng.split();
        setPath("");
    }

    /**
     * With a seed, every training forward draws its attention-dropout masks from a fresh {@code Rng(seed)}, so repeated
     * forwards of the same shape drop the same weights (for finite-difference tests, as {@link Dropout#setMask}); null
     * returns to the layer's own running generator.
     */
    public void setDropoutSeed(Long seed) {
        fixedSeed = seed;
    }

    @Override
    protected List<Parameter> ownParameters() {
        return inProjBias == null ? List.of(inProjWeight) : List.of(inProjWeight, inProjBias);
    }

    @Override
    public Map<String, Module> children() {
        return Map.of("out_proj", outProj);
    }

    /** Self-attention: q = k = v = x, shape (N, T, E). */
    @Override
    public Tensor forward(Tensor x) {
        return forward(x, x, x, null);
    }

    /**
     * Attention of query (N, Tq, E) over key/value (N, Tk, E); {@code keyPaddingMask} (N, Tk) or null, nonzero = the
     * key is ignored.
     */
    public Tensor forward(Tensor q, Tensor k, Tensor v, Tensor keyPaddingMask) {
        requireRank(q, 3);
        requireDim(q, 2, embedDim, "embedding features");
        int n = q.dim(0), tq = q.dim(1);
        if (k.rank() != 3 || v.rank() != 3 || k.dim(0) != n || k.dim(2) != embedDim || !k.sameShape(v)) {
            throw new ShapeException(label() + ": expected key and value of shape [" + n + ", Tk, " + embedDim
                    + "] (batch first, as the query " + q.shapeString() + "), got key " + k.shapeString() + " and value " + v.shapeString());
        }
        int tk = k.dim(1);
        if (keyPaddingMask != null && !keyPaddingMask.hasShape(n, tk)) {
            throw new ShapeException(label() + ": expected key_padding_mask of shape [" + n + ", " + tk + "], got " + keyPaddingMask.shapeString());
        }
        int e = embedDim, hd = headDim;
        float[] qp = project(q, 0), kp = project(k, 1), vp = project(v, 2);
        float[] p = new float[n * numHeads * tq * tk];
        boolean drop = isTraining() && dropout > 0;
        float[] keep = drop ? new float[p.length] : null;
        float[] o = new float[n * tq * e];
        float[] qh = new float[tq * hd], kh = new float[tk * hd], vh = new float[tk * hd], oh = new float[tq * hd];
        float[] s = new float[tq * tk], pd = drop ? new float[tq * tk] : null;
        float scale = (float) (1 / Math.sqrt(hd)), keepScale = (float) (1 / (1 - dropout));
        Rng masks = fixedSeed != null ? new Rng(fixedSeed) : dropRng;
        for (int b = 0; b < n; b++) {
            for (int h = 0; h < numHeads; h++) {
                gather(qh, qp, b, tq, h);
                gather(kh, kp, b, tk, h);
                gather(vh, vp, b, tk, h);
                int off = (b * numHeads + h) * tq * tk;
                // S = Q_h·K_hᵀ
                Gemm.matmulNT(s, qh, kh, tq, hd, tk);
                // P = softmax_j(S/√d), masked keys −∞: z − max(z) per row, one exp pass over the block, then 1/Σ.
                for (int i = 0; i < tq; i++) {
                    float max = Float.NEGATIVE_INFINITY;
                    for (int j = 0; j < tk; j++) {
                        float z = masked(keyPaddingMask, b, tk, j) ? Float.NEGATIVE_INFINITY : s[i * tk + j] * scale;
                        s[i * tk + j] = z;
                        if (z > max) max = z;
                    }
                    // A fully masked row: −∞ − (−∞) = NaN, so its weights are NaN, as PyTorch's.
                    for (int j = 0; j < tk; j++) s[i * tk + j] -= max;
                }
                Elementwise.exp(s, s, tq * tk);
                for (int i = 0; i < tq; i++) {
                    float sum = 0;
                    for (int j = 0; j < tk; j++) sum += s[i * tk + j];
                    float inv = 1 / sum;
                    for (int j = 0; j < tk; j++) p[off + i * tk + j] = s[i * tk + j] * inv;
                }
                float[] pUse = s;
                System.arraycopy(p, off, s, 0, tq * tk);
                if (drop) {
                    for (int i = 0; i < tq * tk; i++) {
                        keep[off + i] = masks.nextDouble() < dropout ? 0f : keepScale;
                        pd[i] = s[i] * keep[off + i];
                    }
                    pUse = pd;
                }
                // O_h = P'·V_h
                Gemm.matmulNN(oh, pUse, vh, tq, tk, hd);
                scatter(o, oh, b, tq, h);
            }
        }
        saved = new Saved(q, k, v, n, tq, tk, qp, kp, vp, p, keep);
        return outProj.forward(Tensor.of(o, n * tq, e)).view(n, tq, e);
    }

    /** Self-attention backward: dx = dq + dk + dv (the last forward must have been self-attention). */
    @Override
    public Tensor backward(Tensor dy) {
        requireForward(saved, this);
        if (saved.q != saved.k || saved.k != saved.v) {
            throw new IllegalStateException(label() + ": backward(dy) is for self-attention; the last forward had distinct query, key and value (use backwardQkv)");
        }
        Tensor[] g = backwardQkv(dy);
        float[] d = g[0].data, a = g[1].data, c = g[2].data;
        for (int i = 0; i < d.length; i++) d[i] += a[i] + c[i];
        return g[0];
    }

    /** Accumulates every parameter gradient and returns {dq, dk, dv} for dL/dy of the last forward. */
    public Tensor[] backwardQkv(Tensor dy) {
        Saved f = saved;
        requireForward(f, this);
        int n = f.n, tq = f.tq, tk = f.tk, e = embedDim, hd = headDim;
        Tensor.requireShape(label() + " backward", dy, n, tq, e);
        float[] dO = outProj.backward(dy.view(n * tq, e)).data;
        float[] dqp = new float[n * tq * e], dkp = new float[n * tk * e], dvp = new float[n * tk * e];
        float[] qh = new float[tq * hd], kh = new float[tk * hd], vh = new float[tk * hd], doh = new float[tq * hd];
        float[] dqh = new float[tq * hd], dkh = new float[tk * hd], dvh = new float[tk * hd];
        float[] dp = new float[tq * tk], pd = new float[tq * tk];
        float scale = (float) (1 / Math.sqrt(hd));
        for (int b = 0; b < n; b++) {
            for (int h = 0; h < numHeads; h++) {
                gather(qh, f.qp, b, tq, h);
                gather(kh, f.kp, b, tk, h);
                gather(vh, f.vp, b, tk, h);
                gather(doh, dO, b, tq, h);
                int off = (b * numHeads + h) * tq * tk;
                // P' (dropped-out weights) as the forward used them.
                for (int i = 0; i < tq * tk; i++) pd[i] = f.keep == null ? f.p[off + i] : f.p[off + i] * f.keep[off + i];
                // dP' = dO_h·V_hᵀ;  dV_h = P'ᵀ·dO_h
                Gemm.matmulNT(dp, doh, vh, tq, hd, tk);
                Gemm.matmulTN(dvh, pd, doh, tq, tk, hd);
                // dS = P ⊙ (dP − Σ_j dP⊙P) per row, with dP = keep·dP'; then ·1/√d for the scaled product.
                for (int i = 0; i < tq; i++) {
                    float dot = 0;
                    for (int j = 0; j < tk; j++) {
                        int a = i * tk + j;
                        if (f.keep != null) dp[a] *= f.keep[off + a];
                        dot += dp[a] * f.p[off + a];
                    }
                    for (int j = 0; j < tk; j++) {
                        int a = i * tk + j;
                        dp[a] = f.p[off + a] * (dp[a] - dot) * scale;
                    }
                }
                // dQ_h = dS·K_h;  dK_h = dSᵀ·Q_h
                Gemm.matmulNN(dqh, dp, kh, tq, tk, hd);
                Gemm.matmulTN(dkh, dp, qh, tq, tk, hd);
                scatter(dqp, dqh, b, tq, h);
                scatter(dkp, dkh, b, tk, h);
                scatter(dvp, dvh, b, tk, h);
            }
        }
        return new Tensor[] {projectBackward(f.q, dqp, 0), projectBackward(f.k, dkp, 1), projectBackward(f.v, dvp, 2)};
    }

    /** X·W_pᵀ + b_p for projection p (0 = q, 1 = k, 2 = v): rows p·E … p·E+E−1 of in_proj. Returns (N·T, E) flat. */
    private float[] project(Tensor x, int p) {
        int rows = x.dim(0) * x.dim(1), e = embedDim;
        float[] y = new float[rows * e];
        Gemm.matmulNT(y, x.data, slice(inProjWeight.value.data, p * e * e, e * e), rows, e, e);
        if (inProjBias != null) {
            float[] bias = inProjBias.value.data;
            for (int r = 0; r < rows; r++) for (int j = 0; j < e; j++) y[r * e + j] += bias[p * e + j];
        }
        return y;
    }

    /** Backward of {@link #project}: dW_p += dYᵀ·x, db_p += Σ dY, returns dx = dY·W_p. */
    private Tensor projectBackward(Tensor x, float[] dY, int p) {
        int rows = x.dim(0) * x.dim(1), e = embedDim;
        float[] dw = new float[e * e];
        Gemm.matmulTN(dw, dY, x.data, rows, e, e);
        float[] g = inProjWeight.grad.data;
        for (int i = 0; i < e * e; i++) g[p * e * e + i] += dw[i];
        if (inProjBias != null) {
            float[] gb = inProjBias.grad.data;
            for (int r = 0; r < rows; r++) for (int j = 0; j < e; j++) gb[p * e + j] += dY[r * e + j];
        }
        Tensor dx = Tensor.zeros(x.shape());
        Gemm.matmulNN(dx.data, dY, slice(inProjWeight.value.data, p * e * e, e * e), rows, e, e);
        return dx;
    }

    private static float[] slice(float[] a, int off, int len) {
        return off == 0 && a.length == len ? a : java.util.Arrays.copyOfRange(a, off, off + len);
    }

    private static boolean masked(Tensor mask, int b, int tk, int j) {
        return mask != null && mask.data[b * tk + j] != 0f;
    }

    /** dst[t, c] = src[(b·T + t)·E + h·d + c]: head h of sample b as a contiguous (T, d) matrix. */
    private void gather(float[] dst, float[] src, int b, int t, int h) {
        for (int i = 0; i < t; i++) System.arraycopy(src, (b * t + i) * embedDim + h * headDim, dst, i * headDim, headDim);
    }

    /** The inverse of {@link #gather}. */
    private void scatter(float[] dst, float[] src, int b, int t, int h) {
        for (int i = 0; i < t; i++) System.arraycopy(src, i * headDim, dst, (b * t + i) * embedDim + h * headDim, headDim);
    }
}
