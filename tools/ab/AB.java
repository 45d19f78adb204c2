import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Same-JVM A/B of one Gemm product from two builds of normlab-core: each build's classes in its own class loader, the
 * two called in alternating chunks (120 rounds, the first 20 dropped), so both sides see the same phases of a noisy
 * machine. Prints min, first quartile and median per call, and whether both builds gave the same bits.
 *
 * <p>Usage: {@code AB <classesA> <classesB> n:k:m...} with {@code -Dop=matmulNT} (default, y[n,m] = x[n,k]·w[m,k]ᵀ),
 * {@code matmulNN} (dx[n,m] = dy[n,k]·w[k,m]) or {@code matmulTN} (shape n:m:k, dw[m,k] = dy[n,m]ᵀ·x[n,k]).
 */
public class AB {
    public static void main(String[] a) throws Throwable {
        String op = System.getProperty("op", "matmulNT");
        MethodHandle[] mh = new MethodHandle[2];
        for (int v = 0; v < 2; v++) {
            ClassLoader cl = new URLClassLoader(new URL[] {Paths.get(a[v]).toUri().toURL()}, ClassLoader.getPlatformClassLoader());
            cl.loadClass("normlab.kernels.Parallel").getMethod("setThreads", int.class).invoke(null, 1);
            Class<?> g = cl.loadClass("normlab.kernels.Gemm");
            mh[v] = MethodHandles.lookup().findStatic(g, op, MethodType.methodType(void.class, float[].class, float[].class,
                    float[].class, int.class, int.class, int.class));
        }
        for (int s = 2; s < a.length; s++) {
            String[] p = a[s].split(":");
            int n = Integer.parseInt(p[0]), k = Integer.parseInt(p[1]), m = Integer.parseInt(p[2]);
            boolean tn = op.startsWith("matmulTN");
            // the arrays in the (out, left, right) order of the call; TN's shape n:m:k names (n, m, k) of matmulTN
            float[] left = new float[n * k], right = tn ? new float[n * m] : new float[m * k];
            float[][] out = {new float[tn ? k * m : n * m], new float[tn ? k * m : n * m]};
            Random r = new Random(1);
            for (int i = 0; i < left.length; i++) left[i] = r.nextFloat() - .5f;
            for (int i = 0; i < right.length; i++) right[i] = r.nextFloat() - .5f;
            int reps = (int) Math.max(1, 20_000_000L / ((long) n * k * m));
            List<List<Double>> t = List.of(new ArrayList<>(), new ArrayList<>());
            for (int round = 0; round < 120; round++) {
                for (int v = 0; v < 2; v++) {
                    long t0 = System.nanoTime();
                    for (int i = 0; i < reps; i++) mh[v].invokeExact(out[v], left, right, n, k, m);
                    if (round >= 20) t.get(v).add((System.nanoTime() - t0) / 1e3 / reps);
                }
            }
            System.out.println(a[s] + (Arrays.equals(out[0], out[1]) ? " same bits" : " DIFFERENT BITS") + summary(t, "  "));
        }
    }

    /** "A min … q25 … med … us" and the same for B, each after {@code sep}: the chunk times of both sides. */
    static String summary(List<List<Double>> times, String sep) {
        StringBuilder sb = new StringBuilder();
        for (int v = 0; v < 2; v++) {
            List<Double> l = new ArrayList<>(times.get(v));
            Collections.sort(l);
            sb.append(String.format("%s%s min %.1f q25 %.1f med %.1f us", sep, v == 0 ? "A" : "B", l.get(0), l.get(l.size() / 4),
                    l.get(l.size() / 2)));
        }
        return sb.toString();
    }
}
