package normlab.lab.evidence;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import normlab.data.Dataset;
import org.knowm.xchart.XYChart;

/**
 * Learning rate (Ioffe &amp; Szegedy 2015, §3.3: BN makes higher learning rates safe). The paper's MLP without and
 * with BN, trained with plain SGD at the learning rates base·{1, 3, 10, 30} for a fixed step budget, every seed from
 * the same initial weights per variant; test accuracy at the end. A run whose loss turns NaN/Inf stops at once and
 * is reported as diverged; one that ends within 2 points of chance is reported as at chance.
 */
public final class LrSweep extends Evidence<LrSweep.Params, Runs.Results<LrSweep.Cell>> {
    public static final String NAME = "lr-sweep";

    public record Params(double baseLr, double[] multipliers, int steps, int batch, double std, int trainSize, int testSize) {
        public static Params of(boolean quick) {
            return quick ? new Params(0.1, new double[] {1, 3, 10, 30}, 300, 60, 0.01, 10_000, 2_000)
                    : new Params(0.1, new double[] {1, 3, 10, 30}, 5_000, 60, 0.01, 0, 0);
        }
    }

    /** One run's setting and outcome. */
    public record Cell(boolean bn, double lr, long seed, Runs.Outcome outcome) {}

    public LrSweep() {
        super(NAME, "Learning rate: baseline vs BN", "learning rate ×{1,3,10,30}: baseline vs BN (the paper's MLP)",
                "Learning rate ×{1, 3, 10, 30}: the paper's MLP without and with BN; accuracy after a fixed step budget, divergence "
                        + "detected and reported.", Params::of);
    }

    @Override
    public Runs.Results<Cell> train(Params p, Settings s) throws IOException {
        Dataset train = Runs.data("mnist", true, p.trainSize()), test = Runs.data("mnist", false, p.testSize());
        record Variant(boolean bn, Runs.Recipe recipe) {}
        List<Variant> variants = Runs.grid(List.of(false, true), Runs.list(p.multipliers()),
                (bn, m) -> new Variant(bn, new Runs.Recipe(p.baseLr() * m, 0, p.steps(), p.batch(), true)));
        return Runs.sweep(train, test, variants, s, (v, seed) -> {
            Runs.Outcome o = Runs.train(seed, init -> Runs.mlp(v.bn(), Runs.WeightInit.normal(p.std()), init), v.recipe(), train, test).outcome();
            s.say("  lr-sweep %-8s lr %-6s seed %d: %s, accuracy %.4f", v.bn() ? "bn" : "baseline", RunOutput.num(v.recipe().lr()), seed,
                    o.status().text, o.accuracy());
            return new Cell(v.bn(), v.recipe().lr(), seed, o);
        });
    }

    @Override
    public RunOutput publish(Params p, Settings s, Runs.Results<Cell> runs) {
        List<Cell> cells = runs.runs();
        RunOutput out = output(s, runs, "mnist",
                "model", "784-100-100-100-10 sigmoid MLP (the paper's), weights N(0, " + p.std() + "²)",
                "optimizer", "plain SGD", "base_lr", p.baseLr(), "multipliers", java.util.Arrays.toString(p.multipliers()),
                "steps", p.steps(), "batch", p.batch());
        out.table("runs.csv", "variant", "lr", "seed", "status", "steps_done", "test_accuracy", "test_loss", "seconds_per_step");
        for (Cell c : cells) {
            out.row("runs.csv", c.bn() ? "bn" : "baseline", c.lr(), c.seed(), c.outcome().status().text, c.outcome().steps(),
                    c.outcome().accuracy(), c.outcome().testLoss(), c.outcome().secondsPerStep());
        }
        int k = p.multipliers().length;
        double[] lrs = new double[k];
        Spread[][] acc = new Spread[2][k];
        int[][] failed = new int[2][k];
        for (int v = 0; v < 2; v++) {
            for (int i = 0; i < k; i++) {
                lrs[i] = p.baseLr() * p.multipliers()[i];
                List<Runs.Outcome> os = new ArrayList<>();
                for (Cell c : cells) {
                    if (c.bn() == (v == 1) && c.lr() == lrs[i]) {
                        os.add(c.outcome());
                        if (c.outcome().status() != Runs.Status.OK) failed[v][i]++;
                    }
                }
                acc[v][i] = Runs.accuracy(os);
            }
        }
        XYChart ch = Charts.xy("Test accuracy after " + p.steps() + " steps vs learning rate", "learning rate (log)", "test accuracy", true);
        Charts.series(ch, "without BN", lrs, acc[0], 0, true);
        Charts.series(ch, "with BN", lrs, acc[1], 1, false);
        ch.getStyler().setYAxisMin(0.0);
        ch.getStyler().setYAxisMax(1.0);
        out.chart("lr_accuracy", "Test accuracy vs learning rate, mean ± s.d. over " + s.seeds().size()
                + " seeds; diverged runs count with the accuracy they ended at.", ch);
        for (int v = 0; v < 2; v++) {
            for (int i = 0; i < k; i++) {
                String key = (v == 0 ? "baseline" : "bn") + "_lr_" + RunOutput.num(lrs[i]);
                out.results.addProperty(key + "_accuracy_mean", acc[v][i].mean());
                out.results.addProperty(key + "_accuracy_sd", acc[v][i].sd());
                out.results.addProperty(key + "_failed_runs", failed[v][i]);
            }
        }
        out.claim(verdict(lrs, acc, failed));
        return out;
    }

    /**
     * Rule: HOLDS when BN trains at every learning rate (no diverged or at-chance run, mean accuracy within 2 points
     * of its best) and beats the baseline by at least 2 points at the highest rate, beyond 2 s.e. ({@link Effect}); PARTLY when BN beats the baseline
     * at the highest rate by any margin or fails at fewer rates; otherwise DOES_NOT_HOLD.
     */
    public static Claim verdict(double[] lrs, Spread[][] acc, int[][] failed) {
        int k = lrs.length, top = k - 1;
        double bnBest = 0;
        int bnFails = 0, baseFails = 0, bnFailLrs = 0, baseFailLrs = 0;
        for (int i = 0; i < k; i++) {
            bnBest = Math.max(bnBest, acc[1][i].mean());
            bnFails += failed[1][i];
            baseFails += failed[0][i];
            if (failed[1][i] > 0) bnFailLrs++;
            if (failed[0][i] > 0) baseFailLrs++;
        }
        boolean bnStable = bnFails == 0;
        for (int i = 0; i < k; i++) bnStable &= acc[1][i].mean() >= bnBest - 0.02;
        Effect margin = Effect.between(acc[1][top], acc[0][top]);
        Verdict v = Verdict.of(bnStable && margin.shows(0.02), margin.diff() > 0 || bnFailLrs < baseFailLrs);
        StringBuilder m = new StringBuilder();
        for (int i = 0; i < k; i++) {
            if (i > 0) m.append("; ");
            m.append(String.format(Locale.ROOT, "lr %s: %s vs %s", RunOutput.num(lrs[i]), RunOutput.pct(acc[0][i]), RunOutput.pct(acc[1][i])));
        }
        m.append(String.format(Locale.ROOT, " (test accuracy without vs with BN); BN ahead at the highest rate by %s; failed runs (diverged or at chance) %d vs %d",
                margin.points(), baseFails, bnFails));
        return new Claim("With BN, higher learning rates are safe: training tolerates a much larger learning rate without divergence.",
                "Ioffe & Szegedy 2015, §3.3", m.toString(), v,
                Effect.rule("2 points") + "; holds if BN trains at every rate (no failed run, mean within 2 points of its best) and beats "
                        + "the baseline at the highest rate by such an effect; partly if BN's mean is above the baseline's at the highest rate or "
                        + "it fails at fewer rates");
    }
}
