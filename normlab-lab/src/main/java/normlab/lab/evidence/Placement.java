package normlab.lab.evidence;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;
import normlab.data.Dataset;
import normlab.models.MnistMlp;
import normlab.nn.Activation;
import normlab.nn.Conv2d;
import normlab.nn.Flatten;
import normlab.nn.Linear;
import normlab.nn.MaxPool2d;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm;
import normlab.norm.BatchNorm1d;
import normlab.norm.BatchNorm2d;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.train.Hooks;
import org.knowm.xchart.XYChart;

/**
 * Where BN goes, and what it can represent. (1) Placement: the paper puts BN before the non-linearity
 * (Linear → BN → act); later practice often puts it after (Linear → act → BN); the seed calls the choice "a minor
 * empirical question — both work". Both placements on the paper's MLP (784-100-100-100-10) and on the small CNN
 * (conv3×3 1→8, conv3×3 8→16, each followed by BN and the activation in either order, then 2×2 max pooling; a linear
 * classifier), with ReLU and with sigmoid, same seeds, batches and budget (SGD momentum 0.9): training-set accuracy
 * curves and final test accuracy with its spread over seeds. (2) Identity recovery (Ioffe &amp; Szegedy 2015, §3: with
 * γ = √(σ²_B + ε) and β = μ_B BN is the identity on that batch): the paper's BN MLP (N(0, 0.01²) weights) whose BN
 * layers are set, layer by layer, to the identity of one calibration batch computes exactly the function of the
 * unnormalized MLP with the same weights on that batch; both then train from the same point (plain SGD, the paper's
 * recipe, same batches) and part ways.
 */
public final class Placement extends Evidence<Placement.Params, Placement.Result> {
    public static final String NAME = "placement";

    /**
     * MLP and CNN budgets (steps, batch, lr, SGD momentum 0.9), the data sizes, the accuracy curve (training images,
     * points), the floor both placements must reach to "work", and the identity panel's plain-SGD lr and steps (batch =
     * the MLP's; its calibration batch is the first {@code mlpBatch} training images).
     */
    public record Params(int mlpSteps, int mlpBatch, double mlpLr, int cnnSteps, int cnnBatch, double cnnLr, int trainSize, int testSize,
                         int curveSize, int curvePoints, double floor, double identityLr, int identitySteps) {
        /** Quick: 150 MLP / 40 CNN steps on 2,000 images; full: 2,000 MLP / 1,000 CNN steps on all of MNIST. */
        public static Params of(boolean quick) {
            return quick ? new Params(150, 64, 0.05, 40, 32, 0.02, 2_000, 500, 128, 3, 0.5, 0.1, 150)
                    : new Params(2_000, 64, 0.05, 1_000, 64, 0.02, 0, 10_000, 512, 10, 0.9, 0.1, 2_000);
        }
    }

    /** The non-linearities compared. */
    public enum Act {
        RELU("ReLU", Activation.ReLU::new), SIGMOID("sigmoid", Activation.Sigmoid::new);

        public final String label;
        private final Supplier<Module> make;

        Act(String label, Supplier<Module> make) {
            this.label = label;
            this.make = make;
        }
    }

    /** One placement run: model (mlp or cnn), activation, BN before (true) or after the non-linearity, seed, results. */
    public record Cell(boolean cnn, Act act, boolean before, long seed, Runs.Outcome outcome, Runs.AccuracyCurve curve) {}

    /**
     * One identity-recovery seed: max |Δ logits| / max |logits| between the identity-initialised BN net and the
     * unnormalized net on the calibration batch in training mode at step 0 and after training, and both nets' outcomes
     * and curves.
     */
    public record Identity(long seed, double relDiffStart, double relDiffEnd, Runs.Outcome plain, Runs.Outcome bn, Runs.AccuracyCurve plainCurve,
                           Runs.AccuracyCurve bnCurve) {}

    public record Result(Runs.Results<Cell> runs, List<Identity> identity) {}

    public Placement() {
        super(NAME, "BN before or after the non-linearity; the identity BN can recover",
                "BN before vs after the activation (MLP and CNN, ReLU and sigmoid); BN initialised to the identity",
                "BN before (Linear → BN → act, the paper's) vs after the non-linearity (Linear → act → BN) on the paper's MLP and on the small "
                        + "CNN, with ReLU and sigmoid, same seeds and budget (SGD momentum 0.9): accuracy curves and final test accuracy with "
                        + "its seed-to-seed spread. Identity recovery: the paper's BN MLP with every BN set to γ = √(σ²_B+ε), β = μ_B of one "
                        + "batch equals the unnormalized MLP at step 0, then trains differently. --quick: 150 MLP / 40 CNN steps on 2,000 "
                        + "images. Full: 2,000 MLP / 1,000 CNN steps on all of MNIST.",
                Params::of);
    }

    /** The paper's MLP with ReLU or sigmoid and BN before or after each hidden non-linearity; PyTorch's default init. */
    public static Sequential mlp(Act act, boolean before, Rng rng) {
        List<Module> l = new ArrayList<>();
        int[] sizes = MnistMlp.SIZES;
        for (int i = 0; i + 1 < sizes.length; i++) {
            boolean hidden = i + 2 < sizes.length;
            // before: BN's β replaces the Linear's bias; after: the bias shifts the activation's input, so it stays
            l.add(new Linear(sizes[i], sizes[i + 1], !(hidden && before), rng));
            if (!hidden) continue;
            if (before) l.add(new BatchNorm1d(sizes[i + 1]));
            l.add(act.make.get());
            if (!before) l.add(new BatchNorm1d(sizes[i + 1]));
        }
        return new Sequential(l);
    }

    /** The small CNN (8 and 16 channels) with BN before or after each activation, then 2×2 max pooling. */
    public static Sequential cnn(Act act, boolean before, Rng rng) {
        List<Module> l = new ArrayList<>();
        int[] ch = {1, 8, 16};
        for (int k = 0; k < 2; k++) {
            l.add(new Conv2d(ch[k], ch[k + 1], 3, 1, 1, 1, 1, !before, rng));
            if (before) l.add(new BatchNorm2d(ch[k + 1]));
            l.add(act.make.get());
            if (!before) l.add(new BatchNorm2d(ch[k + 1]));
            l.add(new MaxPool2d(2));
        }
        l.add(new Flatten());
        l.add(new Linear(16 * 7 * 7, 10, rng));
        return new Sequential(l);
    }

    /**
     * Sets every BN layer of {@code bn} (the paper's BN MLP) to the identity of the batch {@code x}: layer by layer, its
     * input on x (the same as the unnormalized net's pre-activation, since the BNs before it are already the identity)
     * gives μ_B and the biased σ²_B per unit, in double, and γ = √(σ²_B + ε), β = μ_B. The running statistics are
     * left at their initial values (0 and 1), as the calibration forwards are not training steps.
     */
    public static void setIdentity(Sequential bn, Tensor x) {
        for (Module m : bn.layers()) {
            if (!(m instanceof BatchNorm b)) continue;
            double[][][] mv = new double[1][][];
            bn.train();
            new Hooks().onInput(b, z -> mv[0] = meanVar(z)).forward(bn, x);
            for (int c = 0; c < b.numFeatures; c++) {
                b.weight.value.data[c] = (float) Math.sqrt(mv[0][1][c] + b.eps);
                b.bias.value.data[c] = (float) mv[0][0][c];
            }
        }
        // The calibration forwards moved the running statistics: back to their initial values, as a fresh layer's.
        for (Module m : bn.layers()) {
            if (!(m instanceof BatchNorm b)) continue;
            java.util.Arrays.fill(b.runningMean.data, 0f);
            java.util.Arrays.fill(b.runningVar.data, 1f);
            b.numBatchesTracked.data[0] = 0f;
        }
    }

    /** Per-column mean and biased variance of z (N, C), in double. */
    static double[][] meanVar(Tensor z) {
        int n = z.dim(0), c = z.dim(1);
        double[] mu = new double[c], var = new double[c];
        for (int i = 0; i < n; i++) for (int j = 0; j < c; j++) mu[j] += z.data[i * c + j];
        for (int j = 0; j < c; j++) mu[j] /= n;
        for (int i = 0; i < n; i++) for (int j = 0; j < c; j++) var[j] += Math.pow(z.data[i * c + j] - mu[j], 2);
        for (int j = 0; j < c; j++) var[j] /= n;
        return new double[][] {mu, var};
    }

    /** max |a − b| / max |a| over the elements. */
    static double relDiff(Tensor a, Tensor b) {
        double d = 0, s = 0;
        for (int i = 0; i < a.numel(); i++) {
            d = Math.max(d, Math.abs(a.data[i] - b.data[i]));
            s = Math.max(s, Math.abs(a.data[i]));
        }
        return d / s;
    }

    @Override
    public Result train(Params p, Settings s) throws IOException {
        Dataset train = Runs.data("mnist", true, p.trainSize()), test = Runs.data("mnist", false, p.testSize());
        Dataset curveSet = train.slice(0, Math.min(p.curveSize(), train.n));
        record Variant(boolean cnn, Act act, boolean before) {}
        List<Variant> variants = new ArrayList<>();
        for (boolean cnn : List.of(true, false)) for (Act a : Act.values()) for (boolean before : List.of(true, false)) variants.add(new Variant(cnn, a, before));
        Runs.Results<Cell> runs = Runs.sweep(train, test, variants, s, (v, seed) -> {
            Rng root = new Rng(seed);
            Rng init = root.split(), shuffle = root.split();
            Sequential m = v.cnn() ? cnn(v.act(), v.before(), init) : mlp(v.act(), v.before(), init);
            int steps = v.cnn() ? p.cnnSteps() : p.mlpSteps();
            Runs.Curved r = Runs.trainWithCurve(m, Runs.sgd(m, v.cnn() ? p.cnnLr() : p.mlpLr(), 0.9), train, test, steps,
                    v.cnn() ? p.cnnBatch() : p.mlpBatch(), shuffle, !v.cnn(), curveSet, Math.max(1, steps / p.curvePoints()));
            s.say("  placement %s %-7s BN %-6s seed %d: %s, test accuracy %.4f", v.cnn() ? "cnn" : "mlp", v.act().label,
                    v.before() ? "before" : "after", seed, r.outcome().status().text, r.outcome().accuracy());
            return new Cell(v.cnn(), v.act(), v.before(), seed, r.outcome(), r.trainAccuracy());
        });
        // Identity recovery: the unnormalized paper's MLP and the BN one built from the same generator (same weights;
        // the unnormalized biases are zero), BN set to the identity of the first training batch. These six short runs
        // have no run key, so they keep no checkpoint: a resumed run repeats them (deterministically).
        int[] calib = Dataset.range(0, Math.min(p.mlpBatch(), train.n));
        Tensor xc = train.batchFlat(calib);
        List<Identity> ids = new ArrayList<>();
        for (long seed : s.seeds()) {
            Sequential plain0 = MnistMlp.build(false, 0.01, new Rng(seed).split()), bn0 = MnistMlp.build(true, 0.01, new Rng(seed).split());
            setIdentity(bn0, xc);
            plain0.train();
            bn0.train();
            double start = relDiff(plain0.forward(xc).copy(), bn0.forward(xc).copy());
            Runs.Recipe r = new Runs.Recipe(p.identityLr(), 0, p.identitySteps(), p.mlpBatch(), true);
            int every = Math.max(1, p.identitySteps() / p.curvePoints());
            Runs.Curved[] out = new Runs.Curved[2];
            Sequential[] nets = new Sequential[2];
            for (int k = 0; k < 2; k++) {
                Rng root = new Rng(seed);
                Rng init = root.split(), shuffle = root.split();
                nets[k] = MnistMlp.build(k == 1, 0.01, init);
                if (k == 1) setIdentity(nets[k], xc);
                out[k] = Runs.trainWithCurve(nets[k], Runs.sgd(nets[k], r.lr(), 0), train, test, r.steps(), r.batch(), shuffle, true, curveSet, every);
            }
            // After training, again on the calibration batch in training mode (batch statistics, as at step 0), so the
            // difference is what the two learned, not the running statistics of evaluation mode.
            nets[0].train();
            nets[1].train();
            double end = relDiff(nets[0].forward(xc).copy(), nets[1].forward(xc).copy());
            s.say("  placement identity seed %d: step 0 max|Δ logits|/max|logits| %.2e; after %d steps %.3f; test accuracy %.4f unnormalized, %.4f BN",
                    seed, start, p.identitySteps(), end, out[0].outcome().accuracy(), out[1].outcome().accuracy());
            ids.add(new Identity(seed, start, end, out[0].outcome(), out[1].outcome(), out[0].trainAccuracy(), out[1].trainAccuracy()));
        }
        return new Result(runs, ids);
    }

    /** The runs of one (model, activation, placement). */
    private static List<Cell> select(List<Cell> cells, boolean cnn, Act a, boolean before) {
        return cells.stream().filter(c -> c.cnn() == cnn && c.act() == a && c.before() == before).toList();
    }

    /** Spread over seeds of the accuracy curves' i-th point. */
    private static Spread[] curveSpread(List<Runs.AccuracyCurve> curves) {
        int n = curves.stream().mapToInt(c -> c.accuracy().length).min().orElse(0);
        Spread[] out = new Spread[n];
        for (int i = 0; i < n; i++) {
            int ii = i;
            out[i] = Spread.of(curves.stream().mapToDouble(c -> c.accuracy()[ii]).toArray());
        }
        return out;
    }

    private static double[] steps(List<Runs.AccuracyCurve> curves, int n) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) x[i] = curves.get(0).steps()[i];
        return x;
    }

    @Override
    public RunOutput publish(Params p, Settings s, Result res) {
        List<Cell> cells = res.runs().runs();
        RunOutput out = output(s, res.runs(), "mnist",
                "mlp", "784-100-100-100-10, (Linear → BN → act) or (Linear → act → BN) ×3 → Linear; " + p.mlpSteps() + " steps of " + p.mlpBatch()
                        + ", SGD momentum 0.9, lr " + p.mlpLr(),
                "cnn", "(conv3×3 → BN → act | conv3×3 → act → BN) → maxpool2, 8 then 16 channels → Linear; " + p.cnnSteps() + " steps of "
                        + p.cnnBatch() + ", SGD momentum 0.9, lr " + p.cnnLr(),
                "identity", "the paper's MLP (sigmoid, N(0, 0.01²)), BN = identity of the first " + p.mlpBatch() + " training images; plain SGD lr "
                        + p.identityLr() + ", " + p.identitySteps() + " steps",
                "curve", "accuracy on " + p.curveSize() + " training images (eval mode) at " + p.curvePoints() + " points", "floor", p.floor());
        out.table("runs.csv", "model", "activation", "bn", "seed", "status", "test_accuracy", "test_loss");
        out.table("curves.csv", "model", "activation", "bn", "seed", "step", "train_accuracy");
        for (Cell c : cells) {
            String model = c.cnn() ? "cnn" : "mlp", place = c.before() ? "before" : "after";
            out.row("runs.csv", model, c.act().label, place, c.seed(), c.outcome().status().text, c.outcome().accuracy(), c.outcome().testLoss());
            for (int i = 0; i < c.curve().steps().length; i++) {
                out.row("curves.csv", model, c.act().label, place, c.seed(), c.curve().steps()[i], c.curve().accuracy()[i]);
            }
        }
        List<Pair> pairs = new ArrayList<>();
        for (boolean cnn : List.of(false, true)) {
            XYChart ch = Charts.xy("Training-set accuracy, " + (cnn ? "small CNN" : "MLP") + ": BN before vs after the activation", "step",
                    "accuracy on " + p.curveSize() + " training images", false);
            for (Act a : Act.values()) {
                Spread[] fin = new Spread[2];
                for (int b = 0; b < 2; b++) {
                    List<Cell> sel = select(cells, cnn, a, b == 0);
                    fin[b] = Runs.accuracy(sel.stream().map(Cell::outcome).toList());
                    List<Runs.AccuracyCurve> curves = sel.stream().map(Cell::curve).toList();
                    Spread[] ys = curveSpread(curves);
                    Charts.series(ch, a.label + ", BN " + (b == 0 ? "before" : "after"), steps(curves, ys.length), ys, 2 * a.ordinal() + b, b == 1);
                    out.results.addProperty((cnn ? "cnn " : "mlp ") + a.label + " bn_" + (b == 0 ? "before" : "after") + " accuracy_mean", fin[b].mean());
                    out.results.addProperty((cnn ? "cnn " : "mlp ") + a.label + " bn_" + (b == 0 ? "before" : "after") + " accuracy_sd", fin[b].sd());
                }
                pairs.add(new Pair((cnn ? "CNN" : "MLP") + " " + a.label, fin[0], fin[1]));
            }
            out.chart("placement_" + (cnn ? "cnn" : "mlp"), "Accuracy on " + p.curveSize() + " training images (evaluation mode) during training, "
                    + (cnn ? "small CNN" : "MLP") + ", BN before (solid) vs after (dashed) the activation, mean ± s.d. over " + s.seeds().size() + " seeds.", ch);
        }
        out.claim(placementVerdict(pairs, p.floor()));

        List<Identity> ids = res.identity();
        out.table("identity.csv", "seed", "rel_diff_step0", "rel_diff_after", "test_accuracy_unnormalized", "test_accuracy_bn_identity_init");
        out.table("identity_curves.csv", "seed", "net", "step", "train_accuracy");
        for (Identity i : ids) {
            out.row("identity.csv", i.seed(), i.relDiffStart(), i.relDiffEnd(), i.plain().accuracy(), i.bn().accuracy());
            for (int k = 0; k < i.plainCurve().steps().length; k++) out.row("identity_curves.csv", i.seed(), "unnormalized", i.plainCurve().steps()[k], i.plainCurve().accuracy()[k]);
            for (int k = 0; k < i.bnCurve().steps().length; k++) out.row("identity_curves.csv", i.seed(), "bn_identity_init", i.bnCurve().steps()[k], i.bnCurve().accuracy()[k]);
        }
        XYChart ic = Charts.xy("From the same function: unnormalized vs BN set to the identity", "step", "accuracy on " + p.curveSize() + " training images", false);
        List<Runs.AccuracyCurve> pc = ids.stream().map(Identity::plainCurve).toList(), bc = ids.stream().map(Identity::bnCurve).toList();
        Spread[] py = curveSpread(pc), by = curveSpread(bc);
        Charts.series(ic, "unnormalized", steps(pc, py.length), py, 1, true);
        Charts.series(ic, "BN, identity of the first batch", steps(bc, by.length), by, 0, false);
        out.chart("identity_init", "The paper's MLP (sigmoid, N(0, 0.01²), plain SGD lr " + p.identityLr() + ") without BN and with every BN set to "
                + "the identity of the first batch (equal outputs at step 0), same batches: accuracy on " + p.curveSize()
                + " training images, mean ± s.d. over " + s.seeds().size() + " seeds.", ic);
        double[] start = ids.stream().mapToDouble(Identity::relDiffStart).toArray(), end = ids.stream().mapToDouble(Identity::relDiffEnd).toArray();
        out.results.addProperty("identity_rel_diff_step0_max", java.util.Arrays.stream(start).max().orElse(Double.NaN));
        out.results.addProperty("identity_rel_diff_after_min", java.util.Arrays.stream(end).min().orElse(Double.NaN));
        out.claim(identityVerdict(start, end, Runs.accuracy(ids.stream().map(Identity::plain).toList()),
                Runs.accuracy(ids.stream().map(Identity::bn).toList())));
        return out;
    }

    /** One comparison: the final test accuracy over seeds with BN before and after the activation. */
    public record Pair(String name, Spread before, Spread after) {}

    /**
     * Rule: a pair "both work" when each placement has ≥ 3 seeds, both mean test accuracies are ≥ the floor, and
     * |difference of means| ≤ 2 standard errors (√(sd₁²/n₁ + sd₂²/n₂)). HOLDS when every pair both works; PARTLY when
     * every pair is above the floor (the difference exceeds the spread somewhere, or too few seeds) or some pair both
     * works; otherwise DOES_NOT_HOLD.
     */
    public static Claim placementVerdict(List<Pair> pairs, double floor) {
        int work = 0, above = 0;
        StringBuilder m = new StringBuilder("final test accuracy, BN before vs after the activation (difference; 2 s.e.): ");
        for (int k = 0; k < pairs.size(); k++) {
            Pair q = pairs.get(k);
            Effect e = Effect.between(q.before(), q.after());
            double diff = e.diff(), se2 = 2 * e.se();
            boolean bothAbove = q.before().mean() >= floor && q.after().mean() >= floor;
            if (bothAbove) above++;
            if (bothAbove && e.withinSpread()) work++;
            if (k > 0) m.append("; ");
            m.append(String.format(Locale.ROOT, "%s %s vs %s (%+.2f points; %.2f)", q.name(), RunOutput.pct(q.before()), RunOutput.pct(q.after()),
                    100 * diff, 100 * se2));
        }
        m.append(String.format(Locale.ROOT, ". Both work (within 2 s.e., both ≥ %s) in %d of %d", RunOutput.pct(floor), work, pairs.size()));
        return new Claim("BN before or after the non-linearity is a minor empirical question: both work.",
                "Ioffe & Szegedy 2015, §3.2 (before); common practice (after)", m.toString(),
                Verdict.of(work == pairs.size(), above == pairs.size() || work > 0),
                "per model and activation, over ≥ " + Effect.MIN_RUNS + " seeds: both work if both mean test accuracies ≥ " + RunOutput.pct(floor)
                        + " and |difference of means| ≤ 2·√(sd₁²/n₁ + sd₂²/n₂); holds if every pair both works; partly if every pair is above the "
                        + "floor or some pair both works");
    }

    /** Outputs equal at step 0: relative difference at most this (float rounding through four layers). */
    static final double SAME = 1e-5;
    /** Trained differently: relative difference of the test logits after training at least this. */
    static final double DIFFERENT = 1e-2;

    /**
     * Rule: HOLDS when for every seed the identity-initialised BN net's logits equal the unnormalized net's at step 0
     * (max |Δ| / max |logits| ≤ 1e-5) and differ after training (≥ 1e-2, same batch, training mode): BN represented the unnormalized function
     * exactly and then learned a different one. PARTLY when they are equal at step 0 but do not part; DOES_NOT_HOLD
     * when they are not equal at step 0.
     */
    public static Claim identityVerdict(double[] start, double[] end, Spread plainAcc, Spread bnAcc) {
        double worstStart = java.util.Arrays.stream(start).max().orElse(Double.NaN), leastEnd = java.util.Arrays.stream(end).min().orElse(Double.NaN);
        boolean same = worstStart <= SAME, parted = leastEnd >= DIFFERENT;
        return new Claim("Setting γ = √(σ²_B+ε), β = μ_B recovers the unnormalized network, so BN keeps the network's representational capacity.",
                "Ioffe & Szegedy 2015, §3", String.format(Locale.ROOT,
                        "max |Δ logits| / max |logits| at step 0 on the calibration batch: %.1e (worst seed); after training, same batch: %.3f (least); "
                                + "test accuracy after training %s unnormalized vs %s with BN from the identity", worstStart, leastEnd,
                        RunOutput.pct(plainAcc), RunOutput.pct(bnAcc)),
                Verdict.of(same && parted, same),
                "holds if for every seed max|Δ|/max|logits| ≤ 1e-5 at step 0 (same function) and ≥ 1e-2 after training (trained differently); "
                        + "partly if equal at step 0 only");
    }
}
