package normlab.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reader for the IDX files of MNIST and Fashion-MNIST (LeCun's format), raw or gzipped (recognized by the gzip magic
 * 1f 8b, not by the file name).
 *
 * <p>Layout: a 4-byte magic {@code 00 00 tt dd} (tt = element type, 0x08 for unsigned bytes; dd = number of
 * dimensions), then dd big-endian int32 sizes, then the elements. Labels are {@code 0x00000801} (N), images
 * {@code 0x00000803} (N, rows, cols). Everything is checked before the data is trusted: the magic, every dimension,
 * the declared size against a hard limit (so a corrupt header cannot make us allocate gigabytes), and the number of
 * bytes actually present (too few: truncated; too many: trailing garbage). Each failure is a
 * {@link DataFormatException} whose message starts with the file name.
 */
public final class Idx {
    /** Magic number of a label file: unsigned bytes, one dimension. */
    public static final int LABELS_MAGIC = 0x00000801;
    /** Magic number of an image file: unsigned bytes, three dimensions. */
    public static final int IMAGES_MAGIC = 0x00000803;
    /** Largest payload accepted (bytes): what one Java array can hold. */
    public static final long MAX_BYTES = Integer.MAX_VALUE - 8;
    /** Largest image side accepted; real IDX images are 28×28. */
    public static final int MAX_SIDE = 1 << 14;

    private Idx() {}

    /** Images of an IDX3 file: n images of rows×cols unsigned bytes, row-major. */
    public record Images(int n, int rows, int cols, byte[] pixels) {}

    /** Reads a label file (magic 0x00000801) and returns the labels as ints in [0, 255]. */
    public static int[] readLabels(Path file) throws IOException {
        try (DataInputStream in = open(file)) {
            readMagic(file, in, LABELS_MAGIC, "label");
            int n = readDim(file, in, 0, "count");
            byte[] bytes = readPayload(file, in, n);
            int[] labels = new int[n];
            for (int i = 0; i < n; i++) labels[i] = bytes[i] & 0xFF;
            return labels;
        }
    }

    /** Reads an image file (magic 0x00000803). */
    public static Images readImages(Path file) throws IOException {
        try (DataInputStream in = open(file)) {
            readMagic(file, in, IMAGES_MAGIC, "image");
            int n = readDim(file, in, 0, "count");
            int rows = readDim(file, in, 1, "rows");
            int cols = readDim(file, in, 2, "columns");
            if (rows == 0 || cols == 0 || rows > MAX_SIDE || cols > MAX_SIDE) {
                throw bad(file, "image size " + rows + "×" + cols + " is not plausible (each side must be in 1.." + MAX_SIDE + ")");
            }
            long total = (long) n * rows * cols;
            if (total > MAX_BYTES) {
                throw bad(file, "declared " + n + " images of " + rows + "×" + cols + " = " + total
                        + " bytes, more than the " + MAX_BYTES + " this reader accepts (corrupt header?)");
            }
            byte[] pixels = readPayload(file, in, total);
            return new Images(n, rows, cols, pixels);
        }
    }

    /** Opens {@code file}, transparently un-gzipping when it starts with 1f 8b. */
    private static DataInputStream open(Path file) throws IOException {
        InputStream raw;
        try {
            raw = Files.newInputStream(file);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(file.toString(), null, "IDX file not found");
        }
        BufferedInputStream b = new BufferedInputStream(raw, 1 << 16);
        b.mark(2);
        int b0 = b.read(), b1 = b.read();
        b.reset();
        if (b0 == 0x1f && b1 == 0x8b) {
            try {
                return new DataInputStream(new BufferedInputStream(new GZIPInputStream(b, 1 << 16), 1 << 16));
            } catch (IOException e) {
                b.close();
                throw bad(file, "corrupt gzip header: " + e.getMessage());
            }
        }
        return new DataInputStream(b);
    }

    private static void readMagic(Path file, DataInputStream in, int expected, String kind) throws IOException {
        int magic;
        try {
            magic = in.readInt();
        } catch (EOFException e) {
            throw bad(file, "file ends before the 4-byte magic number");
        } catch (ZipException e) {
            throw bad(file, "corrupt gzip data: " + e.getMessage());
        }
        if (magic != expected) {
            throw bad(file, String.format("magic number 0x%08x, expected 0x%08x for an IDX %s file%s", magic, expected, kind,
                    describeMagic(magic, expected)));
        }
    }

    /** A hint for the common mix-ups: labels given for images, or a non-byte element type. */
    private static String describeMagic(int magic, int expected) {
        if ((magic >>> 16) != 0) return " (not an IDX file)";
        int type = (magic >>> 8) & 0xFF, dims = magic & 0xFF;
        if (type != 0x08) return String.format(" (element type 0x%02x, only unsigned bytes 0x08 are supported)", type);
        if (dims != (expected & 0xFF)) return " (" + dims + " dimensions, expected " + (expected & 0xFF) + ")";
        return "";
    }

    private static int readDim(Path file, DataInputStream in, int index, String what) throws IOException {
        int d;
        try {
            d = in.readInt();
        } catch (EOFException e) {
            throw bad(file, "header ends before dimension " + index + " (" + what + ")");
        } catch (ZipException e) {
            throw bad(file, "corrupt gzip data: " + e.getMessage());
        }
        if (d < 0) throw bad(file, "dimension " + index + " (" + what + ") is " + Integer.toUnsignedString(d) + ", too large");
        return d;
    }

    /**
     * Reads exactly {@code declared} bytes, then checks that nothing follows. The buffer grows with the data actually
     * read (doubling, capped at the declared size), so a lying header never allocates more than the file holds.
     */
    private static byte[] readPayload(Path file, InputStream in, long declared) throws IOException {
        if (declared > MAX_BYTES) throw bad(file, "declared payload of " + declared + " bytes exceeds " + MAX_BYTES);
        int want = (int) declared;
        byte[] buf = new byte[Math.min(want, 1 << 20)];
        int have = 0;
        try {
            while (have < want) {
                if (have == buf.length) buf = Arrays.copyOf(buf, (int) Math.min(want, 2L * buf.length));
                int r = in.read(buf, have, buf.length - have);
                if (r < 0) {
                    throw bad(file, "truncated: header declares " + want + " data bytes, file holds " + have);
                }
                have += r;
            }
            if (in.read() >= 0) {
                throw bad(file, "has bytes after the " + want + " data bytes its header declares (wrong dimensions?)");
            }
        } catch (EOFException | ZipException e) {
            throw bad(file, "truncated or corrupt gzip stream after " + have + " of " + want + " data bytes (" + e.getMessage() + ")");
        }
        return buf;
    }

    private static DataFormatException bad(Path file, String what) {
        return new DataFormatException(file + ": " + what);
    }
}
