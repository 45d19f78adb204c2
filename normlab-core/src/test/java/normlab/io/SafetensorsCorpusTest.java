package normlab.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A corpus of crafted bad safetensors files. The contract: {@link Safetensors#read} either returns the tensors or
 * throws {@link ModelFileException} naming the file and the defect; any other exception (index, allocation, JSON,
 * arithmetic) is a parser bug. The message fragment each case must contain is part of the case.
 */
class SafetensorsCorpusTest {
    @TempDir
    Path dir;

    /** 8-byte little-endian length, the header text padded with spaces, then {@code data}. */
    static byte[] file(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        return b.array();
    }

    static byte[] raw(long headerLen, byte[] rest) {
        ByteBuffer b = ByteBuffer.allocate(8 + rest.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(headerLen).put(rest);
        return b.array();
    }

    static String t(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + "," + end + "]}";
    }

    static Arguments c(String name, byte[] bytes, String fragment) {
        return Arguments.of(name, bytes, fragment);
    }

    /** The corpus: one row per bad file (a table, hence longer than 80 lines). */
    static Stream<Arguments> corpus() {
        byte[] d16 = new byte[16];
        return Stream.of(
                c("empty file", new byte[0], "shorter than the 8-byte header length"),
                c("7 bytes", new byte[7], "shorter than the 8-byte header length"),
                c("header length 0", raw(0, new byte[8]), "header length 0"),
                c("header length past the end", raw(1000, "{}".getBytes(StandardCharsets.UTF_8)), "header length 1000"),
                c("header length negative", raw(-8, new byte[16]), "header length 18446744073709551608"),
                c("header length 2^63-1", raw(Long.MAX_VALUE, new byte[4]), "does not fit"),
                c("header over 100 MB", raw(200L << 20, new byte[4]), "does not fit"),
                c("header not JSON", file("{\"a\":", d16), "not valid JSON"),
                c("header is an array", file("[1,2]", new byte[0]), "not a JSON object"),
                c("header is a string", file("\"x\"", new byte[0]), "not a JSON object"),
                c("deeply nested header", file("[".repeat(100_000), new byte[0]), "not valid JSON"),
                c("entry not an object", file("{\"w\":3}", new byte[0]), "tensor 'w': entry is not an object"),
                c("unknown dtype", file("{" + t("w", "BF16", "[2]", 0, 4) + "}", new byte[4]), "unsupported dtype BF16"),
                c("dtype not a string", file("{\"w\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", new byte[4]), "missing dtype"),
                c("shape missing", file("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", new byte[4]), "missing shape"),
                c("shape holds a string", file("{" + t("w", "F32", "[\"2\"]", 0, 8) + "}", new byte[8]), "non-number"),
                c("shape fractional", file("{" + t("w", "F32", "[1.5]", 0, 8) + "}", new byte[8]), "not a 64-bit integer"),
                c("shape 1e400", file("{" + t("w", "F32", "[1e400]", 0, 8) + "}", new byte[8]), "not a 64-bit integer"),
                c("negative dimension", file("{" + t("w", "F32", "[-1,2]", 0, 8) + "}", new byte[8]), "dimension -1 out of range"),
                c("dimension over 2^31", file("{" + t("w", "F32", "[4294967296]", 0, 8) + "}", new byte[8]), "out of range"),
                c("absurd dims, small offsets", file("{" + t("w", "F32", "[2147483647,2147483647,2147483647]", 0, 8) + "}", new byte[8]),
                        "needs more than 8 bytes"),
                c("absurd dims, absurd offsets", file("{" + t("w", "F32", "[2147483647,2147483647]", 0, Long.MAX_VALUE) + "}", new byte[8]),
                        "outside the 8 data bytes"),
                c("offsets three numbers", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", new byte[8]),
                        "data_offsets must be [begin, end]"),
                c("end before begin", file("{" + t("w", "F32", "[1]", 8, 4) + "}", new byte[8]), "outside the"),
                c("begin negative", file("{" + t("w", "F32", "[1]", -4, 0) + "}", new byte[8]), "outside the"),
                c("end past data", file("{" + t("w", "F32", "[4]", 0, 16) + "}", new byte[8]), "outside the 8 data bytes"),
                c("shape and offsets disagree", file("{" + t("w", "F32", "[3]", 0, 16) + "}", d16), "needs 12 bytes, data_offsets give 16"),
                c("overlapping tensors", file("{" + t("a", "F32", "[2]", 0, 8) + "," + t("b", "F32", "[2]", 4, 12) + "}", d16), "overlap"),
                c("duplicate span", file("{" + t("a", "F32", "[2]", 0, 8) + "," + t("b", "I32", "[2]", 0, 8) + "}", new byte[8]), "overlap"),
                c("hole between tensors", file("{" + t("a", "F32", "[1]", 0, 4) + "," + t("b", "F32", "[1]", 8, 12) + "}", d16),
                        "cover 8 of the 16 data bytes"),
                c("trailing bytes", file("{" + t("a", "F32", "[2]", 0, 8) + "}", d16), "cover 8 of the 16"),
                c("metadata not an object", file("{\"__metadata__\":[1]}", new byte[0]), "__metadata__ is not an object"),
                c("metadata value not a string", file("{\"__metadata__\":{\"a\":1}}", new byte[0]), "value for 'a' is not a string"),
                c("checksum lies", file("{\"__metadata__\":{\"normlab.crc32c\":\"00000000\"}," + t("w", "F32", "[2]", 0, 8) + "}", new byte[8]),
                        "checksum mismatch"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corpus")
    void refusesWithAModelFileException(String name, byte[] bytes, String fragment) throws IOException {
        Path f = dir.resolve("bad.safetensors");
        Files.write(f, bytes);
        ModelFileException e = assertThrows(ModelFileException.class, () -> Safetensors.read(f), name);
        assertTrue(e.getMessage().contains(f.toString()), "message should name the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(fragment), name + ": message lacks \"" + fragment + "\": " + e.getMessage());
    }

    static Map<String, Tensor> sample() {
        Rng rng = new Rng(7);
        Map<String, Tensor> m = new LinkedHashMap<>();
        Tensor w = Tensor.zeros(4, 3);
        for (int i = 0; i < w.numel(); i++) w.data[i] = (float) rng.nextGaussian();
        m.put("0.weight", w);
        m.put("0.bias", Tensor.of(new float[] {1, -2, 3, -4}, 4));
        m.put("1.running_mean", Tensor.of(new float[] {0.5f, 0.25f, 0.125f, 1e7f}, 4));
        m.put("1.num_batches_tracked", Tensor.scalar(12));
        m.put("2.empty", Tensor.zeros(0, 5));
        return m;
    }

    @Test
    void validFileRoundTripsWithChecksum() throws IOException {
        Path f = dir.resolve("ok.safetensors");
        Safetensors.write(f, sample(), Map.of("step", "3"));
        Safetensors.Contents c = Safetensors.read(f);
        assertEquals(Map.of("step", "3"), c.metadata(), "the verified checksum is not returned as metadata");
        assertTrue(Files.readString(f, StandardCharsets.ISO_8859_1).matches("(?s).*\"normlab[.]crc32c\":\"[0-9a-f]{8}\".*"));
        for (var e : sample().entrySet()) {
            assertArrayEquals(e.getValue().shape(), c.tensors().get(e.getKey()).shape(), e.getKey());
            assertArrayEquals(e.getValue().data, c.tensors().get(e.getKey()).data, 0f, e.getKey());
        }
    }

    /** Every proper prefix of a valid file is refused with a ModelFileException. */
    @Test
    void everyTruncationIsRefused() throws IOException {
        byte[] good = Safetensors.encode(sample(), Map.of());
        for (int len = 0; len < good.length; len++) {
            byte[] prefix = java.util.Arrays.copyOf(good, len);
            assertThrows(ModelFileException.class, () -> Safetensors.decode(prefix, "prefix", false), "prefix of " + len + " bytes");
        }
        // And through a real file, one length in the data section.
        Path f = dir.resolve("trunc.safetensors");
        Files.write(f, java.util.Arrays.copyOf(good, good.length - 3));
        assertThrows(ModelFileException.class, () -> Safetensors.read(f));
    }

    /**
     * Random corruption of a valid file (1..4 bytes overwritten, seeded), read with the checksum required (as
     * checkpoints are): reading either fails with a ModelFileException or — if the damage hit padding or a
     * JSON-insignificant byte — returns exactly the original tensors and metadata. The checksum makes a silently
     * different result impossible (up to CRC-32C collisions, 2^-32 per damaged file).
     */
    @Test
    void randomByteCorruptionIsDetected() throws IOException {
        byte[] good = Safetensors.encode(sample(), Map.of("note", "corruption corpus"));
        Rng rng = new Rng(20261124L);
        int refused = 0, intact = 0;
        for (int iter = 0; iter < 5000; iter++) {
            byte[] b = good.clone();
            int flips = 1 + rng.nextInt(4);
            for (int k = 0; k < flips; k++) b[rng.nextInt(b.length)] = (byte) rng.nextInt(256);
            try {
                Safetensors.Contents c = Safetensors.decode(b, "corrupt", true);
                if (!"corruption corpus".equals(c.metadata().get("note"))) fail("iteration " + iter + ": metadata changed");
                for (var e : sample().entrySet()) {
                    Tensor got = c.tensors().get(e.getKey());
                    if (got == null || !java.util.Arrays.equals(got.shape(), e.getValue().shape())
                            || !java.util.Arrays.equals(got.data, e.getValue().data)) {
                        fail("iteration " + iter + ": corrupted file read without error but '" + e.getKey() + "' differs; header "
                                + new String(b, 8, 300, StandardCharsets.ISO_8859_1));
                    }
                }
                intact++;
            } catch (ModelFileException expected) {
                refused++;
            } catch (RuntimeException | IOException | Error other) {
                throw new AssertionError("iteration " + iter + ": undocumented " + other, other);
            }
        }
        assertTrue(refused > 3500, "only " + refused + " of 5000 corruptions refused (" + intact + " intact)");
    }

    /** A consistent header for a tensor larger than any Java array (a sparse 9 GB file): refused before allocating. */
    @Test
    void tensorLargerThanAnArrayIsRefusedBeforeAllocating() throws IOException {
        long bytes = 9L << 30; // 9 GiB of F32 = 3 × 805306368 = 2.4e9 elements > 2^31, each dimension < 2^31
        String h = "{" + t("huge", "F32", "[3," + (bytes / 12) + "]", 0, bytes) + "}";
        Path f = dir.resolve("huge.safetensors");
        Files.write(f, file(h, new byte[0]));
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[1]), Files.size(f) + bytes - 1); // extends the file sparsely
        }
        ModelFileException e = assertThrows(ModelFileException.class, () -> Safetensors.read(f));
        assertTrue(e.getMessage().contains("too many elements"), e.getMessage());
    }

    @Test
    void missingFileIsAnIOExceptionNotAModelFileException() {
        IOException e = assertThrows(IOException.class, () -> Safetensors.read(dir.resolve("nope.safetensors")));
        assertTrue(!(e instanceof ModelFileException), "a missing file is an I/O failure, not a malformed file");
    }

    /** Files without a checksum (PyTorch's, or the golden fixtures) are read as they are, unless one is required. */
    @Test
    void fileWithoutChecksumIsAcceptedUnlessRequired() throws IOException {
        Path f = dir.resolve("plain.safetensors");
        byte[] data = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-2f).array();
        Files.write(f, file("{" + t("w", "F32", "[2]", 0, 8) + "}", data));
        assertArrayEquals(new float[] {1.5f, -2f}, Safetensors.read(f).tensors().get("w").data, 0f);
        ModelFileException e = assertThrows(ModelFileException.class, () -> Safetensors.read(f, true));
        assertTrue(e.getMessage().contains("no normlab.crc32c checksum"), e.getMessage());
    }

    /** Metadata is covered by the checksum: editing a value is detected. */
    @Test
    void editedMetadataIsDetected() throws IOException {
        byte[] good = Safetensors.encode(sample(), Map.of("step", "3"));
        String s = new String(good, StandardCharsets.ISO_8859_1).replace("\"step\":\"3\"", "\"step\":\"4\"");
        Path f = dir.resolve("edited.safetensors");
        Files.write(f, s.getBytes(StandardCharsets.ISO_8859_1));
        ModelFileException e = assertThrows(ModelFileException.class, () -> Safetensors.read(f));
        assertTrue(e.getMessage().contains("checksum mismatch"), e.getMessage());
    }
}
