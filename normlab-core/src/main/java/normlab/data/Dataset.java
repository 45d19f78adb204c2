package normlab.data;

import java.util.Arrays;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;
import normlab.kernels.Kernels;
import normlab.tensor.Tensor;

/**
 * An in-memory image classification set: N grayscale images of rows×cols, pixel bytes scaled to [0, 1]
 * ({@code x = byte/255}), and N integer labels. Immutable; safe to share between threads.
 *
 * <p>Mini-batches are gathered by an index array: {@link #batch} gives (B, 1, rows, cols) for convolutional models,
 * {@link #batchFlat} gives (B, rows·cols) for fully connected ones, {@link #labels(int[])} the matching labels.
 *
 * <p>A set read from IDX bytes ({@link #of}) also keeps the bytes, and gathers batches from them: a random batch's
 * rows come from memory beyond the caches, and bytes are a quarter of the traffic of floats. One load per cache line
 * of every image first puts all of the batch's misses in flight at once, and the division is an exact reciprocal
 * product (see {@link #batchFlat(int[], Tensor)}). The values are the same floats either way (timings:
 * normlab-bench/README.md).
 */
public final class Dataset {
    /** A short name for messages and reports, e.g. {@code mnist/train}. */
    public final String name;
    /**
     * Pixels in [0, 1], image after image, each rows×cols row-major. Read only (the set is immutable): a set read from
     * IDX gathers its batches from the bytes it keeps, so an edit here would not reach them.
     */
    public final float[] images;
    public final int[] labels;
    public final int n;
    public final int rows;
    public final int cols;
    /** The pixel bytes with the top bit flipped (b − 128 as a signed byte), or null: see {@link #batchFlat}. */
    private final byte[] offsetBytes;

    public Dataset(String name, float[] images, int[] labels, int rows, int cols) {
        this(name, images, labels, rows, cols, null);
    }

    private Dataset(String name, float[] images, int[] labels, int rows, int cols, byte[] offsetBytes) {
        normlab.kernels.VectorApi.require();
        if (rows <= 0 || cols <= 0) throw new IllegalArgumentException(name + ": image size must be positive, got " + rows + "×" + cols);
        if ((long) labels.length * rows * cols != images.length) {
            throw new IllegalArgumentException(name + ": " + labels.length + " labels but " + images.length + " pixels ("
                    + (images.length / ((double) rows * cols)) + " images of " + rows + "×" + cols + ")");
        }
        this.name = name;
        this.images = images;
        this.labels = labels;
        this.n = labels.length;
        this.rows = rows;
        this.cols = cols;
        this.offsetBytes = offsetBytes;
    }

    /** Builds a dataset from IDX images and labels, scaling bytes to [0, 1]; counts must agree. */
    public static Dataset of(String name, Idx.Images img, int[] labels) {
        if (img.n() != labels.length) {
            throw new IllegalArgumentException(name + ": " + img.n() + " images but " + labels.length + " labels");
        }
        float[] px = new float[img.pixels().length];
        byte[] b = img.pixels(), q = new byte[b.length];
        // x = byte / 255
        for (int i = 0; i < px.length; i++) {
            px[i] = (b[i] & 0xFF) / 255f;
            q[i] = (byte) (b[i] ^ 0x80);
        }
        return new Dataset(name, px, labels, img.rows(), img.cols(), q);
    }

    /** Pixels per image (rows·cols). */
    public int features() {
        return rows * cols;
    }

    /** One more than the largest label (10 for MNIST). */
    public int numClasses() {
        int max = -1;
        for (int y : labels) max = Math.max(max, y);
        return max + 1;
    }

    /** The images at {@code idx} as (B, 1, rows, cols). */
    public Tensor batch(int[] idx) {
        return batchFlat(idx).view(idx.length, 1, rows, cols);
    }

    /** The images at {@code idx} as (B, rows·cols). */
    public Tensor batchFlat(int[] idx) {
        return batchFlat(idx, null);
    }

    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    /** Bytes with as many lanes as {@link #FS}: one byte vector widens to one float vector. */
    private static final VectorSpecies<Byte> BS = VectorSpecies.of(byte.class, VectorShape.forBitSize(FS.vectorBitSize() / 4));

    /** {@link #batchFlat(int[])} written into {@code reuse} when it has the right shape (else a new tensor). */
    public Tensor batchFlat(int[] idx, Tensor reuse) {
        int f = features();
        Tensor t = reuse != null && reuse.hasShape(idx.length, f) ? reuse : Tensor.zeros(idx.length, f);
        for (int k : idx) {
            if (k < 0 || k >= n) throw new IndexOutOfBoundsException(name + ": index " + k + " outside [0, " + n + ")");
        }
        if (offsetBytes == null || !Kernels.simd()) {
            for (int i = 0; i < idx.length; i++) System.arraycopy(images, idx[i] * f, t.data, i * f, f);
            return t;
        }
        // One byte per cache line of every image (and its last byte): independent loads, so the misses of the whole
        // batch overlap instead of each image's first line waiting in turn inside the conversion loop.
        int touched = 0;
        for (int k : idx) {
            for (int j = 0; j < f; j += 64) touched += offsetBytes[k * f + j];
            touched += offsetBytes[k * f + f - 1];
        }
        sink = touched;
        // x = byte/255 from q = byte − 128: b = float(q) + 128 (both exact), then the quotient as q₀ = b·r with
        // r = fl(1/255), corrected by its exact residual e = fma(−255, q₀, b): x = fma(e, r, q₀). That is the correctly
        // rounded b/255 for every byte value (checked for all 256 at class load; else the division), i.e. the same float
        // as images[k·f + j], at the cost of a product instead of a vector division.
        int fv = FS.loopBound(f);
        FloatVector r = FloatVector.broadcast(FS, RECIPROCAL), minus255 = FloatVector.broadcast(FS, -255f);
        for (int i = 0; i < idx.length; i++) {
            int src = idx[i] * f, dst = i * f, j = 0;
            if (RECIPROCAL_EXACT) {
                for (; j < fv; j += FS.length()) {
                    FloatVector b = ((FloatVector) ByteVector.fromArray(BS, offsetBytes, src + j)
                            .convertShape(VectorOperators.B2F, FS, 0)).add(128f);
                    FloatVector q0 = b.mul(r);
                    q0.fma(minus255, b).fma(r, q0).intoArray(t.data, dst + j);
                }
            } else {
                for (; j < fv; j += FS.length()) {
                    ((FloatVector) ByteVector.fromArray(BS, offsetBytes, src + j).convertShape(VectorOperators.B2F, FS, 0))
                            .add(128f).div(255f).intoArray(t.data, dst + j);
                }
            }
            for (; j < f; j++) t.data[dst + j] = images[src + j];
        }
        return t;
    }

    /** fl(1/255), and whether fma(fma(−255, b·r, b), r, b·r) equals b/255 for every byte value b (it does in IEEE float). */
    private static final float RECIPROCAL = 1f / 255f;
    static final boolean RECIPROCAL_EXACT = reciprocalIsExact();
    /** Where the touch pass's sum goes, so the JIT keeps its loads. */
    private static volatile int sink;

    private static boolean reciprocalIsExact() {
        for (int v = 0; v < 256; v++) {
            float b = v, q0 = b * RECIPROCAL;
            if (Math.fma(Math.fma(-255f, q0, b), RECIPROCAL, q0) != b / 255f) return false;
        }
        return true;
    }

    /** The labels at {@code idx}. */
    public int[] labels(int[] idx) {
        int[] out = new int[idx.length];
        for (int i = 0; i < idx.length; i++) out[i] = labels[idx[i]];
        return out;
    }

    /** Indices {@code from, from+1, …, to−1} (a sequential batch, e.g. for evaluation). */
    public static int[] range(int from, int to) {
        int[] r = new int[to - from];
        for (int i = 0; i < r.length; i++) r[i] = from + i;
        return r;
    }

    /** Examples {@code [from, to)} as a new dataset (copied). */
    public Dataset slice(int from, int to) {
        if (from < 0 || to > n || from > to) {
            throw new IndexOutOfBoundsException(name + ": slice [" + from + ", " + to + ") outside [0, " + n + "]");
        }
        int f = features();
        return new Dataset(name + "[" + from + ":" + to + "]", Arrays.copyOfRange(images, from * f, to * f),
                Arrays.copyOfRange(labels, from, to), rows, cols,
                offsetBytes == null ? null : Arrays.copyOfRange(offsetBytes, from * f, to * f));
    }

    /**
     * The same images with their pixels reordered: pixel j of every new image is pixel {@code perm[j]} of the old one
     * (flat row-major index), e.g. permuted sequential MNIST. The result is a copy and is still rows×cols; {@code perm}
     * must be a permutation of 0 … rows·cols − 1.
     */
    public Dataset permutePixels(int[] perm, String suffix) {
        int f = features();
        if (perm.length != f) throw new IllegalArgumentException(name + ": pixel permutation of length " + perm.length + ", expected " + f);
        boolean[] seen = new boolean[f];
        for (int v : perm) {
            if (v < 0 || v >= f || seen[v]) throw new IllegalArgumentException(name + ": not a permutation of 0.." + (f - 1) + " (entry " + v + ")");
            seen[v] = true;
        }
        float[] px = new float[images.length];
        byte[] q = offsetBytes == null ? null : new byte[offsetBytes.length];
        for (int i = 0; i < n; i++) {
            int o = i * f;
            for (int j = 0; j < f; j++) {
                px[o + j] = images[o + perm[j]];
                if (q != null) q[o + j] = offsetBytes[o + perm[j]];
            }
        }
        return new Dataset(name + suffix, px, labels.clone(), rows, cols, q);
    }

    @Override
    public String toString() {
        return name + " (" + n + " images of " + rows + "×" + cols + ")";
    }
}
