package normlab.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.zip.GZIPOutputStream;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Batches, slices, and the tar reader of the MNIST fetcher. */
class DatasetTest {
    static Dataset threeImages() {
        float[] px = new float[3 * 2 * 3];
        for (int i = 0; i < px.length; i++) px[i] = i / 100f;
        return new Dataset("t", px, new int[] {5, 6, 7}, 2, 3);
    }

    @Test
    void batchesGatherByIndex() {
        Dataset d = threeImages();
        Tensor flat = d.batchFlat(new int[] {2, 0});
        assertArrayEquals(new int[] {2, 6}, flat.shape());
        assertEquals(0.12f, flat.data[0]);
        assertEquals(0.05f, flat.data[11]);
        Tensor img = d.batch(new int[] {1});
        assertArrayEquals(new int[] {1, 1, 2, 3}, img.shape());
        assertEquals(0.06f, img.at(0, 0, 0, 0));
        assertArrayEquals(new int[] {7, 5}, d.labels(new int[] {2, 0}));
        assertThrows(IndexOutOfBoundsException.class, () -> d.batchFlat(new int[] {3}));
    }

    /** A set read from bytes gathers from them (SIMD) or from the floats (scalar): the same floats as images. */
    @Test
    void batchesFromBytesEqualTheFloats() {
        for (int[] size : new int[][] {{28, 28}, {5, 7}, {3, 3}}) {
            int rows = size[0], cols = size[1], n = 300, f = rows * cols;
            byte[] px = new byte[n * f];
            for (int i = 0; i < px.length; i++) px[i] = (byte) (i * 37 + i / 11); // every byte value, 0x80..0xFF included
            int[] labels = new int[n];
            Dataset d = Dataset.of("bytes", new Idx.Images(n, rows, cols, px), labels);
            int[] idx = {299, 0, 17, 150, 17, 1};
            boolean old = normlab.kernels.Kernels.setSimd(true);
            try {
                Tensor simd = d.batchFlat(idx);
                normlab.kernels.Kernels.setSimd(false);
                Tensor scalar = d.batchFlat(idx);
                for (int i = 0; i < idx.length; i++) {
                    for (int j = 0; j < f; j++) {
                        float want = (px[idx[i] * f + j] & 0xFF) / 255f;
                        assertEquals(want, simd.data[i * f + j], 0f, "SIMD image " + idx[i] + " pixel " + j);
                        assertEquals(want, scalar.data[i * f + j], 0f, "scalar image " + idx[i] + " pixel " + j);
                    }
                }
                normlab.kernels.Kernels.setSimd(true);
                Dataset s = d.slice(100, 200);
                Tensor sliced = s.batchFlat(new int[] {50});
                for (int j = 0; j < f; j++) assertEquals(d.images[150 * f + j], sliced.data[j], 0f, "slice pixel " + j);
            } finally {
                normlab.kernels.Kernels.setSimd(old);
            }
        }
    }

    /** Permuting pixels moves pixel perm[j] to j in the floats and in the byte (SIMD) gather alike; a non-permutation is refused. */
    @Test
    void permutePixelsReordersEveryImage() {
        int n = 20, rows = 4, cols = 5, f = rows * cols;
        byte[] px = new byte[n * f];
        for (int i = 0; i < px.length; i++) px[i] = (byte) (i * 29 + 3);
        Dataset d = Dataset.of("b", new Idx.Images(n, rows, cols, px), new int[n]);
        int[] perm = new int[f];
        for (int j = 0; j < f; j++) perm[j] = (j * 7 + 3) % f; // 7 is coprime with 20: a permutation
        Dataset p = d.permutePixels(perm, "/perm");
        assertEquals("b/perm", p.name);
        Tensor got = p.batchFlat(new int[] {13, 2});
        for (int j = 0; j < f; j++) {
            assertEquals(d.images[13 * f + perm[j]], got.data[j], 0f, "pixel " + j);
            assertEquals(d.images[2 * f + perm[j]], got.data[f + j], 0f, "pixel " + j);
            assertEquals(d.images[5 * f + perm[j]], p.images[5 * f + j], 0f);
        }
        int[] bad = perm.clone();
        bad[0] = bad[1];
        assertTrue(assertThrows(IllegalArgumentException.class, () -> d.permutePixels(bad, "")).getMessage().contains("not a permutation"));
        assertThrows(IllegalArgumentException.class, () -> d.permutePixels(new int[3], ""));
    }

    /** Every byte value 0..255 through the SIMD gather (reciprocal product with its residual correction) is b/255. */
    @Test
    void everyByteValueGathersToItsQuotient() {
        assertTrue(Dataset.RECIPROCAL_EXACT, "fma-corrected reciprocal reproduces b/255 for all bytes");
        byte[] px = new byte[2 * 256];
        for (int i = 0; i < px.length; i++) px[i] = (byte) (i < 256 ? i : 255 - (i - 256));
        Dataset d = Dataset.of("all-bytes", new Idx.Images(2, 16, 16, px), new int[2]);
        boolean old = normlab.kernels.Kernels.setSimd(true);
        try {
            Tensor t = d.batchFlat(new int[] {1, 0});
            for (int j = 0; j < 256; j++) {
                assertEquals((px[256 + j] & 0xFF) / 255f, t.data[j], 0f, "image 1 pixel " + j);
                assertEquals(j / 255f, t.data[256 + j], 0f, "byte " + j);
            }
        } finally {
            normlab.kernels.Kernels.setSimd(old);
        }
    }

    @Test
    void sliceCopiesARange() {
        Dataset s = threeImages().slice(1, 3);
        assertEquals(2, s.n);
        assertArrayEquals(new int[] {6, 7}, s.labels);
        assertEquals(0.06f, s.images[0]);
        assertThrows(IndexOutOfBoundsException.class, () -> threeImages().slice(2, 4));
        assertThrows(IllegalArgumentException.class, () -> new Dataset("bad", new float[5], new int[] {1}, 2, 3));
    }

    @Test
    void untarFindsFilesUnderPrefix(@TempDir Path dir) throws Exception {
        Path src = dir.resolve("src/package/data");
        Files.createDirectories(src);
        Files.writeString(src.resolve("a"), "alpha");
        byte[] big = new byte[1500]; // spans three 512-byte blocks
        for (int i = 0; i < big.length; i++) big[i] = (byte) i;
        Files.write(src.resolve("b"), big);
        Files.writeString(dir.resolve("src/package/other"), "skip me");
        Path tgz = dir.resolve("p.tgz");
        Process p = new ProcessBuilder("tar", "czf", tgz.toString(), "-C", dir.resolve("src").toString(), "package")
                .inheritIO().start();
        assertEquals(0, p.waitFor());
        Map<String, byte[]> files = Datasets.untarGz(tgz, "package/data/", Set.of("a", "b"));
        assertEquals(Set.of("a", "b"), files.keySet());
        assertEquals("alpha", new String(files.get("a"), StandardCharsets.UTF_8));
        assertArrayEquals(big, files.get("b"));
        // A gzip stream that is not a tar archive (it ends inside the first header).
        Path notTar = dir.resolve("x.tgz");
        try (GZIPOutputStream gz = new GZIPOutputStream(Files.newOutputStream(notTar))) {
            gz.write("too short".getBytes(StandardCharsets.UTF_8));
        }
        assertThrows(DataFormatException.class, () -> Datasets.untarGz(notTar, "package/data/", Set.of("a")));
    }

    @Test
    void md5MatchesKnownDigest() {
        assertEquals("900150983cd24fb0d6963f7d28e17f72", Datasets.md5("abc".getBytes(StandardCharsets.US_ASCII)));
    }

    @Test
    void cacheDirIsPerUser() {
        Path c = Datasets.cacheDir();
        String override = System.getenv("NORMLAB_DATA");
        if (override != null && !override.isBlank()) assertEquals(Path.of(override), c);
        else assertEquals("normlab", c.getFileName().toString());
    }

    @Test
    void fashionMnistWhenInstalled() throws IOException {
        if (!Files.isDirectory(Datasets.FASHION_DIR)) {
            IOException e = assertThrows(IOException.class, () -> Datasets.fashionMnist(false));
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("apt-get install dataset-fashion-mnist"));
            return;
        }
        Dataset test = Datasets.fashionMnist(false);
        assertEquals(10_000, test.n);
        assertEquals(28, test.rows);
        assertEquals(10, test.numClasses());
    }
}
