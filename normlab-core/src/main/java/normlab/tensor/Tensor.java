package normlab.tensor;

import java.util.Arrays;

/**
 * A float32 tensor: one contiguous row-major {@code float[]} plus an explicit shape.
 *
 * <p>Images use NCHW. {@link #view} reinterprets the same data under another shape without copying
 * (always possible, since every tensor is contiguous). Shape errors are {@link ShapeException}s that
 * name the operation, the shape seen and the shape expected.
 */
public final class Tensor {
    /** The elements, row-major. Shared by views. */
    public final float[] data;
    private final int[] shape;

    private Tensor(float[] data, int[] shape) {
        this.data = data;
        this.shape = shape;
    }

    /** A zero-filled tensor of the given shape. */
    public static Tensor zeros(int... shape) {
        return new Tensor(new float[numel("zeros", shape)], shape.clone());
    }

    /** A tensor filled with {@code value}. */
    public static Tensor full(float value, int... shape) {
        Tensor t = zeros(shape);
        Arrays.fill(t.data, value);
        return t;
    }

    /** Wraps {@code data} (not copied) under {@code shape}; the element counts must agree. */
    public static Tensor of(float[] data, int... shape) {
        long n = numel("Tensor.of", shape);
        if (n != data.length) {
            throw new ShapeException("Tensor.of: " + data.length + " values cannot have shape "
                    + Arrays.toString(shape) + " (needs " + n + ")");
        }
        return new Tensor(data, shape.clone());
    }

    /** A 0-d tensor holding one value (used for scalars in state dicts, e.g. num_batches_tracked). */
    public static Tensor scalar(float v) {
        return new Tensor(new float[] {v}, new int[0]);
    }

    static int numel(String op, int[] shape) {
        long n = 1;
        for (int d : shape) {
            if (d < 0) throw new ShapeException(op + ": negative dimension in shape " + Arrays.toString(shape));
            n *= d;
            if (n > Integer.MAX_VALUE - 8) {
                throw new ShapeException(op + ": shape " + Arrays.toString(shape) + " has more than 2^31 elements");
            }
        }
        return (int) n;
    }

    /** The shape (a copy). */
    public int[] shape() {
        return shape.clone();
    }

    /** Size of dimension {@code i}; negative {@code i} counts from the end. */
    public int dim(int i) {
        return shape[i < 0 ? shape.length + i : i];
    }

    /** Number of dimensions. */
    public int rank() {
        return shape.length;
    }

    /** Number of elements. */
    public int numel() {
        return data.length;
    }

    /** The same data under another shape (no copy). One dimension may be -1 (inferred). */
    public Tensor view(int... newShape) {
        int[] s = newShape.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (infer >= 0) throw new ShapeException("view: more than one -1 in " + Arrays.toString(newShape));
                infer = i;
            } else {
                known *= s[i];
            }
        }
        if (infer >= 0) {
            if (known == 0 || data.length % known != 0) {
                throw new ShapeException("view: cannot view shape " + Arrays.toString(shape) + " as "
                        + Arrays.toString(newShape));
            }
            s[infer] = (int) (data.length / known);
        }
        if (numel("view", s) != data.length) {
            throw new ShapeException("view: cannot view shape " + Arrays.toString(shape) + " ("
                    + data.length + " elements) as " + Arrays.toString(newShape));
        }
        return new Tensor(data, s);
    }

    /** A deep copy. */
    public Tensor copy() {
        return new Tensor(data.clone(), shape.clone());
    }

    /** Copies {@code src}'s values into this tensor; shapes must match exactly. */
    public void copyFrom(Tensor src) {
        requireShape("copyFrom", src, shape);
        System.arraycopy(src.data, 0, data, 0, data.length);
    }

    /** Sets every element to zero. */
    public void zero() {
        Arrays.fill(data, 0f);
    }

    /** Element at a flat index. */
    public float get(int flatIndex) {
        return data[flatIndex];
    }

    /** Element at a multi-dimensional index. */
    public float at(int... idx) {
        return data[offset(idx)];
    }

    /** Flat offset of a multi-dimensional index. */
    public int offset(int... idx) {
        if (idx.length != shape.length) {
            throw new ShapeException("at: index of rank " + idx.length + " for a tensor of shape " + Arrays.toString(shape));
        }
        int off = 0;
        for (int i = 0; i < idx.length; i++) {
            if (idx[i] < 0 || idx[i] >= shape[i]) {
                throw new IndexOutOfBoundsException("at: index " + Arrays.toString(idx) + " outside shape " + Arrays.toString(shape));
            }
            off = off * shape[i] + idx[i];
        }
        return off;
    }

    /** True when both shapes are equal. */
    public boolean sameShape(Tensor o) {
        return Arrays.equals(shape, o.shape);
    }

    /** True when this tensor's shape equals {@code s}. */
    public boolean hasShape(int... s) {
        return Arrays.equals(shape, s);
    }

    /** Throws a {@link ShapeException} naming {@code op} unless {@code t} has shape {@code expected}. */
    public static void requireShape(String op, Tensor t, int... expected) {
        if (!Arrays.equals(t.shape, expected)) {
            throw new ShapeException(op + ": got shape " + Arrays.toString(t.shape) + ", expected "
                    + Arrays.toString(expected));
        }
    }

    /** Throws a {@link ShapeException} naming {@code op} unless {@code t} has rank {@code rank}. */
    public static void requireRank(String op, Tensor t, int... ranks) {
        for (int r : ranks) if (t.shape.length == r) return;
        throw new ShapeException(op + ": got shape " + Arrays.toString(t.shape) + " (rank " + t.shape.length
                + "), expected rank " + (ranks.length == 1 ? String.valueOf(ranks[0]) : Arrays.toString(ranks)));
    }

    /** Shape as text, e.g. {@code [60, 784]}. */
    public String shapeString() {
        return Arrays.toString(shape);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Tensor").append(Arrays.toString(shape)).append(" [");
        int n = Math.min(data.length, 8);
        for (int i = 0; i < n; i++) {
            if (i > 0) sb.append(", ");
            sb.append(data[i]);
        }
        if (data.length > n) sb.append(", ...");
        return sb.append(']').toString();
    }
}
