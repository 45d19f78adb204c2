package normlab.lab.evidence;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import normlab.data.Dataset;
import normlab.models.ResNet;
import normlab.nn.Sequential;
import normlab.tensor.Rng;
import org.knowm.xchart.XYChart;

/**
 * Residual stacks at increasing depth (He et al. 2015, 2016): CIFAR-style ResNets of depth 6n+2 ({@link ResNet}: stem
 * conv 16, stages 16/32/64 with strides 1/2/2, 7×7 at the end for 28×28 input) on Fashion-MNIST, post-activation
 * (original) and pre-activation blocks, each with BatchNorm, GroupNorm(8), no normalization, and no normalization
 * with every residual branch's last conv zero-initialized; SGD with momentum 0.9
 * at a constant learning rate, no weight decay, same seeds and batches for every variant. Measured: the training loss
 * curve (mean over each 1/50 of the run), the accuracy on a fixed 512-image slice of the training set (evaluation
 * mode) at 10 points, test accuracy at the end, divergence, and the median training-step time.
 *
 * <p>Cost of the full run, from measured single-thread step times at batch 64 on 28×28 (CPU time of the stepping
 * thread, so independent of other load): ResNet-8 0.18 s, ResNet-20 0.51 s, ResNet-56 1.55 s (BN), 1.59 s (none),
 * 1.87 s (GN). 3 depths × 8 variants × 3 seeds × 1,500 steps ≈ 86,000 CPU-seconds, plus ~5 % for evaluation: about
 * 12.5 hours with two runs side by side on 2 idle cores (9.5 h without the zero-init variants).
 *
 * <p>{@code --protocol lean} ({@link Params#lean}) is the smallest run that still tests the claims, costed from thread
 * CPU time per step at batch 64 and half width (8/16/32), measured on the shared machine: ResNet-56 0.40 s (BN), 0.34 s
 * (GN), ≈ 0.29 s (none, scaled by the depth-20 ratio; plain unnormalized ResNet-56 diverges within a few steps);
 * ResNet-20 0.16 s (BN), 0.14 s (GN), 0.12 s (none). 500 steps: depth 56 × {BN, none, none+zero-init} × 2 blocks × 3
 * seeds ≈ 2,100 CPU-s, depth 20 × 4 norms × 2 × 3 ≈ 1,600 CPU-s, plus ~3 % evaluation: ≈ 3,800 CPU-s, about 32 min on
 * 2 idle cores.
 *
 * <p>Claims: pre-activation eases optimization at depth (He et al. 2016: the deep pre-activation net reaches a lower
 * training loss than the original); without normalization a deep residual stack at the default (Kaiming) init needs
 * special care (Zhang, Dauphin &amp; Ma 2019, Fixup: it explodes or trains far worse than with BN), and zero-initialized
 * residual branches are such care.
 */
public final class ResNetDepth extends Evidence<ResNetDepth.Params, Runs.Results<ResNetDepth.Cell>> {
    public static final String NAME = "resnet";

    /**
     * No normalization with each residual branch's last conv zero-initialized ({@code zeroInitResidual}): every block
     * starts as its shortcut, the core of Fixup (Zhang et al. 2019) and SkipInit (De &amp; Smith 2020) without their
     * rescaling and scalar parameters. The "special care" control for the unnormalized networks.
     */
    public static final ResNet.Norm NONE_ZERO_INIT = new ResNet.Norm("none+zero-init", null);

    /**
     * The experiment's settings: depths, the norms (at every depth but the deepest), the norms at the deepest depth (the
     * claims'), SGD's lr, steps at a batch, data sizes, curve slice and points.
     */
    public record Params(List<Integer> depths, List<ResNet.Norm> norms, List<ResNet.Norm> deepestNorms, int[] widths, double lr, int steps,
                         int batch, int trainSize, int testSize, int curveSize, int curvePoints) {
        /** The same norms at every depth. */
        public Params(List<Integer> depths, List<ResNet.Norm> norms, int[] widths, double lr, int steps, int batch, int trainSize, int testSize,
                      int curveSize, int curvePoints) {
            this(depths, norms, norms, widths, lr, steps, batch, trainSize, testSize, curveSize, curvePoints);
        }

        /** Quick: half widths (8/16/32), 12 steps of 32 on 1,024 images (a smoke run); full: widths 16/32/64, 1,500 steps of 64. */
        public static Params of(boolean quick) {
            List<ResNet.Norm> norms = List.of(ResNet.BN, ResNet.NONE, NONE_ZERO_INIT, ResNet.gn(8));
            return quick ? new Params(List.of(8, 14), norms, new int[] {8, 16, 32}, 0.05, 12, 32, 1_024, 256, 128, 2)
                    : new Params(List.of(8, 20, 56), norms, new int[] {16, 32, 64}, 0.05, 1_500, 64, 0, 10_000, 512, 10);
        }

        /**
         * {@code --protocol lean}, the smallest full run that still tests the claims (about 3,800 CPU-seconds against the
         * standard 86,000): depths 20 and 56 only (the claims are at the deepest, the trend needs two), half widths
         * 8/16/32, 500 steps of 64 (32,000 images, half an epoch) at the same lr, at depth 56 only the claims' norms (BN,
         * none, none+zero-init; GroupNorm at depth 20), 2,000 test images, the training-accuracy curve on 256 images at 5
         * points.
         */
        public static Params lean() {
            List<ResNet.Norm> norms = List.of(ResNet.BN, ResNet.NONE, NONE_ZERO_INIT, ResNet.gn(8));
            return new Params(List.of(20, 56), norms, List.of(ResNet.BN, ResNet.NONE, NONE_ZERO_INIT), new int[] {8, 16, 32}, 0.05, 500, 64, 0,
                    2_000, 256, 5);
        }

        /** The parameters for {@code --protocol} in {@code s} (quick ignores it). */
        static Params of(Settings s) {
            String protocol = s.option("--protocol", "standard");
            if (!protocol.equals("standard") && !protocol.equals("lean")) {
                throw new IllegalArgumentException("--protocol must be standard or lean, got '" + protocol + "'");
            }
            return s.quick() ? of(true) : protocol.equals("lean") ? lean() : of(false);
        }

        /** The norms trained at {@code depth}. */
        List<ResNet.Norm> normsAt(int depth) {
            return depth == depths.stream().mapToInt(Integer::intValue).max().orElseThrow() ? deepestNorms : norms;
        }
    }

    /** One trained network: its depth, block kind, norm, seed, outcome and training-set accuracy curve. */
    public record Cell(int depth, ResNet.Block block, ResNet.Norm norm, long seed, Runs.Outcome outcome, Runs.AccuracyCurve curve) {
        String variant() {
            return (block == ResNet.Block.PRE ? "pre-act" : "post-act") + " " + norm.label();
        }

        /** Training loss at the end: the mean of the last 5 points of the loss curve (last 10 % of the run); NaN if diverged. */
        double finalTrainLoss() {
            double[] c = outcome.trainLoss();
            if (outcome.diverged() || c.length == 0) return Double.NaN;
            int k = Math.min(5, c.length);
            double s = 0;
            for (int i = c.length - k; i < c.length; i++) s += c[i];
            return s / k;
        }
    }

    public ResNetDepth() {
        super(NAME, "Residual networks: post- vs pre-activation, with and without normalization",
                "ResNets of depth 6n+2, post- vs pre-activation blocks, BN / GroupNorm / none / none+zero-init (Fashion-MNIST)",
                "CIFAR-style ResNets (depth 6n+2: stem conv, three stages 16/32/64, global pool, linear) on Fashion-MNIST with the original "
                        + "post-activation block and the pre-activation block (He et al. 2016), each with BatchNorm, GroupNorm(8), no "
                        + "normalization, or none with zero-initialized residual branches; SGD momentum 0.9, constant lr. Training-loss and training-accuracy curves, test accuracy; claims on "
                        + "pre-activation at depth and on unnormalized deep stacks. --quick: depths 8 and 14 at half width, 12 steps on 1,024 "
                        + "images (a smoke run, well under a minute on 2 idle cores). Full: depths 8, 20, 56, 1,500 steps of batch 64 on the full training set "
                        + "(about 12.5 h on 2 idle cores: a ResNet-56 step at batch 64 takes 1.6–1.9 s of one core). --protocol lean: depths "
                        + "20 and 56 at half width, 500 steps of 64, at depth 56 only BN / none / none+zero-init (about 3,800 CPU-seconds).",
                (Settings s) -> Params.of(s));
    }

    @Override
    public List<Experiment.Option> options() {
        return List.of(new Experiment.Option("--protocol", "P", "standard",
                "Full-run protocol: standard (depths 8/20/56, widths 16/32/64, 1,500 steps, every norm) or lean (depths 20/56, widths 8/16/32, "
                        + "500 steps, at depth 56 only the claims' norms)"));
    }

    @Override
    public Runs.Results<Cell> train(Params p, Settings s) throws IOException {
        Dataset train = Runs.data("fashion", true, p.trainSize()), test = Runs.data("fashion", false, p.testSize());
        Dataset curveSet = train.slice(0, Math.min(p.curveSize(), train.n));
        record Variant(int depth, ResNet.Block block, ResNet.Norm norm) {}
        List<Variant> variants = new ArrayList<>();
        // Deepest first: they take longest, so the threads finish together.
        List<Integer> depths = new ArrayList<>(p.depths());
        depths.sort((a, b) -> b - a);
        // At a depth, the norms in the order of the list (the claims' first), post and pre side by side: a run cut short
        // has the claims' pairs first.
        for (int d : depths) for (ResNet.Norm n : p.normsAt(d)) for (ResNet.Block b : ResNet.Block.values()) variants.add(new Variant(d, b, n));
        int every = Math.max(1, p.steps() / p.curvePoints());
        return Runs.sweep(train, test, variants, s, (v, seed) -> {
            Rng root = new Rng(seed);
            Rng init = root.split(), shuffle = root.split();
            ResNet.Config cfg = ResNet.Config.of(v.depth(), v.block(), v.norm()).withWidths(p.widths())
                    .withZeroInitResidual(v.norm() == NONE_ZERO_INIT);
            Sequential model = ResNet.build(cfg, init);
            Runs.Curved r = Runs.trainWithCurve(model, Runs.sgd(model, p.lr(), 0.9), train, test, p.steps(), p.batch(), shuffle, false,
                    curveSet, every);
            Cell c = new Cell(v.depth(), v.block(), v.norm(), seed, r.outcome(), r.trainAccuracy());
            s.say("  resnet %2d %-16s seed %d: %s, train loss %.4f, test acc %.4f, %.3f s/step", v.depth(), c.variant(), seed,
                    r.outcome().status().text, c.finalTrainLoss(), r.outcome().accuracy(), r.outcome().secondsPerStep());
            return c;
        });
    }

    private static List<Cell> select(List<Cell> cells, int depth, ResNet.Block b, String norm) {
        return cells.stream().filter(c -> c.depth() == depth && c.block() == b && c.norm().label().equals(norm)).toList();
    }

    /** Final training loss over seeds; a diverged seed counts as non-finite. */
    static Spread finalLoss(List<Cell> cells) {
        return Spread.of(cells.stream().mapToDouble(Cell::finalTrainLoss).toArray());
    }

    @Override
    public RunOutput publish(Params p, Settings s, Runs.Results<Cell> runs) {
        List<Cell> cells = runs.runs();
        RunOutput out = output(s, runs, "fashion-mnist",
                "model", "ResNet 6n+2 (stem conv3×3, stages " + p.widths()[0] + "/" + p.widths()[1] + "/" + p.widths()[2]
                        + " strides 1/2/2, option-B projections, GAP, linear), Kaiming fan-out init",
                "optimizer", "SGD momentum 0.9, lr " + p.lr() + " constant, no weight decay", "steps", p.steps(), "batch", p.batch(),
                "depths", p.depths().toString(), "norms", p.norms().stream().map(ResNet.Norm::label).toList() + " (deepest: "
                        + p.deepestNorms().stream().map(ResNet.Norm::label).toList() + ")", "test_images", p.testSize(), "curve", "accuracy on " + p.curveSize() + " training images (eval mode) at " + p.curvePoints() + " points");
        out.table("runs.csv", "depth", "block", "norm", "seed", "steps", "status", "final_train_loss", "train_curve_accuracy", "test_accuracy",
                "test_loss", "seconds_per_step");
        out.table("curves.csv", "depth", "block", "norm", "seed", "kind", "step", "value");
        for (Cell c : cells) {
            double[] acc = c.curve().accuracy();
            out.row("runs.csv", c.depth(), c.block(), c.norm().label(), c.seed(), c.outcome().steps(), c.outcome().status().text, c.finalTrainLoss(),
                    acc.length == 0 ? Double.NaN : acc[acc.length - 1], c.outcome().accuracy(), c.outcome().testLoss(), c.outcome().secondsPerStep());
            double[] loss = c.outcome().trainLoss();
            int every = Math.max(1, p.steps() / 50);
            for (int i = 0; i < loss.length; i++) out.row("curves.csv", c.depth(), c.block(), c.norm().label(), c.seed(), "train_loss", (i + 1) * every, loss[i]);
            for (int i = 0; i < acc.length; i++) out.row("curves.csv", c.depth(), c.block(), c.norm().label(), c.seed(), "train_accuracy", c.curve().steps()[i], acc[i]);
        }
        int deepest = p.depths().stream().mapToInt(Integer::intValue).max().orElseThrow();
        // Curves of the deepest networks, one series per block × norm.
        XYChart lossChart = Charts.xy("Training loss, ResNet-" + deepest, "step", "training loss (mean over 1/50 of the run)", false);
        XYChart accChart = Charts.xy("Training-set accuracy, ResNet-" + deepest, "step", "accuracy on " + p.curveSize() + " training images", false);
        int idx = 0;
        for (ResNet.Block b : ResNet.Block.values()) {
            for (ResNet.Norm n : p.deepestNorms()) {
                List<Cell> sel = select(cells, deepest, b, n.label());
                String name = (b == ResNet.Block.PRE ? "pre-act " : "post-act ") + n.label();
                Charts.series(lossChart, name, xsOf(p.steps(), 50), curveSpread(sel, true), idx, b == ResNet.Block.POST);
                if (!sel.isEmpty() && sel.get(0).curve().steps().length > 0) {
                    double[] xs = Arrays.stream(sel.get(0).curve().steps()).asDoubleStream().toArray();
                    Charts.series(accChart, name, xs, curveSpread(sel, false), idx, b == ResNet.Block.POST);
                }
                idx++;
            }
        }
        out.chart("resnet_train_loss", "Training loss of the " + deepest + "-layer networks, mean ± s.d. over " + s.seeds().size()
                + " seeds; dashed: post-activation (original) blocks, solid: pre-activation. A diverged run's curve ends where it diverged.", lossChart);
        out.chart("resnet_train_accuracy", "Accuracy on a fixed slice of " + p.curveSize() + " training images (evaluation mode) during training, "
                + deepest + " layers; dashed: post-activation.", accChart);
        // Final training loss vs depth.
        XYChart depthChart = Charts.xy("Final training loss vs depth", "depth (layers)", "final training loss", false);
        double[] xs = p.depths().stream().mapToDouble(Integer::doubleValue).toArray();
        idx = 0;
        for (ResNet.Block b : ResNet.Block.values()) {
            for (ResNet.Norm n : p.norms()) {
                Spread[] ys = new Spread[xs.length];
                for (int i = 0; i < xs.length; i++) {
                    ys[i] = finalLoss(select(cells, p.depths().get(i), b, n.label()));
                    out.results.addProperty((b == ResNet.Block.PRE ? "pre" : "post") + "_" + n.label() + "_depth_" + p.depths().get(i) + "_final_train_loss",
                            ys[i].mean());
                }
                Charts.series(depthChart, (b == ResNet.Block.PRE ? "pre-act " : "post-act ") + n.label(), xs, ys, idx++, b == ResNet.Block.POST);
            }
        }
        out.chart("resnet_depth", "Final training loss (mean of the last 10 % of the run) against depth; dashed: post-activation. "
                + "Missing points: every seed diverged.", depthChart);
        // Step time of the deepest BN networks, for the full run's estimate.
        for (ResNet.Block b : ResNet.Block.values()) {
            double[] t = select(cells, deepest, b, ResNet.BN.label()).stream().mapToDouble(c -> c.outcome().secondsPerStep()).toArray();
            if (t.length > 0) out.results.addProperty((b == ResNet.Block.PRE ? "pre" : "post") + "_BN_depth_" + deepest + "_seconds_per_step", Spread.of(t).mean());
        }
        ResNet.Norm none = p.deepestNorms().contains(ResNet.NONE) ? ResNet.NONE : null;
        if (p.deepestNorms().contains(ResNet.BN)) {
            out.claim(preActivationVerdict(deepest, finalLoss(select(cells, deepest, ResNet.Block.POST, "BN")),
                    finalLoss(select(cells, deepest, ResNet.Block.PRE, "BN"))));
            if (none != null) {
                List<Cell> noneDeep = new ArrayList<>(select(cells, deepest, ResNet.Block.POST, none.label()));
                noneDeep.addAll(select(cells, deepest, ResNet.Block.PRE, none.label()));
                List<Cell> bnDeep = new ArrayList<>(select(cells, deepest, ResNet.Block.POST, "BN"));
                bnDeep.addAll(select(cells, deepest, ResNet.Block.PRE, "BN"));
                int diverged = (int) noneDeep.stream().filter(c -> c.outcome().diverged()).count();
                out.claim(noNormVerdict(deepest, diverged, noneDeep.size(), finalLoss(noneDeep), finalLoss(bnDeep)));
                if (p.deepestNorms().contains(NONE_ZERO_INIT)) {
                    List<Cell> zi = new ArrayList<>(select(cells, deepest, ResNet.Block.POST, NONE_ZERO_INIT.label()));
                    zi.addAll(select(cells, deepest, ResNet.Block.PRE, NONE_ZERO_INIT.label()));
                    int ziDiverged = (int) zi.stream().filter(c -> c.outcome().diverged()).count();
                    out.claim(zeroInitVerdict(deepest, ziDiverged, zi.size(), finalLoss(zi), diverged, finalLoss(noneDeep), finalLoss(bnDeep)));
                }
            }
        }
        return out;
    }

    /** Points 1..n of a curve of n means over a run of {@code steps} (the loss curve's x values). */
    private static double[] xsOf(int steps, int n) {
        int every = Math.max(1, steps / n), k = Math.min(n, steps);
        double[] xs = new double[k];
        for (int i = 0; i < k; i++) xs[i] = (i + 1) * every;
        return xs;
    }

    /** Per point of the curve, the spread over seeds (loss or accuracy); a seed whose curve ended early is non-finite there. */
    private static Spread[] curveSpread(List<Cell> sel, boolean loss) {
        int n = 0;
        for (Cell c : sel) n = Math.max(n, loss ? c.outcome().trainLoss().length : c.curve().accuracy().length);
        if (loss) n = Math.max(n, 1);
        Spread[] out = new Spread[n];
        for (int i = 0; i < n; i++) {
            double[] v = new double[sel.size()];
            for (int j = 0; j < sel.size(); j++) {
                double[] c = loss ? sel.get(j).outcome().trainLoss() : sel.get(j).curve().accuracy();
                v[j] = i < c.length ? c[i] : Double.NaN;
            }
            out[i] = Spread.of(v);
        }
        if (loss && out.length < 50) {
            // xsOf gives min(50, steps) x values; pad so lengths agree
            Spread[] padded = new Spread[50];
            for (int i = 0; i < 50; i++) padded[i] = i < out.length ? out[i] : Spread.of(Double.NaN);
            return padded;
        }
        return out;
    }

    /**
     * Rule, on the final training loss of the deepest BN networks (over seeds): HOLDS when post − pre counts by
     * {@link Effect} (beyond 2 s.e., ≥ 3 seeds) and is at least 5 % of post's mean; PARTLY when pre's mean is lower at
     * all; otherwise (or if pre-activation diverged) DOES_NOT_HOLD.
     */
    public static Claim preActivationVerdict(int depth, Spread post, Spread pre) {
        double gap = post.mean() - pre.mean();
        boolean finite = Double.isFinite(pre.mean()) && Double.isFinite(post.mean());
        boolean preOnlyFinite = Double.isFinite(pre.mean()) && !Double.isFinite(post.mean());
        Effect e = Effect.between(post, pre);
        return new Claim("Pre-activation blocks ease optimization of deep residual networks: the deep pre-activation network reaches a lower "
                + "training loss than the original post-activation one.", "He, Zhang, Ren & Sun 2016 (Identity Mappings in Deep Residual Networks), §4, Figures 1 and 6",
                String.format(Locale.ROOT, "final training loss at depth %d with BN: post-activation %s ± %s, pre-activation %s ± %s (gap %+.4f)",
                        depth, RunOutput.num(post.mean()), RunOutput.num(post.sd()), RunOutput.num(pre.mean()), RunOutput.num(pre.sd()), gap),
                preOnlyFinite ? Verdict.HOLDS : Verdict.of(finite && e.shows(0.05 * post.mean()), finite && gap > 0),
                Effect.rule("5 % of post's loss") + "; holds if post − pre is such an effect (or only post-activation diverged), partly if pre's "
                        + "mean is below post's");
    }

    /**
     * Rule, at the deepest depth over both block kinds: HOLDS when an unnormalized run diverged or its final training
     * loss exceeds BN's by at least 25 % of BN's, beyond 2 s.e. over ≥ 3 seeds ({@link Effect}); PARTLY when its mean is
     * higher than BN's at all; otherwise DOES_NOT_HOLD.
     */
    public static Claim noNormVerdict(int depth, int diverged, int runs, Spread none, Spread bn) {
        double ratio = none.mean() / bn.mean();
        return new Claim("Without normalization, deep residual networks at a standard initialization need special care: they explode or "
                + "train much worse than with BatchNorm unless the residual branches are rescaled (Fixup).",
                "Zhang, Dauphin & Ma 2019 (Fixup Initialization), §2 and Table 1; He et al. 2016",
                String.format(Locale.ROOT, "depth %d, both block kinds: %d of %d unnormalized runs diverged; final training loss none %s vs BN %s (ratio %s)",
                        depth, diverged, runs, RunOutput.num(none.mean()), RunOutput.num(bn.mean()), Double.isFinite(ratio) ? RunOutput.num(ratio) : "n/a"),
                Verdict.of(diverged > 0 || Effect.between(none, bn).shows(0.25 * bn.mean()), Double.isFinite(ratio) && ratio > 1),
                Effect.rule("25 % of BN's loss") + "; holds if any unnormalized run diverged or its final training loss exceeds BN's by such an "
                        + "effect, partly if its mean is higher at all");
    }

    /**
     * Rule, at the deepest depth over both block kinds: HOLDS when no zero-initialized unnormalized run diverged and its
     * mean final training loss is within 1.25× BN's while plain unnormalized runs diverged or lag (≥ 1.25× BN's); PARTLY
     * when it diverges less often than the plain ones or, with no divergence either way, reaches a lower loss; otherwise
     * DOES_NOT_HOLD.
     */
    public static Claim zeroInitVerdict(int depth, int ziDiverged, int runs, Spread zi, int noneDiverged, Spread none, Spread bn) {
        double ratio = zi.mean() / bn.mean();
        boolean plainFails = noneDiverged > 0 || Effect.between(none, bn).shows(0.25 * bn.mean());
        boolean strong = ziDiverged == 0 && Double.isFinite(ratio) && ratio <= 1.25 && plainFails;
        boolean weak = ziDiverged < noneDiverged || (ziDiverged == 0 && noneDiverged == 0 && zi.mean() < none.mean());
        return new Claim("The special care that works: starting every residual branch at zero (zero-init of its last layer) lets a deep "
                + "residual network train without normalization.", "Zhang, Dauphin & Ma 2019 (Fixup), §3; De & Smith 2020 (SkipInit)",
                String.format(Locale.ROOT, "depth %d, both block kinds, no norm: %d of %d zero-initialized runs diverged (plain: %d of %d); final training "
                        + "loss zero-init %s, plain %s, BN %s", depth, ziDiverged, runs, noneDiverged, runs, RunOutput.num(zi.mean()),
                        RunOutput.num(none.mean()), RunOutput.num(bn.mean())),
                Verdict.of(strong, weak),
                "holds if no zero-init run diverged, its mean loss ≤ 1.25× BN's and plain no-norm runs diverged or their loss exceeds BN's by 25 % "
                        + "of it (beyond 2 s.e. over ≥ 3 seeds); partly if "
                        + "zero-init diverges less often than plain, or neither diverges and zero-init's loss is lower");
    }
}
