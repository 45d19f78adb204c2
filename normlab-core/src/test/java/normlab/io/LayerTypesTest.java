package normlab.io;

import static org.junit.jupiter.api.Assertions.*;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import normlab.nn.*;
import normlab.nn.Module;
import normlab.norm.*;
import normlab.rnn.GRU;
import normlab.rnn.LSTM;
import normlab.rnn.LastStep;
import normlab.rnn.NormLSTM;
import normlab.rnn.Unflatten;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** Every registered layer type survives describe → build → load state with identical description and state. */
class LayerTypesTest {
    private static List<Module> samples() {
        Rng r = new Rng(5);
        return List.of(
                new Linear(3, 4, false, r),
                new Conv2d(4, 6, new int[] {3, 1}, new int[] {2, 1}, new int[] {1, 0}, new int[] {1, 2}, 2, true, r),
                new BatchNorm1d(5, 1e-3, null, false, true),
                new BatchNorm2d(5, 1e-5, 0.3, true, false, Layout.NHWC),
                new FrozenBatchNorm2d(4, 0.0),
                new normlab.norm.SyncBatchNorm(4, 1e-4, 0.2, true, true),
                new BatchRenorm(3, 1e-4, 0.05, true, new BatchRenorm.Schedule(10, 2.5, 100, 4, 50)),
                new GhostBatchNorm(3, 8, 1e-5, null, false),
                new InstanceNorm1d(3, 1e-5, 0.1, true, true),
                new InstanceNorm2d(3),
                new LayerNorm(new int[] {4, 5}, 1e-6, true, false),
                new GroupNorm(2, 6, 1e-5, false, Layout.NHWC),
                new RMSNorm(new int[] {7}, null, true),
                new MaxPool2d(new int[] {3, 2}, new int[] {2, 2}, new int[] {1, 1}),
                new AvgPool2d(new int[] {2, 2}, new int[] {1, 2}, new int[] {0, 1}, false),
                new GlobalAvgPool(),
                new Dropout(0.25, r),
                new Activation.ReLU(), new Activation.Sigmoid(), new Activation.Tanh(), new Activation.GELU("tanh"),
                new normlab.nn.MultiheadAttention(6, 3, 0.1, false, r),
                new normlab.transformer.TransformerEncoderLayer(8, 2, 12, 0.0, "gelu", 1e-6, true,
                        normlab.transformer.TransformerEncoderLayer.Norm.BATCH_NORM, r),
                new normlab.transformer.VisionTransformer(8, 2, 4, 8, 2, 2, 16, 5, false,
                        normlab.transformer.TransformerEncoderLayer.Norm.RMS_NORM, true, r),
                new Flatten(), new Identity(),
                new LSTM(3, 4, 2, false, r), new GRU(2, 3, r), new NormLSTM(NormLSTM.Kind.BATCH, 3, 2, 5, true, r),
                new LastStep(), new Unflatten(4, 7),
                new Sequential(new Linear(2, 2, r), new Sequential()),
                new Residual(new Sequential(new Linear(2, 2, r))),
                new BasicBlock(4, 6, 2, BatchNorm2d::new, r),
                new PreActBlock(4, 4, 1, c -> new GroupNorm(2, c), r));
    }

    @Test
    void everyRegisteredTypeRoundTrips() throws ModelFileException {
        Set<String> seen = new LinkedHashSet<>();
        Rng r = new Rng(6);
        for (Module m : samples()) {
            for (Tensor t : m.stateTensors().values()) for (int i = 0; i < t.data.length; i++) t.data[i] = (float) r.nextGaussian();
            var desc = LayerTypes.describe(m);
            seen.add(desc.get("type").getAsString());
            Module back = LayerTypes.build(desc, "sample");
            assertSame(m.getClass(), back.getClass());
            assertEquals(desc, LayerTypes.describe(back), desc.toString());
            back.loadStateDict(m.stateDict());
            Map<String, Tensor> a = m.stateDict(), b = back.stateDict();
            assertEquals(a.keySet(), b.keySet());
            for (String k : a.keySet()) assertArrayEquals(a.get(k).data, b.get(k).data, k);
        }
        assertEquals(new LinkedHashSet<>(LayerTypes.names()), seen, "every registered type has a sample here");
    }

    @Test
    void unknownArgumentIsRefused() {
        var desc = LayerTypes.describe(new Linear(2, 3, null));
        desc.getAsJsonObject("args").addProperty("bias_init", 0.5);
        ModelFileException e = assertThrows(ModelFileException.class, () -> LayerTypes.build(desc, "model"));
        assertEquals("model (Linear): unknown argument 'bias_init'", e.getMessage());
    }

    @Test
    void constructorErrorsNameTheNode() {
        var desc = LayerTypes.describe(new Conv2d(4, 4, 3, null));
        desc.getAsJsonObject("args").addProperty("groups", 3);
        ModelFileException e = assertThrows(ModelFileException.class, () -> LayerTypes.build(desc, "model.children[0]"));
        assertTrue(e.getMessage().startsWith("model.children[0] (Conv2d): Conv2d: in (4) and out (4) channels"), e.getMessage());
    }
}
