package normlab.io;

import static normlab.io.OnnxWriter.attr;
import static normlab.io.OnnxWriter.attrInts;
import static normlab.io.OnnxWriter.key;

import java.util.List;
import normlab.nn.Activation;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.MultiheadAttention;
import normlab.norm.BatchNorm;
import normlab.transformer.TransformerEncoderLayer;
import normlab.transformer.VisionTransformer;

/**
 * The ONNX emitters of GELU, MultiheadAttention, TransformerEncoderLayer and VisionTransformer (their entries in
 * {@link LayerSpecs}), in standard opset-17 operators on batch-first (N, T, E) values:
 * <pre>
 * GELU (exact)        Div(x, √2), Erf, Add 1, Mul x, Mul ½                  y = ½x·(1 + erf(x/√2))
 * GELU (tanh)         Pow 3, Mul, Add, Mul √(2/π), Tanh, Add 1, Mul x, Mul ½
 * Linear on (N,T,E)   MatMul(x, Wᵀ), Add b                                  (Gemm takes only 2-D inputs)
 * MultiheadAttention  per projection MatMul + Add, Reshape (N,T,H,d), Transpose (N,H,T,d) (K: (N,H,d,T));
 *                     MatMul, Mul 1/√d, Softmax(axis −1), MatMul V, Transpose, Reshape (N,T,E), out_proj
 * EncoderLayer        the block's graph with Add for each residual; LayerNorm/RMSNorm by their own emitters on the
 *                     last axis, BatchNorm1d between Transposes to (N, E, T)
 * VisionTransformer   Reshape to (N,C,S,S), Conv, Reshape + Transpose to tokens, class token as
 *                     Slice(z, token 0)·0 + class_token, Concat, Add pos_embedding, the layers, norm,
 *                     Slice + Reshape (class token) or ReduceMean over tokens, Gemm head
 * </pre>
 * Self-attention only (the encoder's): a MultiheadAttention exported alone reads one input as query, key and value.
 */
final class TransformerOnnx {
    private TransformerOnnx() {}

    static void gelu(Activation.GELU m, OnnxWriter g, String name, int[] out) {
        String x = g.value();
        String y;
        if (m.approximate.equals("tanh")) {
            // ½x·(1 + tanh(√(2/π)·(x + 0.044715x³)))
            String cube = g.node("Pow", name, List.of(x, scalar(g, name, "three", 3f)));
            String inner = g.node("Add", name, List.of(x, g.node("Mul", name, List.of(cube, scalar(g, name, "c", 0.044715f)))));
            String t = g.node("Tanh", name, List.of(g.node("Mul", name, List.of(inner, scalar(g, name, "k", (float) Math.sqrt(2 / Math.PI))))));
            y = g.node("Add", name, List.of(t, scalar(g, name, "one", 1f)));
        } else {
            // ½x·(1 + erf(x/√2))
            String e = g.node("Erf", name, List.of(g.node("Div", name, List.of(x, scalar(g, name, "sqrt2", (float) Math.sqrt(2))))));
            y = g.node("Add", name, List.of(e, scalar(g, name, "one", 1f)));
        }
        y = g.node("Mul", name, List.of(g.node("Mul", name, List.of(x, y)), scalar(g, name, "half", 0.5f)));
        g.setValue(y, out);
    }

    /** Self-attention of the current value (N, T, E). */
    static void attention(MultiheadAttention m, OnnxWriter g, String name, int[] out) {
        int e = m.embedDim, h = m.numHeads, d = m.headDim;
        String x = g.value();
        String[] qkv = new String[3];
        String[] tag = {"q", "k", "v"};
        String heads = g.int64s(name + ".heads_shape", 0, 0, h, d);
        for (int p = 0; p < 3; p++) {
            float[] wt = new float[e * e];
            float[] w = m.inProjWeight.value.data;
            // Wₚᵀ[i, j] = in_proj_weight[p·E + j, i]
            for (int i = 0; i < e; i++) for (int j = 0; j < e; j++) wt[i * e + j] = w[(p * e + j) * e + i];
            String proj = g.node("MatMul", name, List.of(x, g.floats(key(m, "in_proj_weight") + "." + tag[p] + ".T", wt, e, e)));
            if (m.inProjBias != null) {
                float[] b = java.util.Arrays.copyOfRange(m.inProjBias.value.data, p * e, p * e + e);
                proj = g.node("Add", name, List.of(proj, g.floats(key(m, "in_proj_bias") + "." + tag[p], b, e)));
            }
            String split = g.node("Reshape", name, List.of(proj, heads));
            qkv[p] = g.node("Transpose", name, List.of(split), p == 1 ? attrInts("perm", 0, 2, 3, 1) : attrInts("perm", 0, 2, 1, 3));
        }
        // P = softmax(Q·Kᵀ/√d) per head; O = P·V
        String s = g.node("Mul", name, List.of(g.node("MatMul", name, List.of(qkv[0], qkv[1])), scalar(g, name, "scale", (float) (1 / Math.sqrt(d)))));
        String p = g.node("Softmax", name, List.of(s), attr("axis", -1L));
        String o = g.node("Transpose", name, List.of(g.node("MatMul", name, List.of(p, qkv[2]))), attrInts("perm", 0, 2, 1, 3));
        o = g.node("Reshape", name, List.of(o, g.int64s(name + ".merge_shape", 0, 0, e)));
        g.setValue(o, out);
        linear3d(m.outProj, g, m.outProj.path(), out);
    }

    /** y = x·Wᵀ + b on the current value of any rank (MatMul with the transposed weight, Add the bias). */
    static void linear3d(Linear l, OnnxWriter g, String name, int[] out) {
        float[] wt = new float[l.in * l.out], w = l.weight.value.data;
        for (int i = 0; i < l.in; i++) for (int j = 0; j < l.out; j++) wt[i * l.out + j] = w[j * l.in + i];
        String y = g.node("MatMul", name, List.of(g.value(), g.floats(key(l, "weight") + ".T", wt, l.in, l.out)));
        if (l.bias != null) y = g.node("Add", name, List.of(y, g.floats(key(l, "bias"), l.bias.value)));
        g.setValue(y, out);
    }

    /** A child layer by its own emitter on the current value; a BatchNorm between Transposes to (N, E, T). */
    private static void child(Module c, OnnxWriter g, int[] out) {
        LayerSpec<?> s = LayerSpecs.of(c);
        String name = c.path().isEmpty() ? c.getClass().getSimpleName() : c.path();
        if (c instanceof BatchNorm) g.channelsFirst(name, out, true, cf -> s.emitOnnx(c, g, name, cf));
        else s.emitOnnx(c, g, name, out);
    }

    static void encoderLayer(TransformerEncoderLayer m, OnnxWriter g, String name, int[] out) {
        int[] hidden = {out[0], m.dimFeedforward};
        String x = g.value();
        if (m.normFirst) {
            // h = x + SA(norm1(x));  y = h + FF(norm2(h))
            child(m.norm1, g, out);
            child(m.selfAttn, g, out);
            String h = g.node("Add", name, List.of(x, g.value()));
            g.setValue(h, out);
            child(m.norm2, g, out);
            feedForward(m, g, out, hidden);
            g.setValue(g.node("Add", name, List.of(h, g.value())), out);
        } else {
            // h = norm1(x + SA(x));  y = norm2(h + FF(h))
            child(m.selfAttn, g, out);
            g.setValue(g.node("Add", name, List.of(x, g.value())), out);
            child(m.norm1, g, out);
            String h = g.value();
            feedForward(m, g, out, hidden);
            g.setValue(g.node("Add", name, List.of(h, g.value())), out);
            child(m.norm2, g, out);
        }
    }

    private static void feedForward(TransformerEncoderLayer m, OnnxWriter g, int[] out, int[] hidden) {
        linear3d(m.linear1, g, m.linear1.path(), hidden);
        child(m.activation, g, hidden);
        linear3d(m.linear2, g, m.linear2.path(), out);
    }

    static void visionTransformer(VisionTransformer m, OnnxWriter g, String name, int[] out) {
        int c = m.channels, s = m.imageSize, e = m.dim, grid = s / m.patchSize, t0 = grid * grid, t = m.tokens();
        g.setValue(g.node("Reshape", name, List.of(g.value(), g.int64s(name + ".image_shape", 0, c, s, s))), new int[] {c, s, s});
        child(m.convProj, g, new int[] {e, grid, grid});
        String z = g.node("Reshape", name, List.of(g.value(), g.int64s(name + ".tokens_shape", 0, e, t0)));
        z = g.node("Transpose", name, List.of(z), attrInts("perm", 0, 2, 1));
        if (m.classToken) {
            // (N, 1, E) of zeros from the first token, plus class_token: Expand without a Shape subgraph.
            String first = slice(g, name, z, 0, 1);
            String cls = g.node("Add", name, List.of(g.node("Mul", name, List.of(first, scalar(g, name, "zero", 0f))),
                    g.floats(key(m, "class_token"), m.classTokenParam.value)));
            z = g.node("Concat", name, List.of(cls, z), attr("axis", 1L));
        }
        z = g.node("Add", name, List.of(z, g.floats(key(m, "pos_embedding"), m.posEmbedding.value)));
        int[] tokens = {t, e};
        g.setValue(z, tokens);
        for (Module l : m.layers.layers()) child(l, g, tokens);
        if (m.norm != null) child(m.norm, g, tokens);
        String pooled = m.classToken
                ? g.node("Reshape", name, List.of(slice(g, name, g.value(), 0, 1), g.int64s(name + ".pooled_shape", 0, e)))
                : g.opset() >= 18
                ? g.node("ReduceMean", name, List.of(g.value(), g.int64s(name + ".token_axis", 1)), attr("keepdims", 0L))
                : g.node("ReduceMean", name, List.of(g.value()), attrInts("axes", 1), attr("keepdims", 0L));
        g.setValue(pooled, new int[] {e});
        child(m.head, g, out);
    }

    /** x[:, from:to, :] (axis 1). */
    private static String slice(OnnxWriter g, String name, String x, long from, long to) {
        return g.node("Slice", name, List.of(x, g.int64s(name + ".start", from), g.int64s(name + ".end", to), g.int64s(name + ".axis", 1)));
    }

    private static String scalar(OnnxWriter g, String name, String what, float v) {
        return g.floats(name + "." + what, new float[] {v}, 1);
    }
}
