import java.nio.file.Path;
import java.util.Map;
import normlab.data.Dataset;
import normlab.io.ModelFiles;
import normlab.lab.evidence.RnnNorm;
import normlab.lab.evidence.Runs;
import normlab.nn.Sequential;
import normlab.tensor.Tensor;
import normlab.train.Trainer;

/**
 * Which statistics the per-step BN-LSTM of a full `normlab rnn` run needs per step. The per-step and shared BN cells of
 * a seed train to the same weights (checked), so the per-step model with some of its running statistics replaced by the
 * shared model's isolates each set's share of the accuracy gap: t = 0 of norm_hh only, every step but that one, and
 * norm_ih / norm_hh / norm_c alone. Reads the final checkpoints run-006..008 (BN per-step, seeds 1–3) and
 * run-009..011 (BN shared) of a complete default run (permuted order, 28 steps) and the MNIST test set.
 *
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp normlab-lab/target/normlab.jar tools/rnn-stats/SwapStats.java RUN_DIR
 * </pre>
 */
public class SwapStats {
    public static void main(String[] a) throws Exception {
        Path ck = Path.of(a[0]).resolve("checkpoints");
        Dataset test = RnnNorm.ordered(Runs.data("mnist", false, 0), RnnNorm.Params.of(false));
        for (int seed = 0; seed < 3; seed++) {
            Path per = ck.resolve(String.format("run-%03d.checkpoint.safetensors", 6 + seed));
            Path sh = ck.resolve(String.format("run-%03d.checkpoint.safetensors", 9 + seed));
            Sequential shared = (Sequential) ModelFiles.load(sh);
            Map<String, Tensor> sb = shared.get(1).namedBuffers();
            Sequential p0 = (Sequential) ModelFiles.load(per);
            double dw = 0;
            for (var e : p0.get(1).namedParameters().entrySet()) {
                float[] x = e.getValue().value.data, y = shared.get(1).namedParameters().get(e.getKey()).value.data;
                for (int i = 0; i < x.length; i++) dw = Math.max(dw, Math.abs(x[i] - y[i]));
            }
            StringBuilder out = new StringBuilder(String.format("seed %d (max |Δweight| %.1g): per-step %.4f, shared %.4f", seed + 1, dw,
                    acc(p0, test), acc(shared, test)));
            // {label, norms to share, first step shared, last step shared (−1: all)}
            Object[][] swaps = {{"only t = 0 of norm_hh shared", new String[] {"norm_hh"}, 0, 0},
                    {"all shared but t = 0 of norm_hh", new String[] {"norm_ih", "norm_c"}, 0, -1, "norm_hh", 1},
                    {"only norm_ih shared", new String[] {"norm_ih"}, 0, -1},
                    {"only norm_hh (t >= 1) shared", new String[] {"norm_hh"}, 1, -1},
                    {"only norm_c shared", new String[] {"norm_c"}, 0, -1}};
            for (Object[] s : swaps) {
                Sequential m = (Sequential) ModelFiles.load(per);
                Map<String, Tensor> mb = m.get(1).namedBuffers();
                for (String norm : (String[]) s[1]) share(mb, sb, norm, (int) s[2], (int) s[3]);
                if (s.length > 4) share(mb, sb, (String) s[4], (int) s[5], -1);
                out.append(String.format("; %s %.4f", s[0], acc(m, test)));
            }
            System.out.println(out);
        }
    }

    /** Slots from..to (−1: the last) of norm's running statistics in dst ← the shared model's single slot. */
    static void share(Map<String, Tensor> dst, Map<String, Tensor> src, String norm, int from, int to) {
        for (String k : new String[] {norm + ".running_mean", norm + ".running_var"}) {
            Tensor d = dst.get(k), s = src.get(k);
            int c = s.dim(1), last = to < 0 ? d.dim(0) - 1 : to;
            for (int t = from; t <= last; t++) System.arraycopy(s.data, 0, d.data, t * c, c);
        }
    }

    static double acc(Sequential m, Dataset d) {
        m.eval();
        return Trainer.evaluate(m, d, true, null, 500).accuracy();
    }
}
