import java.util.*;
import normlab.kernels.*;
public class GemmAb {
  public static void main(String[] a) throws Exception {
    int fam = Integer.parseInt(a[0]); Parallel.setThreads(Integer.parseInt(a[1]));
    boolean flip = a.length > 2;
    Gemm.setPanelRows(fam);
    Random r = new Random(1);
    int[][] sh = {{64, 784, 100}, {64, 100, 100}, {64, 288, 200}, {32, 9, 784}};
    float[][] A = new float[sh.length][], B = new float[sh.length][], C = new float[sh.length][], P = new float[sh.length][];
    for (int s = 0; s < sh.length; s++) {
      int n = sh[s][0], k = sh[s][1], m = sh[s][2];
      A[s] = new float[n * k]; B[s] = new float[m * k]; C[s] = new float[n * ((m + 7) / 8 * 8)];
      for (int i = 0; i < A[s].length; i++) A[s][i] = (float) r.nextGaussian();
      for (int i = 0; i < B[s].length; i++) B[s][i] = (float) r.nextGaussian();
    }
    String[] name = {"NTPacked 64x784x100", "NTPacked 64x100x100", "packed conv2 64x288x200", "packed conv1 32x9x784"};
    double[][] best = new double[sh.length][2]; List<List<Double>> meds = new ArrayList<>(); for (int s=0;s<sh.length;s++) meds.add(new ArrayList<>());
    for (int round = 0; round < 30; round++) {
      for (int s = 0; s < sh.length; s++) {
        int n = sh[s][0], k = sh[s][1], m = sh[s][2];
        float[] wt = s < 2 ? Gemm.packNT(B[s], k, m) : null;
        float[] ap = new float[Gemm.packedSize(n, k)];
        if (s >= 2) Gemm.packA(ap, 0, A[s], 0, k, 1, n, k);
        double[] t = new double[200]; int reps = 0; long t0 = System.nanoTime();
        while (reps < t.length && System.nanoTime() - t0 < 40_000_000L) {
          long a0 = System.nanoTime();
          if (s < 2) Gemm.matmulNTPacked(C[s], A[s], wt, B[s], n, k, m);
          else Gemm.multiplyPacked(C[s], 0, m, ap, 0, n, k, B[s], 0, m, m, false);
          t[reps++] = (System.nanoTime() - a0) / 1e3;
        }
        Arrays.sort(t, 0, reps);
        if (round >= 10) meds.get(s).add(t[reps / 2]);
        if (round >= 10 && (best[s][0] == 0 || t[0] < best[s][0])) best[s][0] = t[0];
      }
    }
    for (int s = 0; s < sh.length; s++) { List<Double> l = meds.get(s); Collections.sort(l);
      double fl = 2.0 * sh[s][0] * sh[s][1] * sh[s][2];
      System.out.printf("fam %d %-26s min %8.1f us (%5.1f GFLOP/s)  median-of-chunk-medians %8.1f us (%5.1f GFLOP/s)%n", fam, name[s], best[s][0], fl / best[s][0] / 1e3, l.get(l.size()/2), fl / l.get(l.size()/2) / 1e3); }
  }
}
