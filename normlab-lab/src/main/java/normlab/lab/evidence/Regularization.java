package normlab.lab.evidence;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import normlab.data.Dataset;
import normlab.io.LayerTypes;
import normlab.nn.Dropout;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm1d;
import normlab.norm.GhostBatchNorm;
import normlab.tensor.Rng;
import normlab.train.Evaluation;
import normlab.train.Trainer;
import org.knowm.xchart.CategoryChart;

/**
 * BN as a regularizer (Ioffe &amp; Szegedy 2015, §3.4; the seed's second mechanism): an MLP trained for many epochs on a
 * training subset small enough to overfit, without BN, with BN, with GhostBN at several virtual batch sizes
 * (statistics over fewer samples: noisier, so — Hoffer et al. 2017 — more regularizing), and with dropout before the
 * classifier with and without BN. Measured: accuracy and loss on the training subset (evaluation mode) and on the test
 * set; the generalization gap is training accuracy − test accuracy.
 *
 * <p>Why an MLP (784-100-100-100-10, ReLU, He weights, BatchNorm1d before each ReLU): each statistic of a BatchNorm1d
 * is computed from m = (virtual) batch values, so GhostBN at virtual batch 4 / 16 / 64 gives m = 4 / 16 / 64 against
 * BN's m = batch — noise that can show (relative s.e. of a mean ≈ 1/√m: 50 % at m = 4). The first design's small CNN
 * averaged every statistic over virtual batch × H × W ≥ 784 values, so its ghost batches added almost no noise.
 */
public final class Regularization extends Evidence<Regularization.Params, Runs.Results<Regularization.Cell>> {
    public static final String NAME = "regularization";

    /** @param ghost virtual batch sizes of GhostBN (each smaller than {@code batch}) */
    public record Params(int trainSize, int testSize, int steps, int batch, double lr, int[] ghost, double dropout) {
        public static Params of(boolean quick) {
            return quick ? new Params(256, 300, 25, 32, 0.02, new int[] {4, 16}, 0.5)
                    : new Params(1_000, 5_000, 400, 128, 0.02, new int[] {4, 16, 64}, 0.5);
        }
    }

    /** The MLP's hidden width and number of Linear layers (the paper's MNIST MLP shape, 784-100-100-100-10). */
    public static final int WIDTH = 100, DEPTH = 4;

    /** The normalization after each hidden Linear. */
    public enum Norm { NONE, BN, GHOST_BN }

    /** One variant: no norm or BN or GhostBN (virtual batch {@code ghost}, 0 otherwise), with or without dropout. */
    public record Variant(Norm norm, int ghost, boolean dropout) {
        public Variant {
            if ((norm == Norm.GHOST_BN) != (ghost > 0)) throw new IllegalArgumentException("regularization: a virtual batch is GhostBN's only, got " + norm + " with " + ghost);
        }

        public String label() {
            String n = norm == Norm.NONE ? "no norm" : ghost > 0 ? "GhostBN " + ghost : "BN";
            return n + (dropout ? " + dropout" : "");
        }
    }

    public record Cell(Variant variant, long seed, Runs.Status status, double trainAccuracy, double trainLoss, double testAccuracy,
                       double testLoss) {
        public double gap() {
            return trainAccuracy - testAccuracy;
        }
    }

    public Regularization() {
        super(NAME, "BN as a regularizer: the generalization gap on a small training set",
                "BN as a regularizer: train/test gap without BN, with BN, GhostBN, dropout",
                "BN as a regularizer: on a training subset small enough to overfit, the train/test accuracy gap without BN, with BN, with "
                        + "GhostBN at several virtual batch sizes, and with dropout with and without BN.", Params::of);
    }

    static List<Variant> variants(Params p) {
        List<Variant> v = new ArrayList<>(List.of(new Variant(Norm.NONE, 0, false), new Variant(Norm.NONE, 0, true),
                new Variant(Norm.BN, 0, false), new Variant(Norm.BN, 0, true)));
        for (int g : p.ghost()) v.add(new Variant(Norm.GHOST_BN, g, false));
        return v;
    }

    /**
     * The MLP ({@link Depth#build}: {@link #DEPTH} Linear layers of width {@link #WIDTH}, ReLU, He weights) with the
     * variant's normalization before each ReLU, and dropout at rate p before the classifier if asked.
     */
    public static Sequential build(Variant v, double p, Rng rng) {
        Sequential m = Depth.build(DEPTH, WIDTH, Depth.Act.RELU, Runs.WeightInit.HE, v.norm() != Norm.NONE, rng);
        if (v.ghost() > 0) {
            m = (Sequential) LayerTypes.rebuild(m, x -> x instanceof BatchNorm1d b ? new GhostBatchNorm(b.numFeatures, v.ghost()) : null);
        }
        if (!v.dropout()) return m;
        List<Module> l = new ArrayList<>(m.layers());
        int last = l.size() - 1;
        if (!(l.get(last) instanceof Linear)) throw new IllegalStateException("the MLP no longer ends in its classifier");
        l.add(last, new Dropout(p, rng.split()));
        return new Sequential(l);
    }

    @Override
    public Runs.Results<Cell> train(Params p, Settings s) throws IOException {
        for (int g : p.ghost()) {
            if (g >= p.batch() || p.batch() % g != 0) throw new IllegalArgumentException("regularization: virtual batch " + g + " must divide the batch " + p.batch());
        }
        Dataset train = Runs.data("fashion", true, p.trainSize()), test = Runs.data("fashion", false, p.testSize());
        Runs.Recipe r = new Runs.Recipe(p.lr(), 0.9, p.steps(), p.batch(), true);
        return Runs.sweep(train, test, variants(p), s, (v, seed) -> {
            Runs.Trained t = Runs.train(seed, init -> build(v, p.dropout(), init), r, train, test);
            Evaluation tr = Trainer.evaluate(t.model(), train, true, null, 200);
            Cell c = new Cell(v, seed, t.outcome().status(), tr.accuracy(), tr.loss(), t.outcome().accuracy(), t.outcome().testLoss());
            s.say("  regularization %-18s seed %d: train %.4f, test %.4f, gap %.4f", v.label(), seed, c.trainAccuracy(), c.testAccuracy(), c.gap());
            return c;
        });
    }

    @Override
    public RunOutput publish(Params p, Settings s, Runs.Results<Cell> runs) {
        RunOutput out = output(s, runs, "fashion-mnist", "model", "MLP 784-" + WIDTH + "-" + WIDTH + "-" + WIDTH + "-10, ReLU, He weights, "
                        + "BatchNorm1d / GhostBN before each ReLU (m = batch / virtual batch); dropout " + p.dropout() + " before the classifier where marked",
                "optimizer", "SGD momentum 0.9, lr " + p.lr(), "steps", p.steps(), "batch", p.batch(),
                "epochs", String.format(Locale.ROOT, "%.1f", (double) p.steps() * p.batch() / runs.train().n));
        out.table("runs.csv", "variant", "virtual_batch", "dropout", "seed", "status", "train_accuracy", "train_loss", "test_accuracy", "test_loss", "gap");
        for (Cell c : runs.runs()) {
            out.row("runs.csv", c.variant().label(), c.variant().ghost() > 0 ? c.variant().ghost() : c.variant().norm() == Norm.NONE ? 0 : p.batch(),
                    c.variant().dropout(), c.seed(), c.status().text, c.trainAccuracy(), c.trainLoss(), c.testAccuracy(), c.testLoss(), c.gap());
        }
        List<Variant> vs = variants(p);
        CategoryChart gapChart = Charts.bars("Generalization gap (train − test accuracy), " + runs.train().n + " training images", "gap (points)");
        CategoryChart testChart = Charts.bars("Test accuracy", "test accuracy (%)");
        List<String> names = new ArrayList<>();
        List<Double> gm = new ArrayList<>(), ge = new ArrayList<>(), tm = new ArrayList<>(), te = new ArrayList<>();
        java.util.Map<Variant, Spread> gap = new java.util.HashMap<>(), acc = new java.util.HashMap<>();
        for (Variant v : vs) {
            List<Cell> cs = runs.runs().stream().filter(c -> c.variant().equals(v)).toList();
            Spread g = Spread.of(cs.stream().mapToDouble(Cell::gap).toArray()), a = Spread.of(cs.stream().mapToDouble(Cell::testAccuracy).toArray());
            Spread tr = Spread.of(cs.stream().mapToDouble(Cell::trainAccuracy).toArray());
            gap.put(v, g);
            acc.put(v, a);
            names.add(v.label());
            gm.add(100 * g.mean());
            ge.add(100 * g.sd());
            tm.add(100 * a.mean());
            te.add(100 * a.sd());
            String key = v.label().toLowerCase(Locale.ROOT).replace(" + ", "_").replace(' ', '_');
            out.results.addProperty(key + "_train_accuracy_mean", tr.mean());
            out.results.addProperty(key + "_test_accuracy_mean", a.mean());
            out.results.addProperty(key + "_gap_mean", g.mean());
            out.results.addProperty(key + "_gap_sd", g.sd());
        }
        gapChart.addSeries("gap", names, gm, ge);
        testChart.addSeries("test accuracy", names, tm, te);
        out.chart("regularization_gap", "Training-subset accuracy minus test accuracy per variant, mean ± s.d. over " + s.seeds().size() + " seeds.", gapChart);
        out.chart("regularization_test", "Test accuracy per variant, mean ± s.d. over " + s.seeds().size() + " seeds.", testChart);
        Variant none = vs.get(0), noneDo = vs.get(1), bn = vs.get(2), bnDo = vs.get(3);
        out.claim(bnRegularizes(gap.get(none), gap.get(bn), acc.get(none), acc.get(bn)));
        int[] gs = p.ghost();
        Spread[] ghostGaps = new Spread[gs.length];
        for (int i = 0; i < gs.length; i++) ghostGaps[i] = gap.get(vs.get(4 + i));
        out.claim(ghostClaim(gs, ghostGaps, gap.get(bn), p.batch()));
        out.claim(dropoutClaim(acc.get(none), acc.get(noneDo), acc.get(bn), acc.get(bnDo)));
        return out;
    }


    static String pts(Spread s) {
        return String.format(Locale.ROOT, "%.1f ± %.1f", 100 * s.mean(), 100 * s.sd());
    }

    /** Rule: HOLDS when the gap without BN exceeds BN's (difference rule, ≥ 1 point); PARTLY when only BN's test accuracy is higher (≥ 0.5 points). */
    static Claim bnRegularizes(Spread gapNone, Spread gapBn, Spread accNone, Spread accBn) {
        boolean g = Effect.exceeds(gapNone, gapBn, 0.01), a = Effect.exceeds(accBn, accNone, 0.005);
        return new Claim("BN regularizes: trained to overfit a small training set, the network with BN generalizes better (a smaller train/test gap).",
                "Ioffe & Szegedy 2015, §3.4 (a training example is seen with its batch, so the network is no longer deterministic for it)",
                String.format(Locale.ROOT, "gap (points) without BN %s, with BN %s; test accuracy %s vs %s", pts(gapNone), pts(gapBn),
                        RunOutput.pct(accNone), RunOutput.pct(accBn)), Verdict.of(g, a),
                "holds if gap(no norm) − gap(BN) > 2 standard errors of the difference and > 1 point over ≥ 3 seeds; partly if only BN's test accuracy "
                        + "is higher by that rule (> 0.5 points)");
    }

    /**
     * Rule: HOLDS when the smallest virtual batch's gap is below full-batch BN's by the difference rule (≥ 1 point) and the
     * mean gaps fall as the virtual batch shrinks; PARTLY when only one of the two; otherwise DOES_NOT_HOLD.
     */
    static Claim ghostClaim(int[] ghost, Spread[] gaps, Spread gapBn, int batch) {
        boolean sig = Effect.exceeds(gapBn, gaps[0], 0.01), mono = true;
        for (int i = 0; i + 1 < gaps.length; i++) mono &= gaps[i].mean() <= gaps[i + 1].mean();
        mono &= gaps[gaps.length - 1].mean() <= gapBn.mean();
        StringBuilder m = new StringBuilder("gap (points) by virtual batch: ");
        for (int i = 0; i < ghost.length; i++) m.append(ghost[i]).append(": ").append(pts(gaps[i])).append(", ");
        m.append("full batch ").append(batch).append(" (BN): ").append(pts(gapBn));
        return new Claim("More noise in the statistics, more regularization: GhostBN with a smaller virtual batch narrows the generalization gap.",
                "Hoffer, Hubara & Soudry 2017 (Train longer, generalize better), §4", m.toString(), Verdict.of(sig && mono, sig || mono),
                "holds if gap(BN) − gap(smallest virtual batch) > 2 standard errors and > 1 point over ≥ 3 seeds and the mean gaps do not rise as the "
                        + "virtual batch shrinks; partly if only one of the two");
    }

    /**
     * Rule: with the difference rule at 0.5 points, BN's noise substitutes for dropout when dropout adds nothing to BN
     * (BN + dropout not better than BN) and BN alone is not worse than the network without BN but with dropout. HOLDS when
     * both, PARTLY when one; otherwise DOES_NOT_HOLD. "Not better" means the difference rule does not pass.
     */
    static Claim dropoutClaim(Spread none, Spread noneDo, Spread bn, Spread bnDo) {
        // "not better" can only be shown with enough seeds: below 3 on a side neither part holds.
        boolean enough = none.n() >= 3 && noneDo.n() >= 3 && bn.n() >= 3 && bnDo.n() >= 3;
        boolean addsNothing = enough && !Effect.exceeds(bnDo, bn, 0.005), asGood = enough && !Effect.exceeds(noneDo, bn, 0.005);
        return new Claim("BN's noise can replace dropout: with BN, dropout adds nothing, and BN alone does at least as well as dropout without BN.",
                "Ioffe & Szegedy 2015, §3.4 and §4.2.1 (\"Remove Dropout\")",
                String.format(Locale.ROOT, "test accuracy: no norm %s, no norm + dropout %s, BN %s, BN + dropout %s", RunOutput.pct(none),
                        RunOutput.pct(noneDo), RunOutput.pct(bn), RunOutput.pct(bnDo)), Verdict.of(addsNothing && asGood, addsNothing || asGood),
                "holds if neither BN + dropout − BN nor (no norm + dropout) − BN exceeds 2 standard errors and 0.5 points (≥ 3 seeds); partly if one of them "
                        + "does not; neither part with fewer than 3 seeds");
    }
}
