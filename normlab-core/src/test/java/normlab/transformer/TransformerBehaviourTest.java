package normlab.transformer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import normlab.io.ModelFiles;
import normlab.models.Vit;
import normlab.nn.Module;
import normlab.nn.MultiheadAttention;
import normlab.tensor.Rng;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the goldens do not pin: dropout (off in eval, seeded in training), the key-padding mask's independence from
 * masked values, BatchNorm blocks in eval, one-line errors naming the layer and shape, and a ViT model file's round trip.
 */
class TransformerBehaviourTest {
    static Tensor randn(Rng r, int... shape) {
        return TransformerGradCheckTest.randn(r, 1, shape);
    }

    static TransformerEncoderLayer layer(double dropout, TransformerEncoderLayer.Norm norm, long seed) {
        return new TransformerEncoderLayer(8, 2, 16, dropout, "gelu", 1e-5, true, norm, new Rng(seed));
    }

    @Test
    void dropoutIsOffInEvalAndSeededInTraining() {
        Tensor x = randn(new Rng(1), 2, 5, 8);
        TransformerEncoderLayer plain = layer(0.0, TransformerEncoderLayer.Norm.LAYER_NORM, 3);
        TransformerEncoderLayer a = layer(0.5, TransformerEncoderLayer.Norm.LAYER_NORM, 3), b = layer(0.5, TransformerEncoderLayer.Norm.LAYER_NORM, 3);
        a.loadStateDict(plain.stateDict());
        b.loadStateDict(plain.stateDict());
        float[] ref = plain.eval().forward(x).data.clone();
        assertArrayEquals(ref, a.eval().forward(x).data, "eval: dropout is the identity");
        a.train();
        b.train();
        float[] ta = a.forward(x).data.clone();
        assertFalse(Arrays.equals(ref, ta), "training with p = 0.5 drops something");
        assertArrayEquals(ta, b.forward(x).data, "same seed, same masks");
        Tensor dx = a.backward(randn(new Rng(2), 2, 5, 8));
        for (float v : dx.data) assertTrue(Float.isFinite(v));
    }

    @Test
    void maskedKeysDoNotInfluenceTheOutput() {
        Rng r = new Rng(4);
        MultiheadAttention mha = new MultiheadAttention(6, 2, r);
        Tensor q = randn(r, 2, 3, 6), k = randn(r, 2, 4, 6), v = randn(r, 2, 4, 6);
        Tensor mask = Tensor.zeros(2, 4);
        mask.data[2] = 1f; // sample 0, key 2
        float[] y = mha.forward(q, k, v, mask).data.clone();
        for (int j = 0; j < 6; j++) {
            k.data[2 * 6 + j] += 100f;
            v.data[2 * 6 + j] -= 50f;
        }
        assertArrayEquals(y, mha.forward(q, k, v, mask).data);
        float[] unmasked = mha.forward(q, k, v, null).data;
        assertFalse(Arrays.equals(y, unmasked), "without the mask the changed key matters");
        // Every key of sample 1 masked: its outputs are NaN (0/0 in the softmax), as PyTorch's; sample 0 is unaffected.
        Tensor all = Tensor.zeros(2, 4);
        for (int j = 0; j < 4; j++) all.data[4 + j] = 1f;
        float[] z = mha.forward(q, k, v, all).data;
        for (int i = 0; i < 3 * 6; i++) {
            assertTrue(Float.isFinite(z[i]), "sample 0 stays finite");
            assertTrue(Float.isNaN(z[3 * 6 + i]), "sample 1 is NaN");
        }
    }

    @Test
    void batchNormBlocksUseRunningStatisticsInEval() {
        TransformerEncoderLayer l = layer(0.0, TransformerEncoderLayer.Norm.BATCH_NORM, 5);
        Tensor x = randn(new Rng(6), 4, 5, 8);
        float[] train = l.train().forward(x).data.clone();
        assertTrue(l.namedBuffers().containsKey("norm1.running_mean"));
        assertFalse(Arrays.equals(train, l.eval().forward(x).data));
    }

    @Test
    void badInputIsOneLineNamingLayerAndShape() {
        MultiheadAttention mha = new MultiheadAttention(8, 2, new Rng(1));
        assertEquals("MultiheadAttention: expected 8 embedding features (dim 2) in input of shape [2, 3, 6], got 6",
                assertThrows(ShapeException.class, () -> mha.forward(Tensor.zeros(2, 3, 6))).getMessage());
        assertEquals("MultiheadAttention: expected key_padding_mask of shape [2, 3], got [2, 4]",
                assertThrows(ShapeException.class, () -> mha.forward(Tensor.zeros(2, 3, 8), Tensor.zeros(2, 3, 8), Tensor.zeros(2, 3, 8),
                        Tensor.zeros(2, 4))).getMessage());
        assertEquals("MultiheadAttention: embed_dim must be a positive multiple of num_heads, got embed_dim=8 num_heads=3",
                assertThrows(IllegalArgumentException.class, () -> new MultiheadAttention(8, 3, null)).getMessage());
        TransformerEncoderLayer l = layer(0.0, TransformerEncoderLayer.Norm.RMS_NORM, 1);
        assertEquals("TransformerEncoderLayer: backward called before forward",
                assertThrows(IllegalStateException.class, () -> l.backward(Tensor.zeros(1, 1, 8))).getMessage());
        assertEquals("TransformerEncoderLayer: expected input of rank 3, got shape [4, 8]",
                assertThrows(ShapeException.class, () -> l.forward(Tensor.zeros(4, 8))).getMessage());
        assertEquals("TransformerEncoderLayer: norm must be LayerNorm, RMSNorm or BatchNorm1d, got 'GroupNorm'",
                assertThrows(IllegalArgumentException.class, () -> TransformerEncoderLayer.Norm.named("GroupNorm")).getMessage());
        VisionTransformer vit = Vit.mnist().dim(8).depth(1).heads(2).mlpDim(8).build(new Rng(1));
        assertEquals("VisionTransformer: expected input of shape [N, 1, 28, 28] or [N, 784], got [2, 1, 32, 32]",
                assertThrows(ShapeException.class, () -> vit.forward(Tensor.zeros(2, 1, 32, 32))).getMessage());
    }

    @Test
    void vitModelFileRoundTripsBitForBit(@TempDir Path tmp) throws Exception {
        VisionTransformer vit = Vit.mnist().dim(8).depth(2).heads(2).mlpDim(16).normFirst(false).classToken(true)
                .norm(TransformerEncoderLayer.Norm.RMS_NORM).build(new Rng(9));
        vit.eval();
        Tensor x = randn(new Rng(10), 3, 784);
        float[] y = vit.forward(x).data.clone();
        ModelFiles.save(vit, tmp.resolve("vit.safetensors"));
        Module back = ModelFiles.load(tmp.resolve("vit.safetensors"));
        assertTrue(back instanceof VisionTransformer v && !v.normFirst && v.classToken && v.depth == 2);
        assertArrayEquals(y, back.eval().forward(x).data);
        assertEquals(vit.stateDict().keySet(), back.stateDict().keySet());
        assertTrue(vit.stateDict().containsKey("layers.1.self_attn.in_proj_weight") && vit.stateDict().containsKey("class_token"));
    }
}
