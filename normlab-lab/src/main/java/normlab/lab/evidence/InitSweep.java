package normlab.lab.evidence;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import normlab.data.Dataset;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategorySeries;

/**
 * Initialization (Ioffe &amp; Szegedy 2015, §3.3/§5: with BN, training is less careful about initialization). The
 * paper's MLP without and with BN, weights from N(0, s²) for s ∈ {0.01, 0.1, 1, 3} and from He and Xavier normal
 * initialization, same learning rate and step budget; test accuracy at the end. The spread of accuracy across
 * initializations measures how much the initialization matters.
 */
public final class InitSweep extends Evidence<InitSweep.Params, Runs.Results<InitSweep.Cell>> {
    public static final String NAME = "init-sweep";

    public record Params(List<Runs.WeightInit> inits, double lr, int steps, int batch, int trainSize, int testSize) {
        public static Params of(boolean quick) {
            List<Runs.WeightInit> inits = List.of(Runs.WeightInit.normal(0.01), Runs.WeightInit.normal(0.1),
                    Runs.WeightInit.normal(1), Runs.WeightInit.normal(3), Runs.WeightInit.HE, Runs.WeightInit.XAVIER);
            return quick ? new Params(inits, 0.1, 300, 60, 10_000, 2_000) : new Params(inits, 0.1, 5_000, 60, 0, 0);
        }
    }

    public record Cell(boolean bn, int init, long seed, Runs.Outcome outcome) {}

    public InitSweep() {
        super(NAME, "Initialization: baseline vs BN", "weight init N(0,s²), He, Xavier: baseline vs BN",
                "Initial weight std {0.01, 0.1, 1, 3}, He and Xavier: baseline vs BN.", Params::of);
    }

    @Override
    public Runs.Results<Cell> train(Params p, Settings s) throws IOException {
        Dataset train = Runs.data("mnist", true, p.trainSize()), test = Runs.data("mnist", false, p.testSize());
        Runs.Recipe r = new Runs.Recipe(p.lr(), 0, p.steps(), p.batch(), true);
        record Variant(boolean bn, int init) {}
        List<Variant> variants = Runs.grid(List.of(false, true), java.util.stream.IntStream.range(0, p.inits().size()).boxed().toList(), Variant::new);
        return Runs.sweep(train, test, variants, s, (v, seed) -> {
            Runs.WeightInit wi = p.inits().get(v.init());
            Runs.Outcome o = Runs.train(seed, init -> Runs.mlp(v.bn(), wi, init), r, train, test).outcome();
            s.say("  init-sweep %-8s %-12s seed %d: %s, accuracy %.4f", v.bn() ? "bn" : "baseline", wi.name(), seed, o.status().text, o.accuracy());
            return new Cell(v.bn(), v.init(), seed, o);
        });
    }

    @Override
    public RunOutput publish(Params p, Settings s, Runs.Results<Cell> runs) {
        List<Cell> cells = runs.runs();
        RunOutput out = output(s, runs, "mnist",
                "model", "784-100-100-100-10 sigmoid MLP (the paper's)",
                "optimizer", "plain SGD, lr " + p.lr(), "steps", p.steps(), "batch", p.batch());
        out.table("runs.csv", "variant", "init", "seed", "status", "test_accuracy", "test_loss");
        for (Cell c : cells) {
            out.row("runs.csv", c.bn() ? "bn" : "baseline", p.inits().get(c.init()).name(), c.seed(), c.outcome().status().text,
                    c.outcome().accuracy(), c.outcome().testLoss());
        }
        int k = p.inits().size();
        Spread[][] acc = new Spread[2][k];
        List<String> names = new ArrayList<>();
        for (int i = 0; i < k; i++) names.add(p.inits().get(i).name());
        for (int v = 0; v < 2; v++) {
            for (int i = 0; i < k; i++) {
                List<Runs.Outcome> os = new ArrayList<>();
                for (Cell c : cells) if (c.bn() == (v == 1) && c.init() == i) os.add(c.outcome());
                acc[v][i] = Runs.accuracy(os);
                out.results.addProperty((v == 0 ? "baseline" : "bn") + " " + names.get(i) + " accuracy_mean", acc[v][i].mean());
            }
        }
        CategoryChart ch = Charts.bars("Test accuracy after " + p.steps() + " steps by initialization", "test accuracy");
        for (int v = 0; v < 2; v++) {
            List<Double> m = new ArrayList<>(), e = new ArrayList<>();
            for (Spread sp : acc[v]) {
                m.add(sp.mean());
                e.add(sp.sd());
            }
            CategorySeries cs = ch.addSeries(v == 0 ? "without BN" : "with BN", names, m, e);
            cs.setFillColor(Charts.PALETTE.get(v));
        }
        ch.getStyler().setLegendVisible(true);
        ch.getStyler().setYAxisMin(0.0);
        ch.getStyler().setYAxisMax(1.0);
        ch.getStyler().setXAxisLabelRotation(0);
        out.chart("init_accuracy", "Test accuracy by weight initialization, mean ± s.d. over " + s.seeds().size() + " seeds.", ch);
        Claim c = verdict(names, acc);
        out.results.addProperty("baseline_spread", spread(acc[0]));
        out.results.addProperty("bn_spread", spread(acc[1]));
        out.claim(c);
        return out;
    }

    /** max − min over initializations of the mean accuracy. */
    static double spread(Spread[] acc) {
        double lo = 1, hi = 0;
        for (Spread s : acc) {
            lo = Math.min(lo, s.mean());
            hi = Math.max(hi, s.mean());
        }
        return hi - lo;
    }

    /** The baseline's best initialization minus its worst, as an {@link Effect} between the two (seeds). */
    static Effect range(Spread[] acc) {
        Spread lo = acc[0], hi = acc[0];
        for (Spread s : acc) {
            if (s.mean() < lo.mean()) lo = s;
            if (s.mean() > hi.mean()) hi = s;
        }
        return Effect.between(hi, lo);
    }

    /**
     * Rule: with spread = max − min over initializations of the mean test accuracy, HOLDS when the baseline's spread
     * counts (best minus worst initialization beyond 2 s.e. over ≥ 3 seeds and ≥ 2 points, {@link Effect}) and BN's
     * spread is at most half the baseline's, PARTLY when BN's spread is smaller, otherwise DOES_NOT_HOLD.
     */
    public static Claim verdict(List<String> names, Spread[][] acc) {
        double sb = spread(acc[0]), sn = spread(acc[1]);
        Effect base = range(acc[0]);
        StringBuilder m = new StringBuilder(String.format(Locale.ROOT,
                "accuracy range across initializations: %.1f points without BN (best − worst %s), %.1f with BN (", 100 * sb, base.points(), 100 * sn));
        for (int i = 0; i < names.size(); i++) {
            if (i > 0) m.append("; ");
            m.append(names.get(i)).append(": ").append(RunOutput.pct(acc[0][i].mean())).append(" vs ").append(RunOutput.pct(acc[1][i].mean()));
        }
        m.append(")");
        return new Claim("With BN, the result depends much less on the initial weight scale.",
                "Ioffe & Szegedy 2015, §3.3", m.toString(), Verdict.of(base.shows(0.02) && sn <= sb / 2, sn < sb),
                "spread = max − min over initializations of mean test accuracy; " + Effect.rule("2 points") + "; holds if the baseline's "
                        + "spread counts and BN's is ≤ ½ of it, partly if BN's is smaller");
    }
}
