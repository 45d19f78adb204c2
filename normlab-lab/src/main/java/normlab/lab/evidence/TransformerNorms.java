package normlab.lab.evidence;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import normlab.data.Dataset;
import normlab.models.Vit;
import normlab.nn.CrossEntropyLoss;
import normlab.norm.LayerNorm;
import normlab.norm.RMSNorm;
import normlab.optim.Adam;
import normlab.optim.LinearWarmup;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.transformer.TransformerEncoderLayer;
import normlab.transformer.TransformerEncoderLayer.Norm;
import normlab.transformer.VisionTransformer;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.XYChart;

/**
 * Normalization in Transformers, on a small ViT ({@link Vit}: Fashion-MNIST, 7×7 patches = 16 tokens, mean-pool head,
 * GELU MLP, Adam): post-LN vs pre-LN vs pre-RMSNorm vs pre-BatchNorm, at two depths, with and without a linear
 * learning-rate warm-up ({@link LinearWarmup}, the first 10 % of the steps). Measured:
 * <ul>
 *   <li>test accuracy after a fixed step budget (Xiong et al. 2020: post-LN needs the warm-up, pre-LN does not);</li>
 *   <li>the gradient norm of each layer's FFN output weight ({@code linear2.weight}, their W²) at initialization,
 *       one batch per seed (their Fig. 3: post-LN's grow toward the output, pre-LN's do not);</li>
 *   <li>the cost of the normalization alone (forward + backward on the (batch·tokens, dim) activations, fastest of
 *       interleaved rounds) and the median training step, LayerNorm vs RMSNorm (Zhang &amp; Sennrich 2019);</li>
 *   <li>pre-BN as a contrast (Shen et al. 2020: BatchNorm inside Transformers lags LayerNorm).</li>
 * </ul>
 * Post-LN and pre-LN run with and without warm-up at every learning rate; pre-RMSNorm and pre-BN without.
 */
public final class TransformerNorms extends Evidence<TransformerNorms.Params, TransformerNorms.Measured> {
    public static final String NAME = "transformer";

    /**
     * @param warmupFraction the warm-up's share of the steps (runs "with warm-up")
     * @param initBatch      the batch of the gradient norms at initialization
     */
    public record Params(int dim, int heads, int mlp, int[] depths, double[] lrs, double warmupFraction, int steps, int batch,
                         int trainSize, int testSize, int initBatch, int timingReps) {
        public static Params of(boolean quick) {
            return quick ? new Params(16, 2, 32, new int[] {2, 4}, new double[] {3e-3}, 0.1, 60, 32, 2_000, 500, 32, 15)
                    : new Params(64, 4, 128, new int[] {6, 12}, new double[] {1e-3, 3e-3}, 0.1, 3_000, 64, 0, 10_000, 64, 25);
        }

        int warmupSteps() {
            return (int) Math.round(steps * warmupFraction);
        }
    }

    /** A norm placement and type: post-LN, pre-LN, pre-RMSNorm, pre-BN. */
    public enum Arch {
        POST_LN("post-LN", false, Norm.LAYER_NORM), PRE_LN("pre-LN", true, Norm.LAYER_NORM),
        PRE_RMS("pre-RMSNorm", true, Norm.RMS_NORM), PRE_BN("pre-BN", true, Norm.BATCH_NORM);

        public final String label;
        public final boolean normFirst;
        public final Norm norm;

        Arch(String label, boolean normFirst, Norm norm) {
            this.label = label;
            this.normFirst = normFirst;
            this.norm = norm;
        }

        /** Whether the sweep runs it with warm-up too (the placements the warm-up question is about). */
        boolean warmupSwept() {
            return this == POST_LN || this == PRE_LN;
        }
    }

    /** One training run's setting. */
    public record Setting(Arch arch, int depth, double lr, boolean warmup) {}

    /** One training run's setting and outcome. */
    public record Cell(Setting setting, long seed, Runs.Outcome outcome) {}

    /** Per-layer gradient norms of linear2.weight at initialization, one model per (arch, depth, seed). */
    public record InitNorms(Arch arch, int depth, long seed, double[] perLayer) {}

    /** Everything training and measuring leave: runs, initial gradient norms, LN and RMSNorm layer times in seconds. */
    public record Measured(Runs.Results<Cell> runs, List<InitNorms> init, Timing normCost) {
        /** LayerNorm's fastest round, seconds. */
        public double lnSeconds() {
            return normCost.min(0);
        }

        /** RMSNorm's fastest round, seconds. */
        public double rmsSeconds() {
            return normCost.min(1);
        }
    }

    public TransformerNorms() {
        super(NAME, "Transformers: norm placement, warm-up, RMSNorm",
                "small ViT on Fashion-MNIST: post-LN vs pre-LN vs pre-RMSNorm vs pre-BN, depth and warm-up",
                "Normalization in Transformers: a small ViT (7×7 patches, 16 tokens) on Fashion-MNIST with post-LN, pre-LN, pre-RMSNorm "
                        + "and pre-BN blocks at two depths, Adam with and without linear warm-up; test accuracy, per-layer gradient norms "
                        + "at initialization (Xiong et al. 2020, Fig. 3) and the cost of LayerNorm vs RMSNorm. Full run: width 64, "
                        + "depths 6 and 12, 3000 steps of 64, lr 1e-3 and 3e-3 (about 4 h on 2 idle cores at 3 seeds); --quick: width 16, "
                        + "depths 2 and 4, 60 steps on 2000 images, lr 3e-3 (about 35 s of CPU at 3 seeds).", Params::of);
    }

    static VisionTransformer model(Params p, Arch a, int depth, Rng rng) {
        return Vit.mnist().dim(p.dim()).heads(p.heads()).mlpDim(p.mlp()).depth(depth).normFirst(a.normFirst).norm(a.norm).build(rng);
    }

    /** The settings of the sweep: depth outer, then learning rate, architecture, warm-up. */
    static List<Setting> settings(Params p) {
        List<Setting> out = new ArrayList<>();
        for (int d : p.depths()) {
            for (double lr : p.lrs()) {
                for (Arch a : Arch.values()) {
                    out.add(new Setting(a, d, lr, false));
                    if (a.warmupSwept()) out.add(new Setting(a, d, lr, true));
                }
            }
        }
        return out;
    }

    @Override
    public Measured train(Params p, Settings s) throws IOException {
        Dataset train = Runs.data("fashion", true, p.trainSize()), test = Runs.data("fashion", false, p.testSize());
        Runs.Results<Cell> runs = Runs.sweep(train, test, settings(p), s, (st, seed) -> {
            Rng root = new Rng(seed);
            Rng init = root.split(), shuffle = root.split();
            VisionTransformer m = model(p, st.arch(), st.depth(), init);
            Adam opt = new Adam(m.parameters(), st.lr());
            LinearWarmup w = new LinearWarmup(st.lr(), st.warmup() ? p.warmupSteps() : 0);
            Runs.Outcome o = Runs.train(m, opt, train, test, p.steps(), p.batch(), shuffle, true, step -> opt.setLr(w.lr(step)));
            s.say("  transformer %-11s depth %-2d lr %-6s %-10s seed %d: %s, accuracy %.4f", st.arch().label, st.depth(),
                    RunOutput.num(st.lr()), st.warmup() ? "warm-up" : "no warm-up", seed, o.status().text, o.accuracy());
            return new Cell(st, seed, o);
        });
        List<InitNorms> init = new ArrayList<>();
        for (int d : p.depths()) {
            for (Arch a : Arch.values()) for (long seed : s.seeds()) init.add(new InitNorms(a, d, seed, initGradNorms(p, a, d, seed, train)));
        }
        return new Measured(runs, init, normCost(p));
    }

    /**
     * ‖∂L/∂W²‖ (Frobenius norm of linear2.weight's gradient) of every layer, in order, for the model of {@code seed} at
     * initialization on one training batch (the first {@code initBatch} images after a seeded shuffle), cross-entropy loss.
     */
    static double[] initGradNorms(Params p, Arch a, int depth, long seed, Dataset train) {
        Rng root = new Rng(seed);
        VisionTransformer m = model(p, a, depth, root.split());
        int[] idx = Dataset.range(0, train.n);
        root.split().shuffle(idx);
        idx = Arrays.copyOf(idx, Math.min(p.initBatch(), train.n));
        CrossEntropyLoss ce = new CrossEntropyLoss();
        m.train();
        ce.forward(m.forward(train.batchFlat(idx)), train.labels(idx));
        m.backward(ce.backward());
        double[] out = new double[depth];
        for (int l = 0; l < depth; l++) {
            float[] g = ((TransformerEncoderLayer) m.layers.get(l)).linear2.weight.grad.data;
            double ss = 0;
            for (float v : g) ss += (double) v * v;
            out[l] = Math.sqrt(ss);
        }
        return out;
    }

    /** Forward + backward of LayerNorm (task 0) and RMSNorm (task 1) over (batch·tokens, dim), in interleaved rounds. */
    static Timing normCost(Params p) {
        int rows = p.batch() * 16;
        Rng r = new Rng(7);
        Tensor x = Tensor.zeros(rows, p.dim()), dy = Tensor.zeros(rows, p.dim());
        for (int i = 0; i < x.numel(); i++) {
            x.data[i] = (float) r.nextGaussian();
            dy.data[i] = (float) r.nextGaussian();
        }
        LayerNorm ln = new LayerNorm(p.dim());
        RMSNorm rms = new RMSNorm(new int[] {p.dim()}, 1e-5, true);
        int old = normlab.kernels.Parallel.setThreads(1);
        try {
            List<Runnable> tasks = List.of(() -> {
                ln.forward(x);
                ln.backward(dy);
            }, () -> {
                rms.forward(x);
                rms.backward(dy);
            });
            return Timing.interleaved(tasks, p.timingReps());
        } finally {
            normlab.kernels.Parallel.setThreads(old);
        }
    }

    @Override
    public RunOutput publish(Params p, Settings s, Measured m) {
        List<Cell> cells = m.runs().runs();
        RunOutput out = output(s, m.runs(), "fashion",
                "model", "ViT: 7×7 patches (16 tokens), width " + p.dim() + ", " + p.heads() + " heads, MLP " + p.mlp()
                        + " (GELU), mean-pool head, dropout 0",
                "optimizer", "Adam (β 0.9, 0.999), no weight decay", "depths", Arrays.toString(p.depths()), "lrs", Arrays.toString(p.lrs()),
                "warmup_steps", p.warmupSteps(), "steps", p.steps(), "batch", p.batch());
        out.table("runs.csv", "arch", "depth", "lr", "warmup_steps", "seed", "status", "steps_done", "test_accuracy", "test_loss",
                "seconds_per_step");
        for (Cell c : cells) {
            Setting st = c.setting();
            out.row("runs.csv", st.arch().label, st.depth(), st.lr(), st.warmup() ? p.warmupSteps() : 0, c.seed(), c.outcome().status().text,
                    c.outcome().steps(), c.outcome().accuracy(), c.outcome().testLoss(), c.outcome().secondsPerStep());
        }
        out.table("init_grad_norms.csv", "arch", "depth", "layer", "seed", "grad_norm_linear2_weight");
        for (InitNorms n : m.init()) {
            for (int l = 0; l < n.perLayer().length; l++) out.row("init_grad_norms.csv", n.arch().label, n.depth(), l + 1, n.seed(), n.perLayer()[l]);
        }
        out.table("norm_cost.csv", "norm", "rows", "dim", "seconds_forward_backward");
        out.row("norm_cost.csv", "LayerNorm", p.batch() * 16, p.dim(), m.lnSeconds());
        out.row("norm_cost.csv", "RMSNorm", p.batch() * 16, p.dim(), m.rmsSeconds());

        double top = Arrays.stream(p.lrs()).max().orElseThrow();
        int k = p.depths().length;
        Spread[] postNo = new Spread[k], postWarm = new Spread[k], preNo = new Spread[k], preWarm = new Spread[k];
        double[] postRatio = new double[k], preRatio = new double[k];
        for (int i = 0; i < k; i++) {
            int d = p.depths()[i];
            postNo[i] = acc(cells, Arch.POST_LN, d, top, false);
            postWarm[i] = acc(cells, Arch.POST_LN, d, top, true);
            preNo[i] = acc(cells, Arch.PRE_LN, d, top, false);
            preWarm[i] = acc(cells, Arch.PRE_LN, d, top, true);
            postRatio[i] = growth(meanNorms(m.init(), Arch.POST_LN, d));
            preRatio[i] = growth(meanNorms(m.init(), Arch.PRE_LN, d));
        }
        // LN vs RMSNorm and LN vs BN: every depth and learning rate, without warm-up.
        List<Double> ln = new ArrayList<>(), rms = new ArrayList<>(), bn = new ArrayList<>(), lnStep = new ArrayList<>(), rmsStep = new ArrayList<>();
        for (Cell c : cells) {
            if (c.setting().warmup()) continue;
            double a = c.outcome().accuracy();
            switch (c.setting().arch()) {
                case PRE_LN -> {
                    ln.add(a);
                    lnStep.add(c.outcome().secondsPerStep());
                }
                case PRE_RMS -> {
                    rms.add(a);
                    rmsStep.add(c.outcome().secondsPerStep());
                }
                case PRE_BN -> bn.add(a);
                default -> { }
            }
        }
        charts(out, p, s, cells, m.init(), top);
        for (int i = 0; i < k; i++) {
            String d = "depth" + p.depths()[i];
            out.results.addProperty(d + "_post_ln_no_warmup_accuracy", postNo[i].mean());
            out.results.addProperty(d + "_post_ln_warmup_accuracy", postWarm[i].mean());
            out.results.addProperty(d + "_pre_ln_no_warmup_accuracy", preNo[i].mean());
            out.results.addProperty(d + "_pre_ln_warmup_accuracy", preWarm[i].mean());
            out.results.addProperty(d + "_post_ln_init_grad_growth", postRatio[i]);
            out.results.addProperty(d + "_pre_ln_init_grad_growth", preRatio[i]);
        }
        out.results.addProperty("layernorm_seconds", m.lnSeconds());
        out.results.addProperty("rmsnorm_seconds", m.rmsSeconds());
        out.claim(warmupVerdict(p.depths(), top, postNo, postWarm, preNo, preWarm));
        out.claim(gradNormVerdict(p.depths(), postRatio, preRatio));
        out.claim(rmsVerdict(Spread.of(ln), Spread.of(rms), m.normCost().seconds()[0], m.normCost().seconds()[1], median(lnStep), median(rmsStep)));
        out.claim(bnVerdict(Spread.of(ln), Spread.of(bn)));
        return out;
    }

    private static double median(List<Double> xs) {
        return xs.isEmpty() ? Double.NaN : Zoo.median(xs.stream().mapToDouble(Double::doubleValue).toArray());
    }

    static Spread acc(List<Cell> cells, Arch a, int depth, double lr, boolean warmup) {
        return Runs.accuracy(cells.stream().filter(c -> c.setting().arch() == a && c.setting().depth() == depth && c.setting().lr() == lr
                && c.setting().warmup() == warmup).map(Cell::outcome).toList());
    }

    /** Per-layer mean over seeds of the initial gradient norms of (arch, depth). */
    static double[] meanNorms(List<InitNorms> init, Arch a, int depth) {
        double[] sum = new double[depth];
        int n = 0;
        for (InitNorms x : init) {
            if (x.arch() != a || x.depth() != depth) continue;
            for (int l = 0; l < depth; l++) sum[l] += x.perLayer()[l];
            n++;
        }
        for (int l = 0; l < depth; l++) sum[l] /= Math.max(1, n);
        return sum;
    }

    /** Last layer's gradient norm over the first layer's. */
    static double growth(double[] perLayer) {
        return perLayer[perLayer.length - 1] / perLayer[0];
    }

    private static void charts(RunOutput out, Params p, Settings s, List<Cell> cells, List<InitNorms> init, double top) {
        for (int d : p.depths()) {
            List<String> names = new ArrayList<>();
            List<Number> mean = new ArrayList<>(), sd = new ArrayList<>();
            for (Arch a : Arch.values()) {
                for (boolean w : a.warmupSwept() ? new boolean[] {false, true} : new boolean[] {false}) {
                    Spread sp = acc(cells, a, d, top, w);
                    names.add(a.label + (w ? " + warm-up" : ""));
                    mean.add(Double.isFinite(sp.mean()) ? sp.mean() : 0);
                    sd.add(Double.isFinite(sp.sd()) ? sp.sd() : 0);
                }
            }
            CategoryChart c = Charts.bars("Test accuracy, depth " + d + ", lr " + RunOutput.num(top) + ", " + p.steps() + " steps", "test accuracy");
            c.addSeries("accuracy", names, mean, sd).setFillColor(Charts.PALETTE.get(0));
            out.chart("accuracy_depth" + d, "Test accuracy at the highest learning rate, depth " + d + ", mean ± s.d. over "
                    + s.seeds().size() + " seeds.", c);
            XYChart g = Charts.xy("Gradient norm of each layer's W² at initialization, depth " + d, "layer", "‖∂L/∂W²‖", false);
            double[] xs = new double[d];
            for (int l = 0; l < d; l++) xs[l] = l + 1;
            int i = 0;
            for (Arch a : Arch.values()) {
                Spread[] ys = new Spread[d];
                for (int l = 0; l < d; l++) {
                    final int layer = l;
                    ys[l] = Spread.of(init.stream().filter(x -> x.arch() == a && x.depth() == d).mapToDouble(x -> x.perLayer()[layer]).toArray());
                }
                Charts.series(g, a.label, xs, ys, i++, false);
            }
            out.chart("init_grad_norms_depth" + d, "Frobenius norm of the gradient of linear2.weight (the FFN's W²) per layer at "
                    + "initialization, one batch of " + p.initBatch() + ", mean ± s.d. over seeds (Xiong et al. 2020, Fig. 3).", g);
        }
    }

    /**
     * Rule, at the highest learning rate: HOLDS when at every depth post-LN without warm-up ends ≥ 3 points below post-LN
     * with warm-up while pre-LN's gap (with minus without) is at least 2 points smaller than post-LN's, both counting by
     * {@link Effect} (beyond 2 s.e. over ≥ 3 seeds); PARTLY when post-LN's mean gap exceeds pre-LN's at some depth;
     * otherwise DOES_NOT_HOLD.
     */
    public static Claim warmupVerdict(int[] depths, double lr, Spread[] postNo, Spread[] postWarm, Spread[] preNo, Spread[] preWarm) {
        boolean all = true, some = false;
        StringBuilder m = new StringBuilder();
        for (int i = 0; i < depths.length; i++) {
            Effect postGap = Effect.between(postWarm[i], postNo[i]), preGap = Effect.between(preWarm[i], preNo[i]);
            all &= postGap.shows(0.03) && postGap.minus(preGap).shows(0.02);
            some |= postGap.diff() > preGap.diff();
            if (i > 0) m.append("; ");
            m.append(String.format(Locale.ROOT, "depth %d: post-LN %s without vs %s with warm-up, pre-LN %s vs %s", depths[i],
                    RunOutput.pct(postNo[i]), RunOutput.pct(postWarm[i]), RunOutput.pct(preNo[i]), RunOutput.pct(preWarm[i])));
        }
        m.append(" (test accuracy at lr ").append(RunOutput.num(lr)).append(")");
        return new Claim("Post-LN Transformers need a learning-rate warm-up (without it they fail or lag at higher rates); "
                + "pre-LN ones train well without it.", "Xiong et al. 2020, §3 and §4", m.toString(), Verdict.of(all, some),
                Effect.rule("the minimum given") + "; holds if at every depth post-LN gains ≥ 3 points from warm-up and pre-LN gains at "
                        + "least 2 points less; partly if post-LN's mean gain exceeds pre-LN's at some depth");
    }

    /**
     * Rule: growth = ‖∂L/∂W²‖ of the last layer over the first (mean over seeds). HOLDS when at every depth post-LN's
     * growth is ≥ 1.5 and pre-LN's ≤ 1.2; PARTLY when post-LN's exceeds pre-LN's at every depth; otherwise DOES_NOT_HOLD.
     */
    public static Claim gradNormVerdict(int[] depths, double[] postGrowth, double[] preGrowth) {
        boolean all = true, above = true;
        StringBuilder m = new StringBuilder();
        for (int i = 0; i < depths.length; i++) {
            all &= postGrowth[i] >= 1.5 && preGrowth[i] <= 1.2;
            above &= postGrowth[i] > preGrowth[i];
            if (i > 0) m.append("; ");
            m.append(String.format(Locale.ROOT, "depth %d: last/first layer ×%.2f post-LN, ×%.2f pre-LN", depths[i], postGrowth[i], preGrowth[i]));
        }
        m.append(" (gradient norm of the FFN's W² at initialization)");
        return new Claim("At initialization, post-LN's gradient norms grow toward the output layers; pre-LN's stay flat.",
                "Xiong et al. 2020, Fig. 3 and Theorem 1", m.toString(), Verdict.of(all, above),
                "holds if at every depth the last/first ratio is ≥ 1.5 for post-LN and ≤ 1.2 for pre-LN; partly if post-LN's ratio "
                        + "exceeds pre-LN's at every depth");
    }

    /**
     * Rule: HOLDS when pre-RMSNorm's mean accuracy is within 1 point of pre-LN's (or above) and the RMSNorm layer is ≥ 10 %
     * cheaper than LayerNorm's, the saving per interleaved round (1 − t_RMS/t_LN) counting by {@link Effect} over the
     * rounds; PARTLY when one of the two holds; otherwise DOES_NOT_HOLD.
     */
    public static Claim rmsVerdict(Spread ln, Spread rms, double[] lnSeconds, double[] rmsSeconds, double lnStep, double rmsStep) {
        boolean accurate = rms.mean() >= ln.mean() - 0.01;
        Effect saving = Effect.paired(Timing.savings(lnSeconds, rmsSeconds));
        boolean cheaper = saving.shows(0.10);
        String m = String.format(Locale.ROOT, "test accuracy pre-LN %s, pre-RMSNorm %s (every depth and lr, no warm-up); "
                        + "norm forward + backward %.3f ms vs %.3f ms (fastest of %d interleaved rounds; saving per round %.1f ± %.1f %%, mean ± s.e.); "
                        + "median training step %.1f ms vs %.1f ms",
                RunOutput.pct(ln), RunOutput.pct(rms), Spread.of(lnSeconds).min() * 1e3, Spread.of(rmsSeconds).min() * 1e3, lnSeconds.length,
                100 * saving.diff(), 100 * saving.se(), lnStep * 1e3, rmsStep * 1e3);
        return new Claim("RMSNorm matches LayerNorm's accuracy at lower cost.", "Zhang & Sennrich 2019 (RMSNorm)", m,
                Verdict.of(accurate && cheaper, accurate || cheaper),
                "holds if pre-RMSNorm is within 1 point of pre-LN's accuracy and its norm layer ≥ 10 % cheaper (the per-round saving over "
                        + "interleaved rounds counts: mean > 2 s.e., ≥ 3 rounds); partly if one of the two");
    }

    /** Rule: HOLDS when pre-LN − pre-BN accuracy counts at ≥ 2 points ({@link Effect}); PARTLY when pre-BN's mean is below at all. */
    public static Claim bnVerdict(Spread ln, Spread bn) {
        Effect gap = Effect.between(ln, bn);
        return new Claim("BatchNorm inside Transformer blocks does worse than LayerNorm.", "Shen et al. 2020 (PowerNorm), §3",
                String.format(Locale.ROOT, "test accuracy pre-LN %s, pre-BN %s (every depth and lr, no warm-up): pre-LN ahead by %s", RunOutput.pct(ln),
                        RunOutput.pct(bn), gap.points()),
                Verdict.of(gap.shows(0.02), gap.diff() > 0),
                Effect.rule("2 points") + "; holds if pre-BN is below pre-LN by such an effect; partly if its mean is below at all");
    }
}
