package normlab.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;
import normlab.tensor.Rng;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A corpus of crafted bad IDX files (raw and gzipped). The contract: {@link Idx} returns the data or throws
 * {@link DataFormatException} naming the file and the defect; any other exception is a reader bug.
 */
class IdxCorpusTest {
    @TempDir
    Path dir;

    static byte[] idx(int magic, int[] dims, int payload) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + payload);
        b.putInt(magic);
        for (int d : dims) b.putInt(d);
        for (int i = 0; i < payload; i++) b.put((byte) (i * 7));
        return b.array();
    }

    static byte[] gzip(byte[] raw) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            try (GZIPOutputStream g = new GZIPOutputStream(out)) {
                g.write(raw);
            }
            return out.toByteArray();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    static final int IMG = Idx.IMAGES_MAGIC, LAB = Idx.LABELS_MAGIC;

    static Arguments c(String name, boolean images, byte[] bytes, String fragment) {
        return Arguments.of(name, images, bytes, fragment);
    }

    static Stream<Arguments> corpus() {
        byte[] good = idx(IMG, new int[] {2, 3, 3}, 18);
        byte[] gz = gzip(good);
        return Stream.of(
                c("empty", true, new byte[0], "before the 4-byte magic"),
                c("3 bytes", false, new byte[] {0, 0, 8}, "before the 4-byte magic"),
                c("labels given for images", true, idx(LAB, new int[] {4}, 4), "(1 dimensions, expected 3)"),
                c("images given for labels", false, good, "(3 dimensions, expected 1)"),
                c("float elements", true, idx(0x00000D03, new int[] {1, 1, 1}, 4), "element type 0x0d"),
                c("not IDX at all", true, "PK\u0003\u0004 zip".getBytes(), "not an IDX file"),
                c("header ends early", true, idx(IMG, new int[] {2, 3}, 0), "header ends before dimension 2"),
                c("negative count", false, idx(LAB, new int[] {-5}, 0), "4294967291, too large"),
                c("zero rows", true, idx(IMG, new int[] {1, 0, 5}, 0), "not plausible"),
                c("side over the limit", true, idx(IMG, new int[] {1, Idx.MAX_SIDE + 1, 1}, 0), "not plausible"),
                c("absurd total", true, idx(IMG, new int[] {Integer.MAX_VALUE, 16384, 16384}, 4), "more than the"),
                c("truncated payload", true, Arrays.copyOf(good, good.length - 1), "truncated"),
                c("trailing bytes", true, Arrays.copyOf(good, good.length + 3), "has bytes after"),
                c("labels truncated", false, idx(LAB, new int[] {10}, 9), "truncated"),
                c("gzip header only", true, new byte[] {0x1f, (byte) 0x8b}, "gzip"),
                c("gzip truncated", true, Arrays.copyOf(gz, gz.length / 2), "gzip"),
                c("gzip of a short file", true, gzip(Arrays.copyOf(good, good.length - 2)), "truncated"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("corpus")
    void refusesWithADataFormatException(String name, boolean images, byte[] bytes, String fragment) throws IOException {
        Path f = dir.resolve("bad.idx");
        Files.write(f, bytes);
        DataFormatException e = assertThrows(DataFormatException.class, () -> read(f, images), name);
        assertTrue(e.getMessage().contains(f.toString()), "message should name the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(fragment), name + ": message lacks \"" + fragment + "\": " + e.getMessage());
    }

    static Object read(Path f, boolean images) throws IOException {
        return images ? Idx.readImages(f) : Idx.readLabels(f);
    }

    @Test
    void everyTruncationIsRefused() throws IOException {
        byte[] good = idx(IMG, new int[] {3, 4, 5}, 60);
        Path f = dir.resolve("t.idx");
        for (byte[] file : new byte[][] {good, gzip(good)}) {
            for (int len = 0; len < file.length; len++) {
                Files.write(f, Arrays.copyOf(file, len));
                int l = len;
                assertThrows(DataFormatException.class, () -> Idx.readImages(f), "prefix of " + l + " bytes");
            }
        }
    }

    /**
     * Random corruption (1..3 bytes overwritten, seeded) of a raw and a gzipped image file: each read either throws
     * DataFormatException or returns images whose shape agrees with the bytes read (IDX has no checksum, so a damaged
     * pixel is undetectable; gzip's CRC-32 catches damage to compressed files).
     */
    @Test
    void randomCorruptionGivesOnlyDocumentedErrors() throws IOException {
        byte[] raw = idx(IMG, new int[] {3, 4, 5}, 60);
        byte[] gz = gzip(raw);
        Path f = dir.resolve("c.idx");
        Rng rng = new Rng(8);
        int refused = 0;
        for (int iter = 0; iter < 600; iter++) {
            byte[] b = (iter % 2 == 0 ? raw : gz).clone();
            for (int k = 1 + rng.nextInt(3); k > 0; k--) b[rng.nextInt(b.length)] = (byte) rng.nextInt(256);
            Files.write(f, b);
            try {
                Idx.Images im = Idx.readImages(f);
                assertEquals((long) im.n() * im.rows() * im.cols(), im.pixels().length, "iteration " + iter);
                if (iter % 2 == 1) assertArrayEquals(Arrays.copyOfRange(raw, 16, raw.length), im.pixels(), "gzip CRC missed damage");
            } catch (DataFormatException expected) {
                refused++;
            } catch (RuntimeException | IOException | Error other) {
                fail("iteration " + iter + ": undocumented " + other, other);
            }
        }
        assertTrue(refused > 300, "only " + refused + " of 600 corruptions refused");
    }
}
