package normlab.transformer;

import static normlab.testing.Golden.GRAD_TOL;
import static normlab.testing.Golden.OUT_TOL;
import static normlab.testing.Golden.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.Map;
import normlab.io.Safetensors;
import normlab.kernels.Kernels;
import normlab.nn.Activation;
import normlab.nn.Module;
import normlab.nn.MultiheadAttention;
import normlab.nn.Parameter;
import normlab.tensor.Tensor;
import normlab.testing.Golden;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * GELU, MultiheadAttention and TransformerEncoderLayer against PyTorch's own modules (golden/transformer, written by
 * tools/golden/gen_transformer.py): PyTorch's state dict loads strictly (same keys and shapes), then outputs (≤ 1e-5)
 * and input and parameter gradients (≤ 1e-4) match; metric in {@link Golden}.
 */
class TransformerGoldenTest {
    /** The fixture's {@code param.*} tensors under their state-dict keys. */
    static Map<String, Tensor> params(Map<String, Tensor> t) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : t.entrySet()) {
            if (e.getKey().startsWith("param.")) out.put(e.getKey().substring(6), e.getValue());
        }
        return out;
    }

    /** Every parameter gradient against the fixture's {@code grad.<key>}; the fixture must have one for each. */
    static void assertGrads(String name, Module m, Map<String, Tensor> t) {
        int n = 0;
        for (Map.Entry<String, Parameter> p : m.namedParameters().entrySet()) {
            assertClose(name + " grad " + p.getKey(), p.getValue().grad, t.get("grad." + p.getKey()), GRAD_TOL);
            n++;
        }
        assertEquals(t.keySet().stream().filter(k -> k.startsWith("grad.")).count(), n, name + ": parameter count");
    }

    /** Both paths: the SIMD one (float lanes, derivative saved by the forward) and the scalar double reference. */
    @ParameterizedTest(name = "{0} simd={1}")
    @CsvSource({"none, true", "none, false", "tanh, true", "tanh, false"})
    void gelu(String approximate, boolean simd) {
        boolean before = Kernels.simd();
        Kernels.setSimd(simd);
        try {
            Map<String, Tensor> t = Golden.load("transformer", "gelu_" + approximate).tensors();
            Activation.GELU g = new Activation.GELU(approximate);
            assertClose("gelu y", g.forward(t.get("x")), t.get("y"), OUT_TOL);
            assertClose("gelu dx", g.backward(t.get("dy")), t.get("dx"), GRAD_TOL);
            // Saturation: y = x and y' = 1 far right, y = 0 and y' = 0 far left, in either path.
            Tensor far = Tensor.of(new float[] {30f, -30f}, 2);
            Tensor y = g.forward(far), d = g.backward(Tensor.of(new float[] {1f, 1f}, 2));
            assertEquals(30f, y.data[0]);
            assertEquals(0f, y.data[1], 1e-30);
            assertEquals(1f, d.data[0]);
            assertEquals(0f, d.data[1], 1e-30);
        } finally {
            Kernels.setSimd(before);
        }
    }

    @Test
    void selfAttention() {
        Safetensors.Contents c = Golden.load("transformer", "mha_self");
        Map<String, Tensor> t = c.tensors();
        MultiheadAttention mha = new MultiheadAttention(Integer.parseInt(c.metadata().get("embed_dim")),
                Integer.parseInt(c.metadata().get("num_heads")), null);
        mha.loadStateDict(params(t));
        assertClose("mha y", mha.forward(t.get("x")), t.get("y"), OUT_TOL);
        assertClose("mha dx", mha.backward(t.get("dy")), t.get("dx"), GRAD_TOL);
        assertGrads("mha", mha, t);
    }

    @Test
    void crossAttentionWithKeyPaddingMask() {
        Safetensors.Contents c = Golden.load("transformer", "mha_cross");
        Map<String, Tensor> t = c.tensors();
        MultiheadAttention mha = new MultiheadAttention(Integer.parseInt(c.metadata().get("embed_dim")),
                Integer.parseInt(c.metadata().get("num_heads")), null);
        mha.loadStateDict(params(t));
        Tensor y = mha.forward(t.get("q"), t.get("k"), t.get("v"), t.get("mask"));
        assertClose("mha cross y", y, t.get("y"), OUT_TOL);
        Tensor[] g = mha.backwardQkv(t.get("dy"));
        assertClose("mha cross dq", g[0], t.get("dq"), GRAD_TOL);
        assertClose("mha cross dk", g[1], t.get("dk"), GRAD_TOL);
        assertClose("mha cross dv", g[2], t.get("dv"), GRAD_TOL);
        // A masked key gets no gradient at all.
        int tk = t.get("k").dim(1), e = t.get("k").dim(2);
        for (int j = 0; j < e; j++) assertEquals(0f, g[1].data[(0 * tk + 5) * e + j], "dk of masked key (0, 5)");
        assertGrads("mha cross", mha, t);
    }

    @ParameterizedTest
    @ValueSource(strings = {"enc_post_layernorm_relu", "enc_pre_layernorm_gelu", "enc_post_layernorm_gelu",
            "enc_pre_layernorm_relu", "enc_pre_rmsnorm_gelu", "enc_post_rmsnorm_relu"})
    void encoderLayer(String name) {
        Safetensors.Contents c = Golden.load("transformer", name);
        Map<String, Tensor> t = c.tensors();
        Map<String, String> m = c.metadata();
        TransformerEncoderLayer layer = new TransformerEncoderLayer(Integer.parseInt(m.get("d_model")), Integer.parseInt(m.get("nhead")),
                Integer.parseInt(m.get("dim_feedforward")), 0.0, m.get("activation"), 1e-5, Boolean.parseBoolean(m.get("norm_first")),
                TransformerEncoderLayer.Norm.named(m.get("norm")), null);
        layer.loadStateDict(params(t));
        assertEquals(params(t).keySet(), layer.stateDict().keySet(), name + ": PyTorch's keys in PyTorch's order");
        // PyTorch's registration order (the fixture's keys are sorted): self_attn, linear1, linear2, norm1, norm2.
        String order = "self_attn.in_proj_weight,self_attn.in_proj_bias,self_attn.out_proj.weight,self_attn.out_proj.bias,"
                + "linear1.weight,linear1.bias,linear2.weight,linear2.bias,norm1.weight," + (name.contains("rms") ? "" : "norm1.bias,")
                + "norm2.weight" + (name.contains("rms") ? "" : ",norm2.bias");
        assertEquals(order, String.join(",", layer.stateDict().keySet()));
        assertClose(name + " y", layer.forward(t.get("x")), t.get("y"), OUT_TOL);
        assertClose(name + " dx", layer.backward(t.get("dy")), t.get("dx"), GRAD_TOL);
        assertGrads(name, layer, t);
    }

    @ParameterizedTest
    @ValueSource(strings = {"vit_pre_layernorm_cls", "vit_post_layernorm_mean", "vit_pre_rmsnorm_mean"})
    void visionTransformer(String name) {
        Safetensors.Contents c = Golden.load("transformer", name);
        Map<String, Tensor> t = c.tensors();
        Map<String, String> m = c.metadata();
        VisionTransformer vit = new VisionTransformer(Integer.parseInt(m.get("image")), 1, Integer.parseInt(m.get("patch")),
                Integer.parseInt(m.get("dim")), Integer.parseInt(m.get("depth")), Integer.parseInt(m.get("heads")),
                Integer.parseInt(m.get("mlp")), Integer.parseInt(m.get("classes")), Boolean.parseBoolean(m.get("norm_first")),
                TransformerEncoderLayer.Norm.named(m.get("norm")), Boolean.parseBoolean(m.get("class_token")), null);
        vit.loadStateDict(params(t));
        assertClose(name + " logits", vit.forward(t.get("x")), t.get("y"), OUT_TOL);
        assertClose(name + " dx", vit.backward(t.get("dy")), t.get("dx"), GRAD_TOL);
        assertGrads(name, vit, t);
        // Flat input (N, C·S·S) is the same function; dx comes back in the input's shape.
        vit.zeroGrad();
        Tensor flat = t.get("x").view(t.get("x").dim(0), -1);
        assertClose(name + " logits (flat input)", vit.forward(flat), t.get("y"), OUT_TOL);
        assertEquals(flat.shapeString(), vit.backward(t.get("dy")).shapeString());
    }
}
