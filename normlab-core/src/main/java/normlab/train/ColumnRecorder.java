package normlab.train;

import java.util.Arrays;
import java.util.function.Consumer;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * An activation hook that keeps one column (one unit) of a layer's (N, C) input across every batch it sees, and
 * reports percentiles of what it kept. Used for the paper's Figure 1b/c: the 15th, 50th and 85th percentiles of the
 * input to one sigmoid over the test set. {@link #clear()} before each new pass.
 */
public final class ColumnRecorder implements Consumer<Tensor> {
    private final int column;
    private float[] values = new float[1024];
    private int size;

    public ColumnRecorder(int column) {
        if (column < 0) throw new IllegalArgumentException("ColumnRecorder: column must be >= 0, got " + column);
        this.column = column;
    }

    @Override
    public void accept(Tensor x) {
        if (x.rank() != 2 || column >= x.dim(1)) {
            throw new ShapeException("ColumnRecorder: expected input (N, C) with C > " + column + ", got " + x.shapeString());
        }
        int n = x.dim(0), c = x.dim(1);
        if (size + n > values.length) values = Arrays.copyOf(values, Math.max(size + n, 2 * values.length));
        for (int i = 0; i < n; i++) values[size++] = x.data[i * c + column];
    }

    /** Forgets everything recorded. */
    public void clear() {
        size = 0;
    }

    /** Number of values recorded since the last {@link #clear()}. */
    public int size() {
        return size;
    }

    /** The recorded values (a copy). */
    public float[] values() {
        return Arrays.copyOf(values, size);
    }

    /** Percentiles (each in [0, 100]) of the recorded values, in the order asked. */
    public double[] percentiles(double... ps) {
        if (size == 0) throw new IllegalStateException("ColumnRecorder: nothing recorded");
        float[] sorted = values();
        Arrays.sort(sorted);
        double[] out = new double[ps.length];
        for (int i = 0; i < ps.length; i++) out[i] = percentile(sorted, ps[i]);
        return out;
    }

    /**
     * Percentile of sorted values by linear interpolation between closest ranks (NumPy's default): position
     * h = (n−1)·p/100, value = v[⌊h⌋] + (h−⌊h⌋)·(v[⌊h⌋+1] − v[⌊h⌋]).
     */
    public static double percentile(float[] sorted, double p) {
        if (!(p >= 0 && p <= 100)) throw new IllegalArgumentException("percentile must be in [0, 100], got " + p);
        double h = (sorted.length - 1) * p / 100.0;
        int lo = (int) Math.floor(h);
        int hi = Math.min(lo + 1, sorted.length - 1);
        return sorted[lo] + (h - lo) * ((double) sorted[hi] - sorted[lo]);
    }
}
