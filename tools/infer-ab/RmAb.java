import java.util.*;
import normlab.kernels.*;
public class RmAb {
  public static void main(String[] a) {
    Parallel.setThreads(Integer.parseInt(a[0]));
    int[][] sh = {{64, 784, 100}, {64, 100, 100}};
    Random r = new Random(1);
    for (int[] s : sh) {
      int n = s[0], k = s[1], m = s[2];
      float[] x = new float[n * k], w = new float[m * k], y = new float[n * 104];
      for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
      for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
      float[] wt = Gemm.packNT(w, k, m);
      List<List<Double>> t = List.of(new ArrayList<>(), new ArrayList<>()); float[][] out = new float[2][];
      for (int round = 0; round < 60; round++) for (int v0 = 0; v0 < 2; v0++) {
        int v = (v0 + round) % 2; Gemm.setRowMajorA(v == 1);
        double[] ts = new double[400]; int reps = 0; long t0 = System.nanoTime();
        while (reps < ts.length && System.nanoTime() - t0 < 20_000_000L) { long a0 = System.nanoTime(); Gemm.matmulNTPacked(y, x, wt, w, n, k, m); ts[reps++] = (System.nanoTime() - a0) / 1e3; }
        Arrays.sort(ts, 0, reps); if (round >= 20) t.get(v).add(ts[reps / 2]); out[v] = y.clone();
      }
      System.out.print(Arrays.toString(s) + " same bits " + Arrays.equals(out[0], out[1]));
      for (int v = 0; v < 2; v++) { List<Double> l = t.get(v); Collections.sort(l); System.out.printf("  %s: q25 %.1f med %.1f q75 %.1f us", v == 1 ? "in-place" : "packed", l.get(l.size()/4), l.get(l.size()/2), l.get(3*l.size()/4)); }
      System.out.println();
    }
  }
}
