package normlab.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The IDX reader on small files written here: good raw and gzipped files, and each kind of damage. */
class IdxTest {
    @TempDir
    Path dir;

    /** An IDX file: magic, big-endian dimensions, then the payload bytes. */
    static byte[] idx(int magic, int[] dims, byte[] payload) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + payload.length);
        b.putInt(magic);
        for (int d : dims) b.putInt(d);
        b.put(payload);
        return b.array();
    }

    static byte[] gzip(byte[] raw) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(raw);
        }
        return out.toByteArray();
    }

    static byte[] pixels(int n) {
        byte[] p = new byte[n];
        for (int i = 0; i < n; i++) p[i] = (byte) (i * 37 + 11);
        return p;
    }

    Path write(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    @Test
    void readsRawImagesAndLabels() throws IOException {
        byte[] px = pixels(3 * 4 * 5);
        Idx.Images img = Idx.readImages(write("img", idx(Idx.IMAGES_MAGIC, new int[] {3, 4, 5}, px)));
        assertEquals(3, img.n());
        assertEquals(4, img.rows());
        assertEquals(5, img.cols());
        assertArrayEquals(px, img.pixels());
        int[] labels = Idx.readLabels(write("lab", idx(Idx.LABELS_MAGIC, new int[] {4}, new byte[] {0, 9, (byte) 200, 3})));
        assertArrayEquals(new int[] {0, 9, 200, 3}, labels);
    }

    @Test
    void readsGzippedFilesByMagicNotName() throws IOException {
        byte[] px = pixels(2 * 28 * 28);
        byte[] raw = idx(Idx.IMAGES_MAGIC, new int[] {2, 28, 28}, px);
        Idx.Images img = Idx.readImages(write("images-without-gz-suffix", gzip(raw)));
        assertArrayEquals(px, img.pixels());
        assertArrayEquals(new int[] {7, 1}, Idx.readLabels(write("l.gz", gzip(idx(Idx.LABELS_MAGIC, new int[] {2}, new byte[] {7, 1})))));
    }

    @Test
    void truncatedRawFileNamesFileAndCounts() throws IOException {
        byte[] full = idx(Idx.IMAGES_MAGIC, new int[] {3, 4, 5}, pixels(60));
        Path p = write("short-images", Arrays.copyOf(full, full.length - 7));
        DataFormatException e = assertThrows(DataFormatException.class, () -> Idx.readImages(p));
        assertTrue(e.getMessage().startsWith(p.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("truncated") && e.getMessage().contains("60") && e.getMessage().contains("53"), e.getMessage());
    }

    @Test
    void truncatedGzipIsReported() throws IOException {
        byte[] gz = gzip(idx(Idx.IMAGES_MAGIC, new int[] {50, 28, 28}, pixels(50 * 28 * 28)));
        Path p = write("cut.gz", Arrays.copyOf(gz, gz.length / 2));
        DataFormatException e = assertThrows(DataFormatException.class, () -> Idx.readImages(p));
        assertTrue(e.getMessage().startsWith(p.toString()) && e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void truncatedHeader() throws IOException {
        Path p = write("hdr", Arrays.copyOf(idx(Idx.IMAGES_MAGIC, new int[] {1, 2, 2}, new byte[4]), 9));
        DataFormatException e = assertThrows(DataFormatException.class, () -> Idx.readImages(p));
        assertTrue(e.getMessage().contains("header ends before dimension 1"), e.getMessage());
        Path empty = write("empty", new byte[0]);
        assertTrue(assertThrows(DataFormatException.class, () -> Idx.readLabels(empty)).getMessage().contains("magic"));
    }

    @Test
    void wrongMagicSaysWhatWasExpected() throws IOException {
        Path labels = write("labels", idx(Idx.LABELS_MAGIC, new int[] {2}, new byte[] {1, 2}));
        DataFormatException e = assertThrows(DataFormatException.class, () -> Idx.readImages(labels));
        assertTrue(e.getMessage().contains("0x00000801") && e.getMessage().contains("0x00000803"), e.getMessage());
        assertTrue(e.getMessage().contains("1 dimensions, expected 3"), e.getMessage());
        Path floats = write("floats", idx(0x00000D01, new int[] {1}, new byte[4]));
        e = assertThrows(DataFormatException.class, () -> Idx.readLabels(floats));
        assertTrue(e.getMessage().contains("element type 0x0d"), e.getMessage());
        Path text = write("text", "hello, world".getBytes());
        assertTrue(assertThrows(DataFormatException.class, () -> Idx.readLabels(text)).getMessage().contains("not an IDX file"));
    }

    @Test
    void absurdDimensionsAreRefusedBeforeAllocating() throws IOException {
        // 2^31−1 images of 28×28 would need 1.7 TB; the header alone must be enough to refuse it.
        Path huge = write("huge", idx(Idx.IMAGES_MAGIC, new int[] {Integer.MAX_VALUE, 28, 28}, new byte[16]));
        DataFormatException e = assertThrows(DataFormatException.class, () -> Idx.readImages(huge));
        assertTrue(e.getMessage().contains("more than"), e.getMessage());
        Path negative = write("neg", idx(Idx.IMAGES_MAGIC, new int[] {-1, 28, 28}, new byte[16]));
        assertTrue(assertThrows(DataFormatException.class, () -> Idx.readImages(negative)).getMessage().contains("too large"));
        Path wide = write("wide", idx(Idx.IMAGES_MAGIC, new int[] {1, 0, 28}, new byte[0]));
        assertTrue(assertThrows(DataFormatException.class, () -> Idx.readImages(wide)).getMessage().contains("not plausible"));
        // A plausible-looking header that lies about the count (1 GB declared, 10 bytes present) is truncated, and is
        // read into a buffer that grows with the data instead of being allocated up front.
        Path liar = write("liar", idx(Idx.LABELS_MAGIC, new int[] {1 << 30}, new byte[10]));
        e = assertThrows(DataFormatException.class, () -> Idx.readLabels(liar));
        assertTrue(e.getMessage().contains("truncated") && e.getMessage().contains("holds 10"), e.getMessage());
    }

    @Test
    void trailingBytesAreAnError() throws IOException {
        Path p = write("long", idx(Idx.LABELS_MAGIC, new int[] {2}, new byte[] {1, 2, 3}));
        DataFormatException e = assertThrows(DataFormatException.class, () -> Idx.readLabels(p));
        assertTrue(e.getMessage().contains("bytes after"), e.getMessage());
    }

    @Test
    void datasetPairsImagesWithLabelsAndScales() throws IOException {
        byte[] px = new byte[3 * 2 * 2];
        px[0] = (byte) 255;
        px[5] = (byte) 51;
        Files.write(dir.resolve("train-images-idx3-ubyte.gz"), gzip(idx(Idx.IMAGES_MAGIC, new int[] {3, 2, 2}, px)));
        Files.write(dir.resolve("train-labels-idx1-ubyte"), idx(Idx.LABELS_MAGIC, new int[] {3}, new byte[] {4, 0, 9}));
        Dataset d = Datasets.fromDir(dir, true);
        assertEquals(3, d.n);
        assertEquals(1f, d.images[0]);
        assertEquals(0.2f, d.images[5], 1e-7);
        assertArrayEquals(new int[] {4, 0, 9}, d.labels);
        assertEquals(10, d.numClasses());
        // Test split absent: the message lists the names looked for.
        IOException e = assertThrows(IOException.class, () -> Datasets.fromDir(dir, false));
        assertTrue(e.getMessage().contains("t10k-images-idx3-ubyte"), e.getMessage());
        // Label count disagreeing with the images.
        Files.write(dir.resolve("train-labels-idx1-ubyte"), idx(Idx.LABELS_MAGIC, new int[] {2}, new byte[] {4, 0}));
        e = assertThrows(DataFormatException.class, () -> Datasets.fromDir(dir, true));
        assertTrue(e.getMessage().contains("2 labels for the 3 images"), e.getMessage());
    }
}
