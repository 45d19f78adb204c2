import java.nio.file.Path;
import java.util.*;
import normlab.io.ModelFiles;
import normlab.infer.*;
import normlab.kernels.*;
import normlab.nn.*;
public class AbConv {
  public static void main(String[] a) throws Exception {
    normlab.nn.Module m = ModelFiles.load(Path.of(a[0]));
    int batch = Integer.parseInt(a[1]), threads = Integer.parseInt(a[2]), rounds = Integer.parseInt(a[3]);
    String[] fam = a[4].split(",");
    Parallel.setThreads(threads);
    normlab.nn.Module f = Fold.foldWhereAllowed(m).model();
    Predictor p = Predictor.of(f, new int[]{1, 28, 28}, batch, false);
    if (a.length > 5) System.out.println(p.describe());
    float[] x = new float[batch * 784]; Random r = new Random(1); for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
    float[] y = new float[batch * 10];
    float[][] out = new float[fam.length][];
    long warm = batch > 8 ? 1_500_000_000L : 700_000_000L;
    for (int w = 0; w < 2; w++) for (String s : fam) { Conv2d.setInferPath(s); long t0 = System.nanoTime(); while (System.nanoTime() - t0 < warm / 2) p.predictInto(y, x, batch); }
    List<List<Double>> t = new ArrayList<>(); for (String s : fam) t.add(new ArrayList<>());
    for (int round = 0; round < rounds; round++) {
      for (int fi = 0; fi < fam.length; fi++) {
        int q = (fi + round) % fam.length;
        Conv2d.setInferPath(fam[q]);
        long t0 = System.nanoTime(); int reps = 0; double[] s = new double[10000];
        while (System.nanoTime() - t0 < 150_000_000L && reps < s.length) { long a0 = System.nanoTime(); p.predictInto(y, x, batch); s[reps++] = (System.nanoTime() - a0) / 1e3; }
        Arrays.sort(s, 0, reps);
        t.get(q).add(s[reps / 2]);
        out[q] = y.clone();
      }
    }
    for (int q = 1; q < fam.length; q++) { double d = 0; for (int i = 0; i < y.length; i++) d = Math.max(d, Math.abs(out[q][i] - out[0][i])); System.out.println("max|diff| " + fam[q] + " vs " + fam[0] + ": " + d); }
    for (int q = 0; q < fam.length; q++) { List<Double> l = t.get(q); Collections.sort(l);
      System.out.printf("batch %d T%d %-7s chunk p50 us: min %.1f q25 %.1f median %.1f q75 %.1f (n=%d)%n", batch, threads, fam[q], l.get(0), l.get(l.size()/4), l.get(l.size()/2), l.get(3*l.size()/4), l.size()); }
  }
}
