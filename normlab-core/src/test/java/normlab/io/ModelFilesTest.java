package normlab.io;

import static org.junit.jupiter.api.Assertions.*;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import normlab.nn.Activation;
import normlab.nn.Flatten;
import normlab.nn.Identity;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Residual;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm;
import normlab.norm.BatchNorm1d;
import normlab.norm.BatchNorm2d;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Model files: save → load round trips bit for bit, and every malformed file is a clear ModelFileException. */
class ModelFilesTest {
    @TempDir
    Path dir;

    private static Module model(Rng r) {
        Module m = new Sequential(
                new BatchNorm2d(2, 1e-3, null, false, true), new Flatten(),
                new Linear(2 * 3 * 3, 12, r), new BatchNorm1d(12, 1e-5, 0.2, true, true), new Activation.ReLU(),
                new Residual(new Sequential(new Linear(12, 12, false, r), new BatchNorm1d(12, 1e-5, 0.1, true, false), new Activation.Tanh())),
                new Identity(), new Activation.Sigmoid(), new Linear(12, 4, r));
        randomize(m, r);
        return m;
    }

    private static void randomize(Module m, Rng r) {
        for (Tensor t : m.stateTensors().values()) for (int i = 0; i < t.data.length; i++) t.data[i] = (float) (0.5 + r.nextDouble());
        if (m instanceof BatchNorm bn && bn.trackRunningStats) bn.numBatchesTracked.data[0] = 17;
        for (Module c : m.children().values()) randomize(c, r);
    }

    private static Tensor input(Rng r) {
        Tensor x = Tensor.zeros(5, 2, 3, 3);
        for (int i = 0; i < x.data.length; i++) x.data[i] = (float) r.nextGaussian();
        return x;
    }

    @Test
    void roundTripIsExact() throws IOException {
        Rng r = new Rng(1);
        Module m = model(r);
        m.eval();
        Path f = dir.resolve("model.safetensors");
        ModelFiles.save(m, f);
        assertTrue(Files.exists(dir.resolve("model.json")));
        Module back = ModelFiles.load(f);
        assertFalse(back.isTraining(), "loaded models are in eval mode");
        assertEquals(LayerTypes.describe(m), LayerTypes.describe(back));
        Map<String, Tensor> a = m.stateDict(), b = back.stateDict();
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) assertArrayEquals(a.get(k).data, b.get(k).data, k);
        Tensor x = input(r);
        assertArrayEquals(m.forward(x).data, back.forward(x).data);
        // The description uses PyTorch's names; the counter is stored as int64 as PyTorch does.
        JsonObject desc = JsonParser.parseString(Files.readString(dir.resolve("model.json"))).getAsJsonObject();
        JsonObject bn = desc.getAsJsonObject("model").getAsJsonArray("children").get(0).getAsJsonObject();
        assertEquals("BatchNorm2d", bn.get("type").getAsString());
        assertTrue(bn.getAsJsonObject("args").get("momentum").isJsonNull());
        assertEquals("I64", Safetensors.dtypes(f).get("0.num_batches_tracked"));
        assertEquals("F32", Safetensors.dtypes(f).get("5.body.0.weight"));
        assertEquals("pt", Safetensors.read(f).metadata().get("format"));
    }

    @Test
    void checkpointMetadataAndExtraTensorsRoundTrip() throws IOException {
        Rng r = new Rng(2);
        Module m = model(r);
        Path f = dir.resolve("ckpt.safetensors");
        Tensor velocity = Tensor.of(new float[] {1, 2, 3}, 3);
        ModelFiles.save(m, f, Map.of("epoch", "7"), Map.of("optimizer.velocity.0", velocity));
        ModelFiles.Loaded l = ModelFiles.loadAll(f);
        assertEquals("7", l.metadata().get("epoch"));
        assertArrayEquals(velocity.data, l.extra().get("optimizer.velocity.0").data);
        Module fresh = model(new Rng(99));
        ModelFiles.loadInto(fresh, f);
        for (Map.Entry<String, Tensor> e : m.stateDict().entrySet()) {
            assertArrayEquals(e.getValue().data, fresh.stateDict().get(e.getKey()).data, e.getKey());
        }
    }

    @Test
    void copyIsDeepAndKeepsModes() {
        Module m = model(new Rng(3));
        m.train();
        ((Sequential) m).get(3).eval();
        Module c = LayerTypes.copy(m);
        assertTrue(c.isTraining());
        assertFalse(((Sequential) c).get(3).isTraining());
        assertTrue(((Sequential) c).get(0).isTraining());
        ((Linear) ((Sequential) c).get(2)).weight.value.data[0] = -42;
        assertNotEquals(-42, ((Linear) ((Sequential) m).get(2)).weight.value.data[0]);
    }

    @Test
    void unregisteredLayerIsNamed() {
        Module odd = new Module() {
            @Override
            public Tensor forward(Tensor x) {
                return x;
            }

            @Override
            public Tensor backward(Tensor dy) {
                return dy;
            }
        };
        Module m = new Sequential(new Identity(), odd);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ModelFiles.save(m, dir.resolve("x.safetensors")));
        assertTrue(e.getMessage().contains("'1'") && e.getMessage().contains("LayerTypes"), e.getMessage());
    }

    private Path saved() throws IOException {
        Module m = new Sequential(new Linear(3, 2, new Rng(4)), new BatchNorm1d(2));
        Path f = dir.resolve("m.safetensors");
        ModelFiles.save(m, f);
        return f;
    }

    private static String loadError(Path f) {
        return assertThrows(ModelFileException.class, () -> ModelFiles.load(f)).getMessage();
    }

    @Test
    void missingDescription() throws IOException {
        Path f = saved();
        Files.delete(dir.resolve("m.json"));
        assertTrue(loadError(f).contains("model description not found"));
    }

    @Test
    void badDescriptions() throws IOException {
        Path f = saved();
        Path j = dir.resolve("m.json");
        String good = Files.readString(j);
        Files.writeString(j, good.replace("\"Linear\"", "\"Conv3d\""));
        String msg = loadError(f);
        assertTrue(msg.contains("model.children[0]: unknown layer type 'Conv3d'"), msg);
        Files.writeString(j, good.replace("\"in_features\"", "\"in_feat\""));
        msg = loadError(f);
        assertTrue(msg.contains("model.children[0] (Linear): missing argument 'in_features'"), msg);
        Files.writeString(j, good.replace("\"affine\": true", "\"affine\": 1"));
        msg = loadError(f);
        assertTrue(msg.contains("(BatchNorm1d): argument 'affine' must be true or false"), msg);
        Files.writeString(j, good.replace("\"version\": 1", "\"version\": 2"));
        assertTrue(loadError(f).contains("unsupported \"version\" 2"));
        Files.writeString(j, "{not json");
        assertTrue(loadError(f).contains("not valid JSON"));
    }

    @Test
    void weightsNotMatchingTheDescription() throws IOException {
        Path f = saved();
        Path j = dir.resolve("m.json");
        String good = Files.readString(j);
        Files.writeString(j, good.replace("\"out_features\": 2", "\"out_features\": 3").replace("\"num_features\": 2", "\"num_features\": 3"));
        String msg = loadError(f);
        assertTrue(msg.contains("'0.weight' has shape [2, 3], the model expects [3, 3]"), msg);
        Files.writeString(j, good.replace("\"bias\": true", "\"bias\": false"));
        msg = loadError(f);
        assertTrue(msg.contains("unexpected tensor '0.bias'"), msg);
        Files.writeString(j, good);
        // A file lacking a key.
        Map<String, Tensor> t = new java.util.LinkedHashMap<>(Safetensors.read(f).tensors());
        t.remove("1.running_var");
        Safetensors.write(f, t, Map.of());
        assertTrue(loadError(f).contains("missing tensor '1.running_var'"));
    }

    @Test
    void wrongDtypeIsRefused() throws IOException {
        Path f = saved();
        Map<String, Tensor> t = Safetensors.read(f).tensors();
        // Rewrite 0.bias as F64 by hand (normlab itself only writes F32 and I64).
        StringBuilder h = new StringBuilder("{");
        long off = 0;
        ByteBuffer data = ByteBuffer.allocate(1024).order(ByteOrder.LITTLE_ENDIAN);
        for (Map.Entry<String, Tensor> e : t.entrySet()) {
            boolean f64 = e.getKey().equals("0.bias"), i64 = e.getKey().endsWith("num_batches_tracked");
            String dt = f64 ? "F64" : i64 ? "I64" : "F32";
            int size = (f64 || i64 ? 8 : 4) * e.getValue().numel();
            if (h.length() > 1) h.append(',');
            h.append('"').append(e.getKey()).append("\":{\"dtype\":\"").append(dt).append("\",\"shape\":")
                    .append(java.util.Arrays.toString(e.getValue().shape()).replace(" ", "")).append(",\"data_offsets\":[")
                    .append(off).append(',').append(off + size).append("]}");
            for (float v : e.getValue().data) {
                if (f64) data.putDouble(v);
                else if (i64) data.putLong((long) v);
                else data.putFloat(v);
            }
            off += size;
        }
        byte[] json = h.append('}').toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer file = ByteBuffer.allocate(8 + json.length + (int) off).order(ByteOrder.LITTLE_ENDIAN);
        file.putLong(json.length).put(json).put(data.array(), 0, (int) off);
        Files.write(f, file.array());
        String msg = loadError(f);
        assertTrue(msg.contains("'0.bias' has dtype F64, expected F32"), msg);
    }

    @Test
    void offsetsOutsideTheFileAreRefused() throws IOException {
        Path f = saved();
        byte[] b = Files.readAllBytes(f);
        Files.write(f, java.util.Arrays.copyOf(b, b.length - 4)); // truncated: the last tensor's offsets now point past the end
        String msg = loadError(f);
        assertTrue(msg.contains("outside the") || msg.contains("needs"), msg);
    }
}
