package normlab.lab.evidence;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import normlab.data.Dataset;
import normlab.nn.Activation;
import normlab.nn.Dropout;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm;
import normlab.norm.BatchNorm1d;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.train.Hooks;
import normlab.train.Trainer;
import org.knowm.xchart.XYChart;

/**
 * Dropout and BN (Li et al. 2019, "Understanding the Disharmony between Dropout and Batch Normalization by Variance
 * Shift"). An MLP 784-100-100-100-10 with (Linear → BN → ReLU) blocks on MNIST, with dropout at rate p either
 * <em>before BN</em> (after every block, so blocks 2 and 3 normalize dropped-out inputs) or only <em>after the last
 * BN</em> (before the classifier, Li et al.'s remedy), p ∈ {0, 0.1, 0.3, 0.5}. Measured: test accuracy, and per BN
 * layer the variance shift
 * <pre>
 *   shift = mean over channels c of  running_var_c / Var_test(x_c)
 * </pre>
 * where running_var is what training (dropout on) left and Var_test is the variance of the same BN's input over the
 * test set in evaluation mode (dropout off) — 1 when the statistics carry over, > 1 when dropout inflated them.
 */
public final class DropoutBn extends Evidence<DropoutBn.Params, Runs.Results<DropoutBn.Cell>> {
    public static final String NAME = "dropout";

    public record Params(double[] rates, int steps, int batch, double lr, int trainSize, int testSize) {
        public static Params of(boolean quick) {
            return quick ? new Params(new double[] {0, 0.1, 0.3, 0.5}, 300, 64, 0.05, 10_000, 2_000)
                    : new Params(new double[] {0, 0.1, 0.3, 0.5}, 4_000, 64, 0.05, 0, 0);
        }
    }

    public record Cell(boolean before, double p, long seed, double accuracy, double[] shift) {}

    /** The MLP with dropout at rate p before each later BN ({@code before}) or only after the last BN. */
    public static Sequential build(double p, boolean before, Rng rng) {
        List<Module> l = new ArrayList<>();
        int[] sizes = {784, 100, 100, 100, 10};
        for (int i = 0; i < 3; i++) {
            l.add(new Linear(sizes[i], sizes[i + 1], false, rng));
            l.add(new BatchNorm1d(sizes[i + 1]));
            l.add(new Activation.ReLU());
            if ((before || i == 2) && p > 0) l.add(new Dropout(p, rng.split()));
        }
        l.add(new Linear(100, 10, rng));
        return new Sequential(l);
    }

    /** The variance shift of every BN layer of {@code model} on {@code test} (see the class comment). */
    public static double[] varianceShift(Sequential model, Dataset test) {
        List<BatchNorm> bns = new ArrayList<>();
        for (Module m : model.layers()) if (m instanceof BatchNorm b) bns.add(b);
        double[][] sum = new double[bns.size()][], sq = new double[bns.size()][];
        long[] count = new long[bns.size()];
        Hooks hooks = new Hooks();
        for (int j = 0; j < bns.size(); j++) {
            int jj = j, c = bns.get(j).numFeatures;
            sum[j] = new double[c];
            sq[j] = new double[c];
            hooks.onInput(bns.get(j), (Tensor x) -> {
                int n = x.dim(0);
                for (int i = 0; i < n; i++) {
                    for (int k = 0; k < c; k++) {
                        double v = x.data[i * c + k];
                        sum[jj][k] += v;
                        sq[jj][k] += v * v;
                    }
                }
                count[jj] += n;
            });
        }
        Trainer.evaluate(model, test, true, hooks);
        double[] shift = new double[bns.size()];
        for (int j = 0; j < bns.size(); j++) {
            int c = bns.get(j).numFeatures;
            double r = 0;
            for (int k = 0; k < c; k++) {
                double mean = sum[j][k] / count[j];
                // Var_test = E[x²] − E[x]²
                double var = sq[j][k] / count[j] - mean * mean;
                r += bns.get(j).runningVar.data[k] / Math.max(var, 1e-12);
            }
            shift[j] = r / c;
        }
        return shift;
    }

    public DropoutBn() {
        super(NAME, "Dropout before BN: variance shift", "dropout before BN vs after the last BN: variance shift",
                "Dropout before BN vs after the last BN at p ∈ {0, 0.1, 0.3, 0.5}: variance shift per BN layer and test accuracy.", Params::of);
    }

    @Override
    public Runs.Results<Cell> train(Params p, Settings s) throws IOException {
        Dataset train = Runs.data("mnist", true, p.trainSize()), test = Runs.data("mnist", false, p.testSize());
        Runs.Recipe r = new Runs.Recipe(p.lr(), 0.9, p.steps(), p.batch(), true);
        record Placement(boolean before, double rate) {}
        List<Placement> placements = Runs.grid(List.of(true, false), Runs.list(p.rates()), Placement::new);
        return Runs.sweep(train, test, placements, s, (v, seed) -> {
            Runs.Trained t = Runs.train(seed, init -> build(v.rate(), v.before(), init), r, train, test);
            double[] shift = varianceShift(t.model(), test);
            s.say("  dropout %-6s p=%.1f seed %d: accuracy %.4f, variance shift %s", v.before() ? "before" : "after", v.rate(), seed,
                    t.outcome().accuracy(), java.util.Arrays.toString(java.util.Arrays.stream(shift).map(x -> Math.round(x * 1000) / 1000.0).toArray()));
            return new Cell(v.before(), v.rate(), seed, t.outcome().accuracy(), shift);
        });
    }

    @Override
    public RunOutput publish(Params p, Settings s, Runs.Results<Cell> runs) {
        List<Cell> cells = runs.runs();
        RunOutput out = output(s, runs, "mnist",
                "model", "784-100-100-100-10, (Linear → BN → ReLU) ×3 → Linear; dropout after every block (before BN) or only after the last",
                "optimizer", "SGD momentum 0.9, lr " + p.lr(), "steps", p.steps(), "batch", p.batch());
        out.table("runs.csv", "placement", "p", "seed", "test_accuracy", "shift_bn1", "shift_bn2", "shift_bn3");
        for (Cell c : cells) {
            out.row("runs.csv", c.before() ? "before_bn" : "after_last_bn", c.p(), c.seed(), c.accuracy(), c.shift()[0], c.shift()[1], c.shift()[2]);
        }
        int k = p.rates().length;
        Spread[][] acc = new Spread[2][k], shift = new Spread[2][k];
        for (int v = 0; v < 2; v++) {
            for (int i = 0; i < k; i++) {
                List<Double> a = new ArrayList<>(), sh = new ArrayList<>();
                for (Cell c : cells) {
                    if (c.before() == (v == 0) && c.p() == p.rates()[i]) {
                        a.add(c.accuracy());
                        sh.add((c.shift()[1] + c.shift()[2]) / 2); // the BNs that can see dropped-out inputs
                    }
                }
                acc[v][i] = Spread.of(a);
                shift[v][i] = Spread.of(sh);
                String key = (v == 0 ? "before_bn" : "after_last_bn") + "_p" + p.rates()[i];
                out.results.addProperty(key + "_accuracy_mean", acc[v][i].mean());
                out.results.addProperty(key + "_variance_shift_bn2_bn3_mean", shift[v][i].mean());
            }
        }
        XYChart a = Charts.xy("Test accuracy vs dropout rate", "dropout rate p", "test accuracy", false);
        Charts.series(a, "dropout before BN", p.rates(), acc[0], 1, false);
        Charts.series(a, "dropout after the last BN", p.rates(), acc[1], 0, false);
        out.chart("dropout_accuracy", "Test accuracy vs dropout rate for both placements, mean ± s.d. over " + s.seeds().size() + " seeds.", a);
        XYChart b = Charts.xy("Variance shift of BN layers 2–3 (running var / test var)", "dropout rate p", "variance shift", false);
        Charts.series(b, "dropout before BN", p.rates(), shift[0], 1, false);
        Charts.series(b, "dropout after the last BN", p.rates(), shift[1], 0, false);
        out.chart("dropout_variance_shift", "Variance shift (mean over channels of running_var / test-time variance), BN layers 2 and 3, "
                + "mean ± s.d. over " + s.seeds().size() + " seeds; 1 = no shift.", b);
        out.claim(verdict(p.rates()[k - 1], shift[0][k - 1], shift[1][k - 1], acc[0][k - 1], acc[1][k - 1]));
        return out;
    }

    /**
     * Rule at the highest rate, over seeds ({@link Effect}: beyond 2 s.e., ≥ 3 seeds): HOLDS when dropout before BN
     * shifts the variance by ≥ 10 % (shift − 1 counts at 0.1), the after-last-BN placement's mean by at most half that,
     * and before-BN loses ≥ 0.5 points of accuracy to after-last-BN (counts); PARTLY when only the variance shift or only
     * the accuracy loss appears; otherwise DOES_NOT_HOLD.
     */
    public static Claim verdict(double p, Spread before, Spread after, Spread accBefore, Spread accAfter) {
        Effect dv = Effect.above(before, 1), da = Effect.between(accAfter, accBefore);
        double shiftBefore = before.mean(), shiftAfter = after.mean();
        boolean shiftShown = dv.shows(0.1) && Math.abs(shiftAfter - 1) <= dv.diff() / 2, hurts = da.shows(0.005);
        return new Claim("Dropout before BN shifts the variance BN sees between training and test, which hurts test accuracy; "
                + "dropout after the last BN avoids it.", "Li et al. 2019 (Disharmony between Dropout and BN), CVPR",
                String.format(Locale.ROOT, "at p = %s: variance shift %.3f before BN (shift − 1: %s) vs %.3f after the last BN; test accuracy %s vs %s "
                                + "(after − before %s)", RunOutput.num(p), shiftBefore, dv.text(), shiftAfter, RunOutput.pct(accBefore),
                        RunOutput.pct(accAfter), da.points()),
                Verdict.of(shiftShown && hurts, shiftShown || hurts),
                Effect.rule("the minimum given") + "; at the highest rate: holds if the before-BN shift − 1 counts at ≥ 0.1 with the other "
                        + "placement's |shift − 1| ≤ half of it and before-BN's accuracy loss counts at ≥ 0.5 points; partly if only one of the two");
    }
}
