package normlab.lab.evidence;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;
import normlab.data.Dataset;
import normlab.nn.Activation;
import normlab.nn.CrossEntropyLoss;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm1d;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.train.Hooks;
import org.knowm.xchart.XYChart;

/**
 * Depth without collapse (Ioffe &amp; Szegedy 2015, §3.3 and the seed's "mechanism 1": with BN the chain of layers no
 * longer amplifies or contracts variance, so the network can be much deeper without collapsing or saturating). MLPs
 * of depth d (d Linear layers: 784 → 100 → … → 100 → 10, so d − 1 hidden layers of width 100) with sigmoid, tanh or
 * ReLU, weights from N(0, 0.01²), Xavier normal or He normal (biases zero), without BN
 * ((Linear → act) ×(d−1) → Linear) and with BN ((Linear → BN → act) ×(d−1) → Linear).
 *
 * <p>At initialization, on one fixed training batch in training mode, for every hidden layer l:
 * <pre>
 *   activation spread  a_l = √( mean over units j of Var_batch(z_lj) )     z = the non-linearity's input
 *   gradient size      g_l = std over the entries of ∂L/∂W_l                 W_l = the Linear feeding layer l
 *   decades(a) = log10( max_l a_l / min_l a_l ),  likewise for g            (∞ when a layer's value is 0)
 * </pre>
 * a_l is a per-unit spread across the batch, so a net that maps every input to the same point (collapse) has a_l → 0
 * even if the units differ from one another. A net's statistics are <em>bounded</em> when decades ≤ 1 (every layer
 * within a factor 10 of every other). After a fixed budget of plain SGD (same seeds, batches and step count for every
 * network): test accuracy; a network <em>trains</em> when its mean test accuracy is at least the floor (50 %; chance
 * is 10 %).
 */
public final class Depth extends Evidence<Depth.Params, Depth.Result> {
    public static final String NAME = "depth";
    /** Bounded: every layer's statistic within this many decades of every other's. */
    static final double BOUND_DECADES = 1;
    /** Trains: mean test accuracy at least this. */
    static final double TRAIN_FLOOR = 0.5;

    /** The non-linearities compared. */
    public enum Act {
        SIGMOID("sigmoid", Activation.Sigmoid::new), TANH("tanh", Activation.Tanh::new), RELU("ReLU", Activation.ReLU::new);

        public final String label;
        private final Supplier<Module> make;

        Act(String label, Supplier<Module> make) {
            this.label = label;
            this.make = make;
        }
    }

    /**
     * The grid: depths (statistics at initialization), activations, initializations, width, the statistics batch; the
     * depths that are also trained, and the training budget (plain SGD at lr, steps of batch, data sizes).
     */
    public record Params(List<Integer> depths, List<Act> acts, List<Runs.WeightInit> inits, int width, int statBatch,
                         List<Integer> trainDepths, double lr, int steps, int batch, int trainSize, int testSize) {
        /**
         * Quick: statistics at every depth, training at depths 2 and 10 for 30 steps on 2,000 images; full: training at
         * every depth for 300 steps of 60 on all of MNIST (270 runs; see docs/evidence.md for its cost).
         */
        public static Params of(boolean quick) {
            List<Integer> depths = List.of(2, 5, 10, 20, 50);
            List<Runs.WeightInit> inits = List.of(Runs.WeightInit.normal(0.01), Runs.WeightInit.XAVIER, Runs.WeightInit.HE);
            List<Act> acts = List.of(Act.values());
            return quick ? new Params(depths, acts, inits, 100, 128, List.of(2, 10), 0.1, 30, 60, 2_000, 500)
                    : new Params(depths, acts, inits, 100, 256, depths, 0.1, 300, 60, 0, 10_000);
        }
    }

    /** One network's statistics at initialization: per hidden layer a_l and g_l (see the class comment). */
    public record Stats(int depth, Act act, int init, boolean bn, long seed, double[] activation, double[] gradient) {}

    /** One trained network. */
    public record Trained(int depth, Act act, int init, boolean bn, long seed, Runs.Outcome outcome) {}

    /** What {@link #train} leaves: the statistics at initialization and the trained networks. */
    public record Result(List<Stats> stats, Runs.Results<Trained> runs) {}

    public Depth() {
        super(NAME, "Depth: per-layer statistics and trainability with and without BN",
                "MLPs of depth 2…50: per-layer activation and gradient spread at init, accuracy after a fixed budget, without/with BN",
                "MLPs of depth 2, 5, 10, 20, 50 (width 100; sigmoid, tanh, ReLU; weights N(0, 0.01²), Xavier, He) without and with BN: "
                        + "at initialization the spread of each layer's pre-activations across a batch and the size of each layer's weight "
                        + "gradient; after a fixed budget of plain SGD (lr 0.1, batch 60) test accuracy against depth. --quick: statistics at every "
                        + "depth, training at depths 2 and 10 for 30 steps on 2,000 images. Full: every depth trained 300 steps on all of MNIST.",
                Params::of);
    }

    /** The MLP of {@code depth} Linear layers of width {@code width}, with or without BN, weights drawn by {@code init}. */
    public static Sequential build(int depth, int width, Act act, Runs.WeightInit init, boolean bn, Rng rng) {
        if (depth < 2) throw new IllegalArgumentException("depth: an MLP needs at least 2 Linear layers, got " + depth);
        List<Module> l = new ArrayList<>();
        for (int i = 0; i < depth; i++) {
            boolean hidden = i + 1 < depth;
            Linear lin = new Linear(i == 0 ? 784 : width, hidden ? width : 10, !(bn && hidden), null); // zero bias
            init.apply(lin.weight.value, rng);
            l.add(lin);
            if (hidden) {
                if (bn) l.add(new BatchNorm1d(width));
                l.add(act.make.get());
            }
        }
        return new Sequential(l);
    }

    /**
     * a_l and g_l of every hidden layer of {@code m} (built by {@link #build}) on the batch {@code x}, {@code labels}:
     * one forward and backward in training mode; the model's gradients are left zeroed.
     */
    static double[][] statistics(Sequential m, Tensor x, int[] labels) {
        List<Module> acts = new ArrayList<>();
        List<Linear> lins = new ArrayList<>();
        for (Module l : m.layers()) {
            if (l instanceof Activation) acts.add(l);
            else if (l instanceof Linear lin) lins.add(lin);
        }
        double[] a = new double[acts.size()], g = new double[acts.size()];
        Hooks hooks = new Hooks();
        for (int k = 0; k < acts.size(); k++) {
            int kk = k;
            hooks.onInput(acts.get(k), z -> a[kk] = batchSpread(z));
        }
        m.train();
        m.zeroGrad();
        Tensor logits = hooks.forward(m, x);
        CrossEntropyLoss loss = new CrossEntropyLoss();
        loss.forward(logits, labels);
        m.backward(loss.backward());
        for (int k = 0; k < acts.size(); k++) g[k] = std(lins.get(k).weight.grad.data);
        m.zeroGrad();
        return new double[][] {a, g};
    }

    /** √(mean over units of the variance over the batch) of z (N, units), in double. */
    static double batchSpread(Tensor z) {
        int n = z.dim(0), u = z.dim(1);
        double sum = 0;
        for (int j = 0; j < u; j++) {
            double mu = 0, v = 0;
            for (int i = 0; i < n; i++) mu += z.data[i * u + j];
            mu /= n;
            for (int i = 0; i < n; i++) v += (z.data[i * u + j] - mu) * (z.data[i * u + j] - mu);
            sum += v / n;
        }
        return Math.sqrt(sum / u);
    }

    /** Population standard deviation of the values, in double. */
    static double std(float[] v) {
        double mu = 0, s = 0;
        for (float f : v) mu += f;
        mu /= v.length;
        for (float f : v) s += (f - mu) * (f - mu);
        return Math.sqrt(s / v.length);
    }

    /** log10(max / min) of the values; ∞ when one is 0 or not finite. */
    static double decades(double[] v) {
        double lo = Double.POSITIVE_INFINITY, hi = 0;
        for (double x : v) {
            if (!Double.isFinite(x) || x <= 0) return Double.POSITIVE_INFINITY;
            lo = Math.min(lo, x);
            hi = Math.max(hi, x);
        }
        return Math.log10(hi / lo);
    }

    @Override
    public Result train(Params p, Settings s) throws IOException {
        Dataset train = Runs.data("mnist", true, p.trainSize()), test = Runs.data("mnist", false, p.testSize());
        int[] idx = Dataset.range(0, Math.min(p.statBatch(), train.n));
        Tensor x = train.batchFlat(idx);
        int[] labels = train.labels(idx);
        record Net(int depth, Act act, int init, boolean bn) {}
        List<Net> all = new ArrayList<>(), trained = new ArrayList<>();
        // Deepest first: they take longest, so the threads finish together.
        List<Integer> byCost = new ArrayList<>(p.depths());
        byCost.sort((u, v) -> v - u);
        for (int d : byCost) {
            for (Act a : p.acts()) {
                for (int i = 0; i < p.inits().size(); i++) {
                    for (boolean bn : List.of(false, true)) {
                        all.add(new Net(d, a, i, bn));
                        if (p.trainDepths().contains(d)) trained.add(new Net(d, a, i, bn));
                    }
                }
            }
        }
        Runs.Recipe r = new Runs.Recipe(p.lr(), 0, p.steps(), p.batch(), true);
        Runs.Results<Trained> runs = Runs.sweep(train, test, trained, s, (n, seed) -> {
            Runs.WeightInit wi = p.inits().get(n.init());
            Runs.Outcome o = Runs.train(seed, init -> build(n.depth(), p.width(), n.act(), wi, n.bn(), init), r, train, test).outcome();
            s.say("  depth %2d %-7s %-12s %-8s seed %d: %s, accuracy %.4f, %.4f s/step", n.depth(), n.act().label, wi.name(),
                    n.bn() ? "bn" : "baseline", seed, o.status().text, o.accuracy(), o.secondsPerStep());
            return new Trained(n.depth(), n.act(), n.init(), n.bn(), seed, o);
        });
        // The statistics at initialization: one forward and backward per network and seed, built exactly as the trained
        // networks are (the init generator of Runs.train). After the sweep, which they do not depend on: a --spark task
        // that trains one run of the sweep (SweepWorker) stops at the sweep and never computes them.
        List<Stats> stats = new ArrayList<>();
        for (Net n : all) {
            for (long seed : s.seeds()) {
                Sequential m = build(n.depth(), p.width(), n.act(), p.inits().get(n.init()), n.bn(), new Rng(seed).split());
                double[][] ag = statistics(m, x, labels);
                stats.add(new Stats(n.depth(), n.act(), n.init(), n.bn(), seed, ag[0], ag[1]));
            }
        }
        return new Result(stats, runs);
    }

    /** The statistics of one network over the seeds. */
    private static List<Stats> select(List<Stats> st, int depth, Act a, int init, boolean bn) {
        return st.stream().filter(c -> c.depth() == depth && c.act() == a && c.init() == init && c.bn() == bn).toList();
    }

    /** Mean over seeds of decades(a) ({@code gradient} false) or decades(g). */
    static double meanDecades(List<Stats> st, boolean gradient) {
        double sum = 0;
        for (Stats c : st) sum += decades(gradient ? c.gradient() : c.activation());
        return sum / st.size();
    }

    @Override
    public RunOutput publish(Params p, Settings s, Result res) {
        List<Stats> st = res.stats();
        List<Trained> cells = res.runs().runs();
        RunOutput out = output(s, res.runs(), "mnist",
                "model", "MLP 784 → 100 ×(d−1) → 10, (Linear → [BN →] act) per hidden layer, biases zero",
                "optimizer", "plain SGD, lr " + p.lr(), "steps", p.steps(), "batch", p.batch(), "depths", p.depths().toString(),
                "trained_depths", p.trainDepths().toString(), "statistics_batch", p.statBatch());
        out.table("init_stats.csv", "depth", "activation", "init", "variant", "seed", "layer", "activation_spread", "weight_grad_std");
        for (Stats c : st) {
            for (int l = 0; l < c.activation().length; l++) {
                out.row("init_stats.csv", c.depth(), c.act().label, p.inits().get(c.init()).name(), c.bn() ? "bn" : "baseline", c.seed(), l + 1,
                        c.activation()[l], c.gradient()[l]);
            }
        }
        out.table("runs.csv", "depth", "activation", "init", "variant", "seed", "status", "steps", "test_accuracy", "test_loss", "seconds_per_step");
        for (Trained t : cells) {
            out.row("runs.csv", t.depth(), t.act().label, p.inits().get(t.init()).name(), t.bn() ? "bn" : "baseline", t.seed(),
                    t.outcome().status().text, t.outcome().steps(), t.outcome().accuracy(), t.outcome().testLoss(), t.outcome().secondsPerStep());
        }
        int nA = p.acts().size(), nI = p.inits().size(), nD = p.depths().size();
        // decades[bn][act][init][depth] for activations (0) and gradients (1)
        double[][][][][] dec = new double[2][2][nA][nI][nD];
        for (int b = 0; b < 2; b++) {
            for (int a = 0; a < nA; a++) {
                for (int i = 0; i < nI; i++) {
                    for (int d = 0; d < nD; d++) {
                        List<Stats> sel = select(st, p.depths().get(d), p.acts().get(a), i, b == 1);
                        dec[0][b][a][i][d] = meanDecades(sel, false);
                        dec[1][b][a][i][d] = meanDecades(sel, true);
                    }
                }
            }
        }
        int deepest = p.depths().stream().mapToInt(Integer::intValue).max().orElseThrow();
        for (int q = 0; q < 2; q++) {
            for (int i = 0; i < nI; i++) {
                String what = q == 0 ? "pre-activation spread across the batch" : "std of the weight gradient";
                XYChart ch = Charts.xy((q == 0 ? "Pre-activation spread" : "Weight-gradient std") + " per layer at init, depth " + deepest + ", "
                        + p.inits().get(i).name(), "hidden layer", what + " (log)", false);
                ch.getStyler().setYAxisLogarithmic(true);
                for (Act a : p.acts()) {
                    for (boolean bn : List.of(false, true)) {
                        List<Stats> sel = select(st, deepest, a, i, bn);
                        int layers = deepest - 1;
                        double[] xs = new double[layers];
                        Spread[] ys = new Spread[layers];
                        for (int l = 0; l < layers; l++) {
                            xs[l] = l + 1;
                            int ll = l, qq = q;
                            ys[l] = geometricMean(sel.stream().mapToDouble(c -> (qq == 0 ? c.activation() : c.gradient())[ll]).toArray());
                        }
                        Charts.series(ch, a.label + (bn ? " with BN" : " without BN"), xs, ys, a.ordinal() + (bn ? 0 : 3), !bn);
                    }
                }
                out.chart((q == 0 ? "depth_activation_" : "depth_gradient_") + slug(p.inits().get(i).name()),
                        "At initialization, depth " + deepest + ", weights " + p.inits().get(i).name() + ": " + what + " of each hidden layer, "
                                + "geometric mean over " + s.seeds().size() + " seeds on one batch of " + p.statBatch()
                                + " training images (dashed: without BN; a layer whose value underflowed to 0 is left out).", ch);
            }
        }
        // Test accuracy against depth.
        int nT = p.trainDepths().size();
        double[] depthsX = p.trainDepths().stream().mapToDouble(Integer::doubleValue).toArray();
        Spread[][][][] acc = new Spread[2][nA][nI][nT];
        for (int b = 0; b < 2; b++) {
            for (int a = 0; a < nA; a++) {
                for (int i = 0; i < nI; i++) {
                    for (int d = 0; d < nT; d++) {
                        int bb = b, aa = a, ii = i, dd = d;
                        acc[b][a][i][d] = Runs.accuracy(cells.stream().filter(t -> t.bn() == (bb == 1) && t.act() == p.acts().get(aa) && t.init() == ii
                                && t.depth() == p.trainDepths().get(dd)).map(Trained::outcome).toList());
                        out.results.addProperty((b == 1 ? "bn " : "baseline ") + p.acts().get(a).label + " " + p.inits().get(i).name() + " depth "
                                + p.trainDepths().get(d) + " accuracy_mean", acc[b][a][i][d].mean());
                    }
                }
            }
        }
        for (int i = 0; i < nI; i++) {
            XYChart ch = Charts.xy("Test accuracy after " + p.steps() + " steps vs depth, " + p.inits().get(i).name(), "depth (Linear layers)",
                    "test accuracy", true);
            ch.getStyler().setYAxisMin(0.0);
            ch.getStyler().setYAxisMax(1.0);
            for (int a = 0; a < nA; a++) {
                for (int b = 0; b < 2; b++) {
                    Charts.series(ch, p.acts().get(a).label + (b == 1 ? " with BN" : " without BN"), depthsX, acc[b][a][i], a + (b == 1 ? 0 : 3), b == 0);
                }
            }
            out.chart("depth_accuracy_" + slug(p.inits().get(i).name()), "Test accuracy after " + p.steps() + " steps of plain SGD (lr " + p.lr()
                    + ", batch " + p.batch() + ") against depth, weights " + p.inits().get(i).name() + ", mean ± s.d. over " + s.seeds().size()
                    + " seeds (dashed: without BN).", ch);
        }
        List<String> pairs = new ArrayList<>();
        for (Act a : p.acts()) for (Runs.WeightInit w : p.inits()) pairs.add(a.label + "/" + w.name());
        out.claim(statisticsVerdict(false, p.depths(), pairs, flatten(dec[0], nA, nI)));
        out.claim(statisticsVerdict(true, p.depths(), pairs, flatten(dec[1], nA, nI)));
        out.claim(trainingVerdict(p.trainDepths(), pairs, flatten(acc, nA, nI)));
        return out;
    }

    /**
     * exp(mean of ln v) over the seeds as a {@link Spread} without error bars (a log axis cannot draw mean − s.d. ≤ 0);
     * NaN, so left out of the chart (it is in the CSV), when a seed's value underflowed to 0 or is not finite.
     */
    private static Spread geometricMean(double[] v) {
        double s = 0;
        for (double x : v) s += x > 0 && Double.isFinite(x) ? Math.log(x) : Double.NaN;
        double g = Math.exp(s / v.length);
        return new Spread(v.length, g, 0, g, g, 0);
    }

    private static String slug(String init) {
        return init.startsWith("N(") ? "normal" + init.replaceAll("[^0-9.]", "").replace(".", "") : init.toLowerCase(Locale.ROOT);
    }

    /** [variant][act][init][depth] → [variant][pair = act·nI + init][depth]. */
    private static Spread[][][] flatten(Spread[][][][] x, int nA, int nI) {
        Spread[][][] out = new Spread[2][nA * nI][];
        for (int b = 0; b < 2; b++) for (int a = 0; a < nA; a++) for (int i = 0; i < nI; i++) out[b][a * nI + i] = x[b][a][i];
        return out;
    }

    private static double[][][] flatten(double[][][][] x, int nA, int nI) {
        double[][][] out = new double[2][nA * nI][];
        for (int b = 0; b < 2; b++) for (int a = 0; a < nA; a++) for (int i = 0; i < nI; i++) out[b][a * nI + i] = x[b][a][i];
        return out;
    }

    /** The first depth (in order) at which {@code bad} holds, or -1. */
    private static int firstDepth(List<Integer> depths, java.util.function.IntPredicate bad) {
        for (int d = 0; d < depths.size(); d++) if (bad.test(d)) return depths.get(d);
        return -1;
    }

    /**
     * Rule on the per-layer statistics at initialization, decades[variant][pair][depth] (variant 0 without BN, 1 with;
     * a pair is activation/initialization; mean over seeds): a network is bounded when decades ≤ 1. HOLDS when BN is
     * bounded at every depth for every pair and the baseline is unbounded at the deepest depth for a majority of pairs;
     * PARTLY when BN is bounded in more (pair, depth) cells than the baseline; otherwise DOES_NOT_HOLD.
     */
    public static Claim statisticsVerdict(boolean gradient, List<Integer> depths, List<String> pairs, double[][][] decades) {
        int nD = depths.size(), bnBounded = 0, baseBounded = 0, baseBrokenDeepest = 0;
        double bnWorst = 0;
        StringBuilder m = new StringBuilder("without BN, first depth with decades > 1 (log10 max/min over layers): ");
        for (int k = 0; k < pairs.size(); k++) {
            double[] b0 = decades[0][k], b1 = decades[1][k];
            for (int d = 0; d < nD; d++) {
                if (b0[d] <= BOUND_DECADES) baseBounded++;
                if (b1[d] <= BOUND_DECADES) bnBounded++;
                bnWorst = Math.max(bnWorst, b1[d]);
            }
            if (!(b0[nD - 1] <= BOUND_DECADES)) baseBrokenDeepest++;
            int first = firstDepth(depths, d -> !(b0[d] <= BOUND_DECADES));
            if (k > 0) m.append("; ");
            m.append(pairs.get(k)).append(' ').append(first < 0 ? "none" : Integer.toString(first))
                    .append(String.format(Locale.ROOT, " (%s at %d, with BN %s)", fmtDec(b0[nD - 1]), depths.get(nD - 1), fmtDec(b1[nD - 1])));
        }
        int cells = pairs.size() * nD;
        m.append(String.format(Locale.ROOT, ". Bounded (pair, depth) cells: %d of %d with BN (worst %s decades), %d without", bnBounded, cells,
                fmtDec(bnWorst), baseBounded));
        String what = gradient ? "the weight gradients' size" : "the pre-activations' spread across the batch";
        return new Claim("With BN " + what + " stays within a bounded range across layers at every depth; without BN it vanishes or "
                + "explodes beyond some depth.", "Ioffe & Szegedy 2015, §3.3 (the seed's mechanism 1)", m.toString(),
                Verdict.of(bnBounded == cells && baseBrokenDeepest * 2 > pairs.size(), bnBounded > baseBounded),
                "bounded = log10(max/min over hidden layers) ≤ 1, mean over seeds; holds if BN is bounded in every (activation/init, depth) cell "
                        + "and the baseline unbounded at the deepest depth for a majority of activation/init pairs; partly if BN is bounded in more cells");
    }

    private static String fmtDec(double d) {
        return Double.isFinite(d) ? String.format(Locale.ROOT, "%.1f", d) : "∞";
    }

    /**
     * Rule on test accuracy after the budget, acc[variant][pair][depth]: a network trains when its mean accuracy is ≥ 50 %.
     * HOLDS when BN trains at every depth for every pair and the baseline fails at the deepest depth for a majority of
     * pairs; PARTLY when BN trains in more (pair, depth) cells than the baseline; otherwise DOES_NOT_HOLD.
     */
    public static Claim trainingVerdict(List<Integer> depths, List<String> pairs, Spread[][][] acc) {
        int nD = depths.size(), bnTrains = 0, baseTrains = 0, baseFailsDeepest = 0;
        StringBuilder m = new StringBuilder("without BN, first depth below " + RunOutput.pct(TRAIN_FLOOR) + " test accuracy: ");
        for (int k = 0; k < pairs.size(); k++) {
            Spread[] b0 = acc[0][k], b1 = acc[1][k];
            for (int d = 0; d < nD; d++) {
                if (b0[d].mean() >= TRAIN_FLOOR) baseTrains++;
                if (b1[d].mean() >= TRAIN_FLOOR) bnTrains++;
            }
            if (!(b0[nD - 1].mean() >= TRAIN_FLOOR)) baseFailsDeepest++;
            int first = firstDepth(depths, d -> !(b0[d].mean() >= TRAIN_FLOOR));
            if (k > 0) m.append("; ");
            m.append(pairs.get(k)).append(' ').append(first < 0 ? "none" : Integer.toString(first)).append(String.format(Locale.ROOT,
                    " (at %d: %s vs %s with BN)", depths.get(nD - 1), RunOutput.pct(b0[nD - 1].mean()), RunOutput.pct(b1[nD - 1].mean())));
        }
        int cells = pairs.size() * nD;
        m.append(String.format(Locale.ROOT, ". Cells that train: %d of %d with BN, %d without", bnTrains, cells, baseTrains));
        return new Claim("With BN deep networks train; without BN they fail beyond some depth.", "Ioffe & Szegedy 2015, §3.3 (the seed's mechanism 1)",
                m.toString(), Verdict.of(bnTrains == cells && baseFailsDeepest * 2 > pairs.size(), bnTrains > baseTrains),
                "trains = mean test accuracy ≥ 50 % after the fixed budget; holds if BN trains in every (activation/init, depth) cell and the "
                        + "baseline fails at the deepest depth for a majority of pairs; partly if BN trains in more cells");
    }
}
