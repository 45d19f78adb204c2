package normlab.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import normlab.nn.Linear;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm1d;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.testing.Golden;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Safetensors: a model's state round-trips exactly, num_batches_tracked as I64, and PyTorch-written files read back. */
class SafetensorsTest {
    @TempDir
    Path dir;

    @Test
    void stateDictRoundTrip() throws Exception {
        Sequential net = new Sequential(new Linear(4, 3, false, new Rng(1)), new BatchNorm1d(3));
        Rng rng = new Rng(2);
        for (int k = 0; k < 3; k++) {
            Tensor x = Tensor.zeros(5, 4);
            for (int i = 0; i < x.numel(); i++) x.data[i] = (float) rng.nextGaussian();
            net.forward(x);
        }
        ((BatchNorm1d) net.get(1)).numBatchesTracked.data[0] = 12_345_678f;
        Path file = dir.resolve("model.safetensors");
        Map<String, Tensor> state = net.stateDict();
        Safetensors.write(file, state, Map.of("format", "normlab", "note", "round trip"));

        Safetensors.Contents back = Safetensors.read(file);
        assertEquals(Map.of("format", "normlab", "note", "round trip"), back.metadata());
        assertEquals(state.keySet(), back.tensors().keySet());
        for (Map.Entry<String, Tensor> e : state.entrySet()) {
            Tensor t = back.tensors().get(e.getKey());
            assertArrayEquals(e.getValue().shape(), t.shape(), e.getKey());
            assertArrayEquals(e.getValue().data, t.data, e.getKey());
        }
        // The header stores num_batches_tracked as a 0-d int64, everything else as float32.
        byte[] bytes = Files.readAllBytes(file);
        long headerLen = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(bytes, 8, (int) headerLen, StandardCharsets.UTF_8);
        assertTrue(header.contains("\"1.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[]"), header);
        assertTrue(header.contains("\"1.running_mean\":{\"dtype\":\"F32\""), header);
        assertEquals(0, (8 + headerLen) % 8, "data starts 8-byte aligned");
        // Loading into a fresh model restores everything.
        Sequential fresh = new Sequential(new Linear(4, 3, false, null), new BatchNorm1d(3));
        fresh.loadStateDict(back.tensors());
        assertEquals(12_345_678f, ((BatchNorm1d) fresh.get(1)).numBatchesTracked.data[0]);
        assertArrayEquals(((BatchNorm1d) net.get(1)).runningVar.data, ((BatchNorm1d) fresh.get(1)).runningVar.data);
    }

    @Test
    void readsPyTorchFixtureWithInt64() {
        Map<String, Tensor> t = Golden.load("core", "bn1d_nc").tensors();
        Tensor nbt = t.get("step2.num_batches_tracked");
        assertEquals(0, nbt.rank());
        assertEquals(3f, nbt.data[0]);
        assertArrayEquals(new int[] {8, 4}, t.get("step0.x").shape());
        assertEquals(4, t.get("step0.f64.running_var").numel(), "float64 tensors are read (converted to float)");
    }

    @Test
    void truncatedFileIsRejectedWithItsName() throws Exception {
        Path file = dir.resolve("cut.safetensors");
        byte[] full = Safetensors.encode(Map.of("w", Tensor.full(1f, 10)), Map.of());
        Files.write(file, Arrays.copyOf(full, full.length - 4));
        ModelFileException e = assertThrows(ModelFileException.class, () -> Safetensors.read(file));
        assertTrue(e.getMessage().contains("cut.safetensors"), e.getMessage());
    }
}
