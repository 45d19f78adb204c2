package normlab.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import normlab.io.Safetensors;
import normlab.norm.BatchNorm;
import normlab.tensor.Tensor;

/**
 * Golden fixtures written by PyTorch (tools/golden) and the comparison every golden test uses.
 *
 * <p>Metric: for a tensor {@code a} checked against a reference {@code r} of the same shape,
 * <pre>   err = max_i |a_i − r_i| / max(max_j |r_j|, s)</pre>
 * i.e. the largest absolute error relative to the largest magnitude in the reference tensor. {@code s} is 0 unless a
 * test passes the size of the terms a quantity is the difference of (BatchNorm's dx, see its test), and it is never
 * below {@link #TINY} so that 0/0 cannot occur. Outputs must reach err ≤ {@link #OUT_TOL}, gradients err ≤
 * {@link #GRAD_TOL}.
 */
public final class Golden {
    /** Tolerance for outputs, buffers and parameters after optimizer steps. */
    public static final double OUT_TOL = 1e-5;
    /** Tolerance for gradients. */
    public static final double GRAD_TOL = 1e-4;
    /** Lower bound of the scale in the metric above (only keeps 0/0 out). */
    public static final double TINY = 1e-30;

    private Golden() {}

    /** Directory of a fixture group on the test class path (e.g. {@code core}). */
    public static Path dir(String group) {
        URL url = Golden.class.getResource("/golden/" + group);
        assertNotNull(url, "golden group '" + group + "' is missing; run /usr/bin/python3 tools/golden/generate.py " + group);
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads fixture {@code name} (without extension) of {@code group}. */
    public static Safetensors.Contents load(String group, String name) {
        Path p = dir(group).resolve(name + ".safetensors");
        assertTrue(Files.isRegularFile(p), "missing golden fixture " + p);
        try {
            return Safetensors.read(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Names (without extension) of the fixtures of {@code group} whose names start with {@code prefix}, sorted. */
    public static List<String> names(String group, String prefix) {
        try (Stream<Path> s = Files.list(dir(group))) {
            return s.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith(prefix) && n.endsWith(".safetensors"))
                    .map(n -> n.substring(0, n.length() - ".safetensors".length()))
                    .sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The metric of the class comment with s = 0. */
    public static double err(Tensor actual, Tensor ref) {
        return err(actual, ref, 0);
    }

    /** The metric of the class comment. */
    public static double err(Tensor actual, Tensor ref, double s) {
        float[] a = actual.data, r = ref.data;
        double maxRef = 0, maxDiff = 0;
        for (int i = 0; i < r.length; i++) {
            maxRef = Math.max(maxRef, Math.abs(r[i]));
            double d = Math.abs((double) a[i] - r[i]);
            if (!(d <= maxDiff)) maxDiff = d; // NaN wins
        }
        return maxDiff / Math.max(Math.max(maxRef, s), TINY);
    }

    /** Asserts equal shapes and {@code err(actual, ref) <= tol}; the message names the quantity and the worst element. */
    public static void assertClose(String what, Tensor actual, Tensor ref, double tol) {
        assertClose(what, actual, ref, tol, 0);
    }

    /** As {@link #assertClose(String, Tensor, Tensor, double)} with the scale lower bound {@code s} of the metric. */
    public static void assertClose(String what, Tensor actual, Tensor ref, double tol, double s) {
        assertNotNull(ref, what + ": missing in fixture");
        assertNotNull(actual, what + ": not computed");
        assertTrue(Arrays.equals(actual.shape(), ref.shape()),
                what + ": shape " + actual.shapeString() + ", fixture has " + ref.shapeString());
        double e = err(actual, ref, s);
        if (!(e <= tol)) {
            int worst = 0;
            double wd = -1;
            for (int i = 0; i < ref.numel(); i++) {
                double d = Math.abs((double) actual.data[i] - ref.data[i]);
                if (!(d <= wd)) {
                    wd = d;
                    worst = i;
                }
            }
            throw new AssertionError(what + ": max rel err " + e + " > " + tol + " (worst at flat index " + worst + ": got "
                    + actual.data[worst] + ", PyTorch " + ref.data[worst] + ")");
        }
    }

    /** A fixture's integer labels (stored as int64, read as float). */
    public static int[] labels(Tensor t) {
        int[] out = new int[t.numel()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (int) t.data[i];
            assertEquals(out[i], t.data[i], "label " + i + " is not an integer");
        }
        return out;
    }

    /**
     * Scale for BatchNorm's dx: in training dx = γ·rstd·(dy − mean(dy) − x̂·mean(dy·x̂)) is a difference of terms of size
     * |γ·rstd·dy|, so its rounding error is relative to max|γ_c·rstd_c·dy_i| even where the difference nearly cancels
     * (two values per channel: x̂ = ±√(1 − ε/(σ²+ε)) and dx is ε-small).
     */
    public static double dxScale(BatchNorm bn, Tensor dy) {
        int c = bn.numFeatures, s = dy.numel() / (dy.dim(0) * c);
        double[] rstd = bn.lastRstd();
        double m = 0;
        for (int i = 0; i < dy.numel(); i++) {
            int ch = (i / s) % c;
            double g = bn.affine ? Math.abs(bn.weight.value.data[ch]) : 1;
            m = Math.max(m, g * rstd[ch] * Math.abs(dy.data[i]));
        }
        return m;
    }
}
