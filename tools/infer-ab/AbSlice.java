import java.nio.file.Path;
import java.util.*;
import normlab.io.ModelFiles;
import normlab.infer.*;
import normlab.kernels.*;

/**
 * Same-JVM A/B of the Predictor's batch slices (issue #22 round 4): variants THREADS/ROWS (ROWS 0 = one slice, the
 * products parallel inside; else Predictor.setSliceRows(ROWS); round 4's third field, the eval tile, went with the
 * 6 × 2 in-place tile),
 * alternated in 150 ms chunks in rotating order; prints
 * min/q25/median/q75 of the chunk medians and the largest output difference against the first variant.
 *
 * <pre>java --add-modules jdk.incubator.vector -cp $CP tools/infer-ab/AbSlice.java /tmp/inf2/mlp.safetensors 784 64 15 1/0,1/32,2/0,2/32</pre>
 */
public class AbSlice {
  public static void main(String[] a) throws Exception {
    normlab.nn.Module m = ModelFiles.load(Path.of(a[0]));
    int[] shape = Arrays.stream(a[1].split(",")).mapToInt(Integer::parseInt).toArray();
    int batch = Integer.parseInt(a[2]), rounds = Integer.parseInt(a[3]);
    String[] var = a[4].split(",");
    int in = 1; for (int d : shape) in *= d;
    Predictor p = Predictor.of(m, shape, 64, true);
    float[] x = new float[batch * in]; Random r = new Random(1); for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
    int outSize = 1; for (int d : p.outputShape()) outSize *= d;
    float[] y = new float[batch * outSize];
    float[][] out = new float[var.length][];
    for (int w = 0; w < 2; w++) for (String v : var) { set(v); long t0 = System.nanoTime(); while (System.nanoTime() - t0 < 1_000_000_000L) p.predictInto(y, x, batch); }
    List<List<Double>> t = new ArrayList<>(); for (String v : var) t.add(new ArrayList<>());
    for (int round = 0; round < rounds; round++) {
      for (int vi = 0; vi < var.length; vi++) {
        int q = (vi + round) % var.length;
        set(var[q]);
        long t0 = System.nanoTime(); int reps = 0; double[] s = new double[100000];
        while (System.nanoTime() - t0 < 150_000_000L && reps < s.length) { long a0 = System.nanoTime(); p.predictInto(y, x, batch); s[reps++] = (System.nanoTime() - a0) / 1e3; }
        Arrays.sort(s, 0, reps);
        t.get(q).add(s[reps / 2]);
        out[q] = y.clone();
      }
    }
    for (int q = 1; q < var.length; q++) { double d = 0; for (int i = 0; i < y.length; i++) d = Math.max(d, Math.abs(out[q][i] - out[0][i])); System.out.println("max|diff| " + var[q] + " vs " + var[0] + ": " + d); }
    for (int q = 0; q < var.length; q++) { List<Double> l = t.get(q); Collections.sort(l);
      System.out.printf("batch %d %-6s chunk p50 us: min %.1f q25 %.1f median %.1f q75 %.1f (n=%d)%n", batch, var[q], l.get(0), l.get(l.size()/4), l.get(l.size()/2), l.get(3*l.size()/4), l.size()); }
  }

  static void set(String v) {
    String[] tr = v.split("/");
    Parallel.setThreads(Integer.parseInt(tr[0]));
    int rows = Integer.parseInt(tr[1]);
    Predictor.setSliceRows(rows == 0 ? Integer.MAX_VALUE : rows);
  }
}
