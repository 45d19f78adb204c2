import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.util.*;

/**
 * Same-JVM A/B of two builds of normlab-core (e.g. before and after a change to Gemm's register kernels): each build's
 * classes in its own class loader, so both versions' kernels are compiled in one JVM and alternated in 150 ms chunks,
 * in rotating order. Workloads: the Predictor on a saved model (eval x·Wᵀ, batch B) and the training products
 * matmulNN / matmulTNAcc on the paper's MLP shape 60×784×100 and conv2's 64×288×196 (the packed 6-row panels on
 * AVX2), and matmulNTPacked (the eval x·Wᵀ) with 2 and 5 vectors of columns. Prints per workload and build min / q25 / median / q75 of the chunk medians, the per-round ratio B/A (median
 * and range), and the largest output difference between the builds (0 = bit-identical).
 *
 * <pre>java --add-modules jdk.incubator.vector GemmFoldAb.java OLD_CLASSES NEW_CLASSES GSON_JAR MODEL ROUNDS THREADS</pre>
 */
public class GemmFoldAb {
  interface Work { void run() throws Exception; float[] out(); }

  public static void main(String[] a) throws Exception {
    String[] builds = {a[0], a[1]};
    URL gson = Path.of(a[2]).toUri().toURL();
    Path model = Path.of(a[3]);
    int rounds = Integer.parseInt(a[4]), threads = Integer.parseInt(a[5]);
    String[] names = {"mlp b64", "mlp b1", "NN 60x784x100", "TNAcc 60x784x100", "NN 64x288x196", "TNAcc 64x288x196",
                      "NTPacked 64x784x16", "NTPacked 64x100x40"};
    Work[][] w = new Work[names.length][2];
    for (int v = 0; v < 2; v++) {
      ClassLoader cl = new URLClassLoader(new URL[] {Path.of(builds[v]).toUri().toURL(), gson}, ClassLoader.getPlatformClassLoader());
      cl.loadClass("normlab.kernels.Parallel").getMethod("setThreads", int.class).invoke(null, threads);
      Class<?> mf = cl.loadClass("normlab.io.ModelFiles"), mod = cl.loadClass("normlab.nn.Module"), pc = cl.loadClass("normlab.infer.Predictor");
      Object m = mf.getMethod("load", Path.class).invoke(null, model);
      Object p = pc.getMethod("of", mod, int[].class, int.class, boolean.class).invoke(null, m, new int[] {784}, 64, true);
      Method pi = pc.getMethod("predictInto", float[].class, float[].class, int.class);
      w[0][v] = predictor(p, pi, 64);
      w[1][v] = predictor(p, pi, 1);
      Class<?> g = cl.loadClass("normlab.kernels.Gemm");
      Method nn = g.getMethod("matmulNN", float[].class, float[].class, float[].class, int.class, int.class, int.class);
      Method tn = g.getMethod("matmulTNAcc", float[].class, float[].class, float[].class, int.class, int.class, int.class);
      w[2][v] = product(nn, 60, 784, 100, false);
      w[3][v] = product(tn, 60, 784, 100, true);
      w[4][v] = product(nn, 64, 288, 196, false);
      w[5][v] = product(tn, 64, 288, 196, true);
      Method pk = g.getMethod("packNT", float[].class, int.class, int.class);
      Method ntp = g.getMethod("matmulNTPacked", float[].class, float[].class, float[].class, float[].class, int.class, int.class, int.class);
      w[6][v] = packedNT(pk, ntp, 64, 784, 16);
      w[7][v] = packedNT(pk, ntp, 64, 100, 40);
    }
    for (int warm = 0; warm < 2; warm++) for (Work[] ws : w) for (Work x : ws) { long t0 = System.nanoTime(); while (System.nanoTime() - t0 < 500_000_000L) x.run(); }
    double[][][] med = new double[names.length][2][rounds];
    for (int round = 0; round < rounds; round++) {
      for (int s = 0; s < names.length; s++) {
        for (int k = 0; k < 2; k++) {
          int v = (k + round + s) % 2;
          double[] t = new double[200000]; int reps = 0; long t0 = System.nanoTime();
          while (System.nanoTime() - t0 < 150_000_000L && reps < t.length) { long a0 = System.nanoTime(); w[s][v].run(); t[reps++] = (System.nanoTime() - a0) / 1e3; }
          Arrays.sort(t, 0, reps);
          med[s][v][round] = t[reps / 2];
        }
      }
    }
    System.out.printf("threads %d, %d rounds of 150 ms chunks; A = %s, B = %s%n", threads, rounds, builds[0], builds[1]);
    for (int s = 0; s < names.length; s++) {
      float[] o0 = w[s][0].out(), o1 = w[s][1].out();
      double d = 0; for (int i = 0; i < o0.length; i++) d = Math.max(d, Math.abs(o0[i] - o1[i]));
      double[] ratio = new double[rounds]; for (int r = 0; r < rounds; r++) ratio[r] = med[s][1][r] / med[s][0][r];
      Arrays.sort(ratio);
      for (int v = 0; v < 2; v++) {
        double[] l = med[s][v].clone(); Arrays.sort(l);
        System.out.printf("%-17s %s chunk p50 us: min %8.1f q25 %8.1f median %8.1f q75 %8.1f%n", names[s], v == 0 ? "A" : "B", l[0], l[rounds / 4], l[rounds / 2], l[3 * rounds / 4]);
      }
      System.out.printf("%-17s B/A per round: median %.3f (q25 %.3f q75 %.3f, min %.3f max %.3f); max|B-A| %s%n", names[s], ratio[rounds / 2], ratio[rounds / 4], ratio[3 * rounds / 4], ratio[0], ratio[rounds - 1], d);
    }
  }

  static Work predictor(Object p, Method pi, int batch) {
    float[] x = new float[batch * 784], y = new float[batch * 10];
    Random r = new Random(1); for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
    return new Work() { public void run() throws Exception { pi.invoke(p, y, x, batch); } public float[] out() { return y; } };
  }

  /** matmulNN(dx, dy, w, n, m, k) (dx = dy·W) or matmulTNAcc(dw, dy, x, n, m, k) (dW += dyᵀ·x, dw reset each call). */
  static Work product(Method f, int n, int k, int m, boolean tn) {
    Random r = new Random(n * 31 + k);
    float[] dy = gauss(r, n * m), w = gauss(r, m * k), x = gauss(r, n * k), out = new float[tn ? m * k : n * k];
    return new Work() {
      public void run() throws Exception {
        if (tn) { Arrays.fill(out, 0f); f.invoke(null, out, dy, x, n, m, k); }
        else f.invoke(null, out, dy, w, n, m, k);
      }
      public float[] out() { return out; }
    };
  }

  /** matmulNTPacked(y, x, Wᵀ, W, n, k, m): the eval x·Wᵀ with Wᵀ packed once (x in place on AVX2). */
  static Work packedNT(Method pack, Method f, int n, int k, int m) throws Exception {
    Random r = new Random(n * 17 + k + m);
    float[] x = gauss(r, n * k), w = gauss(r, m * k), y = new float[n * m], wt = (float[]) pack.invoke(null, w, k, m);
    return new Work() { public void run() throws Exception { f.invoke(null, y, x, wt, w, n, k, m); } public float[] out() { return y; } };
  }

  static float[] gauss(Random r, int len) { float[] f = new float[len]; for (int i = 0; i < len; i++) f[i] = (float) r.nextGaussian(); return f; }
}
