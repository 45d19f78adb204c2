package normlab.transformer;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import normlab.nn.Activation;
import normlab.nn.Module;
import normlab.nn.MultiheadAttention;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.testing.GradCheck;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Finite-difference checks ({@link GradCheck}: fourth-order stencil, objective summed in double) of dL/dx and every
 * parameter gradient of GELU, MultiheadAttention (self, and cross with a key-padding mask: dq, dk and dv each) and
 * TransformerEncoderLayer in every placement × normalization, BatchNorm in training mode included, and the whole
 * VisionTransformer (patch embedding, class token, position embedding, pooling heads).
 */
class TransformerGradCheckTest {
    static Tensor randn(Rng rng, double scale, int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) t.data[i] = (float) (rng.nextGaussian() * scale);
        return t;
    }

    /** Biases and norm weights moved off their initial 0 and 1, so their gradient paths are exercised. */
    static void perturb(Module m, Rng rng) {
        for (var p : m.parameters()) for (int i = 0; i < p.value.numel(); i++) p.value.data[i] += (float) (0.1 * rng.nextGaussian());
    }

    @ParameterizedTest(name = "{0} simd={1}")
    @CsvSource({"none, true", "none, false", "tanh, true"})
    void gelu(String approximate, boolean simd) {
        boolean before = normlab.kernels.Kernels.simd();
        normlab.kernels.Kernels.setSimd(simd);
        try {
            GradCheck.check(new Activation.GELU(approximate), randn(new Rng(3), 2, 4, 9), GradCheck.TOL);
        } finally {
            normlab.kernels.Kernels.setSimd(before);
        }
    }

    @Test
    void selfAttention() {
        Rng rng = new Rng(11);
        MultiheadAttention mha = new MultiheadAttention(8, 2, rng);
        perturb(mha, rng);
        List<GradCheck.Result> r = GradCheck.check(mha, randn(rng, 1, 2, 4, 8), GradCheck.TOL);
        assertTrue(r.size() == 5, "dx and four parameters: " + r);
    }

    /** One of q, k, v is the checked input x; the other two and the mask are fixed. */
    static final class Cross extends Module {
        final MultiheadAttention mha;
        final Tensor[] qkv;
        final int which;
        final Tensor mask;

        Cross(MultiheadAttention mha, Tensor[] qkv, int which, Tensor mask) {
            this.mha = mha;
            this.qkv = qkv;
            this.which = which;
            this.mask = mask;
        }

        @Override
        public Tensor forward(Tensor x) {
            Tensor[] in = qkv.clone();
            in[which] = x;
            return mha.forward(in[0], in[1], in[2], mask);
        }

        @Override
        public Tensor backward(Tensor dy) {
            return mha.backwardQkv(dy)[which];
        }

        @Override
        public Map<String, Module> children() {
            return Map.of("attn", mha);
        }
    }

    @ParameterizedTest(name = "input {0}")
    @ValueSource(ints = {0, 1, 2})
    void crossAttentionWithMask(int which) {
        Rng rng = new Rng(12);
        MultiheadAttention mha = new MultiheadAttention(6, 3, rng);
        perturb(mha, rng);
        Tensor[] qkv = {randn(rng, 1, 2, 3, 6), randn(rng, 1, 2, 5, 6), randn(rng, 1, 2, 5, 6)};
        Tensor mask = Tensor.zeros(2, 5);
        mask.data[1] = mask.data[5 + 4] = 1f;
        GradCheck.check(new Cross(mha, qkv, which, mask), qkv[which].copy(), GradCheck.TOL);
    }

    @ParameterizedTest(name = "norm_first={0} {1} {2}")
    @CsvSource({"false, LayerNorm, gelu", "true, LayerNorm, gelu", "true, RMSNorm, gelu", "false, RMSNorm, gelu",
            "true, BatchNorm1d, gelu", "false, BatchNorm1d, gelu"})
    void encoderLayer(boolean normFirst, String norm, String act) {
        Rng rng = new Rng(13);
        TransformerEncoderLayer layer = new TransformerEncoderLayer(8, 2, 12, 0.0, act, 1e-5, normFirst,
                TransformerEncoderLayer.Norm.named(norm), rng);
        perturb(layer, rng);
        GradCheck.check(layer, randn(rng, 1, 2, 3, 8), GradCheck.TOL);
    }

    @ParameterizedTest(name = "norm_first={0} {1} class_token={2}")
    @CsvSource({"true, LayerNorm, true", "false, LayerNorm, false", "true, RMSNorm, false", "true, BatchNorm1d, true"})
    void visionTransformer(boolean normFirst, String norm, boolean classToken) {
        Rng rng = new Rng(14);
        VisionTransformer vit = new VisionTransformer(4, 1, 2, 4, 2, 2, 8, 3, normFirst, TransformerEncoderLayer.Norm.named(norm),
                classToken, rng);
        perturb(vit, rng);
        GradCheck.check(vit, randn(rng, 1, 2, 1, 4, 4), GradCheck.TOL);
    }

    /** Dropout everywhere (p = 0.3: FFN, both residual branches, attention weights) with masks fixed across evaluations. */
    @ParameterizedTest(name = "norm_first={0}")
    @ValueSource(booleans = {true, false})
    void encoderLayerWithDropout(boolean normFirst) {
        Rng rng = new Rng(15);
        TransformerEncoderLayer layer = new TransformerEncoderLayer(8, 2, 12, 0.3, "gelu", 1e-5, normFirst,
                TransformerEncoderLayer.Norm.LAYER_NORM, rng);
        perturb(layer, rng);
        layer.dropout.setMask(mask(rng, 6, 12));
        layer.dropout1.setMask(mask(rng, 2, 3, 8));
        layer.dropout2.setMask(mask(rng, 6, 8));
        layer.selfAttn.setDropoutSeed(99L);
        layer.train();
        GradCheck.check(layer, randn(rng, 1, 2, 3, 8), GradCheck.TOL);
    }

    static Tensor mask(Rng rng, int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) t.data[i] = rng.nextDouble() < 0.3 ? 0f : 1f;
        return t;
    }
}
