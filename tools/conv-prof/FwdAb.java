import normlab.kernels.Epilogue;
import normlab.kernels.Parallel;
import normlab.nn.Conv2d;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import java.util.Arrays;
/**
 * conv2's forward (32 → 64, 3×3 pad 1, 14×14, batch 64) as im2col + GEMM (the eval forward) against the direct kernel
 * (inferInto with the identity epilogue, what the training forward runs since issue #20 scope 3), alternating in one JVM,
 * 40 rounds after 10 of warm-up, and whether both give the same bits.
 * <pre>java --add-modules jdk.incubator.vector -cp normlab-core/target/classes tools/conv-prof/FwdAb.java [THREADS]</pre>
 */
public class FwdAb {
    public static void main(String[] a) {
        int threads = a.length > 0 ? Integer.parseInt(a[0]) : 1;
        Parallel.setThreads(threads);
        Rng rng = new Rng(2);
        Conv2d c = new Conv2d(32, 64, 3, 1, 1, 1, 1, true, rng);
        c.eval(); // the eval forward is still im2col + GEMM (the training forward now runs the direct kernel)
        Tensor x = Tensor.zeros(64, 32, 14, 14);
        for (int i = 0; i < x.data.length; i++) x.data[i] = (float) rng.nextGaussian();
        float[] y2 = new float[64 * 64 * 196];
        int R = 40; long[][] t = new long[2][R];
        Tensor y1 = null;
        for (int r = -10; r < R; r++) {
            for (int s = 0; s < 2; s++) {
                int v = (s + r) & 1;
                long t0 = System.nanoTime();
                if (v == 0) y1 = c.forward(x); else c.inferInto(y2, x.data, 64, 14, 14, Epilogue.IDENTITY);
                if (r >= 0) t[v][r] = System.nanoTime() - t0;
            }
        }
        double flop = 2.0 * 64 * 288 * 196 * 64;
        String[] nm = {"im2col+GEMM (eval fwd)", "direct (inferInto)"};
        for (int v = 0; v < 2; v++) {
            long[] s = t[v].clone(); Arrays.sort(s);
            System.out.printf("%-22s min %.2f q25 %.2f med %.2f ms  (%.1f GFLOP/s at q25)%n", nm[v], s[0] / 1e6, s[R / 4] / 1e6, s[R / 2] / 1e6, flop / s[R / 4]);
        }
        float md = 0; for (int i = 0; i < y2.length; i++) md = Math.max(md, Math.abs(y1.data[i] - y2[i]));
        System.out.println("max |diff| " + md + (Arrays.equals(y1.data, y2) ? " (identical)" : ""));
    }
}
