package normlab.bench;

import java.util.Arrays;
import java.util.Locale;
import normlab.infer.Fold;
import normlab.kernels.Parallel;
import normlab.nn.Module;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;

/**
 * Paired timing of {@link FoldBench}'s three models (BN in eval mode, the same model folded, the same architecture
 * built without BN): rounds in which each model runs for a fixed slice of time back to back, in rotating order, so
 * slow phases of a shared machine hit all three alike. Prints per model the median over rounds of the mean time per
 * forward, and the median over rounds of the paired ratios folded/noBn and unfolded/noBn — the figure behind "folded
 * inference costs what the model without BN costs".
 *
 * <p>Usage: {@code java --add-modules jdk.incubator.vector -cp benchmarks.jar normlab.bench.FoldCompare [mlp|cnn]
 * [rounds] [threads]} (defaults: both models, 30 rounds, 1 thread).
 */
public final class FoldCompare {
    private FoldCompare() {}

    public static void main(String[] args) {
        String[] models = args.length > 0 ? new String[] {args[0]} : new String[] {"mlp", "cnn"};
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 30;
        Parallel.setThreads(args.length > 2 ? Integer.parseInt(args[2]) : 1);
        for (String model : models) run(model, rounds);
    }

    private static double slice(Module m, Tensor x, long nanos) {
        long t0 = System.nanoTime();
        int calls = 0;
        while (System.nanoTime() - t0 < nanos || calls < 3) {
            m.forward(x);
            calls++;
        }
        return (System.nanoTime() - t0) / 1e3 / calls;
    }

    private static void run(String model, int rounds) {
        Module withBn = FoldBench.build(model, true), noBn = FoldBench.build(model, false);
        Rng r = new Rng(7);
        FoldBench.randomStats(withBn, r);
        withBn.eval();
        noBn.eval();
        Module folded = Fold.fold(withBn);
        Module[] ms = {withBn, folded, noBn};
        for (Module m : ms) m.reuseOutputs(true);
        Tensor x = model.equals("mlp") ? Tensor.zeros(256, 784) : Tensor.zeros(64, 1, 28, 28);
        for (int i = 0; i < x.data.length; i++) x.data[i] = r.nextFloat();
        for (int w = 0; w < 5; w++) for (Module m : ms) slice(m, x, 400_000_000L); // warm-up: JIT
        double[][] t = new double[3][rounds];
        double[] foldedRatio = new double[rounds], unfoldedRatio = new double[rounds];
        for (int k = 0; k < rounds; k++) {
            for (int j = 0; j < 3; j++) {
                int which = (j + k) % 3;
                t[which][k] = slice(ms[which], x, 150_000_000L);
            }
            foldedRatio[k] = t[1][k] / t[2][k];
            unfoldedRatio[k] = t[0][k] / t[2][k];
        }
        System.out.printf(Locale.ROOT, "%s (%d rounds, %d thread(s)): unfolded %.1f us, folded %.1f us, noBn %.1f us; "
                        + "folded/noBn %.3f (IQR %.3f-%.3f), unfolded/noBn %.3f%n",
                model, rounds, Parallel.threads(), median(t[0]), median(t[1]), median(t[2]), median(foldedRatio),
                quantile(foldedRatio, 0.25), quantile(foldedRatio, 0.75), median(unfoldedRatio));
    }

    private static double median(double[] a) {
        return quantile(a, 0.5);
    }

    private static double quantile(double[] a, double q) {
        double[] s = a.clone();
        Arrays.sort(s);
        return s[(int) Math.round(q * (s.length - 1))];
    }
}
