package normlab.lab.evidence;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import normlab.data.Dataset;
import normlab.infer.Fold;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.models.SmallCnn;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.train.Trainer;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategorySeries;

/**
 * The normalization zoo on one network: the small CNN on Fashion-MNIST with every normalization of the library,
 * same steps, batch, optimizer and seeds. Measured: test accuracy; median time of a training step; inference time
 * per image (evaluation forward in batches of 256) as is and, where the norm folds into the convolution before it,
 * folded ({@link Fold}); and the cost of the normalization layer alone (forward + backward on the first layer's
 * activations), RMSNorm against LayerNorm (Zhang &amp; Sennrich 2019 report 7–64 % savings). Timings are single
 * threaded after training, the fastest of interleaved rounds; training step times are medians while runs share the cores.
 */
public final class Zoo extends Evidence<Zoo.Params, Zoo.Measured> {
    public static final String NAME = "zoo";
    public static final List<SmallCnn.Norm> NORMS = List.of(SmallCnn.Norm.values());

    public record Params(int steps, int batch, double lr, int trainSize, int testSize, int timingReps) {
        public static Params of(boolean quick) {
            return quick ? new Params(60, 32, 0.02, 4_096, 1_000, 15) : new Params(1_500, 32, 0.02, 0, 10_000, 25);
        }
    }

    public record Cell(SmallCnn.Norm norm, long seed, Runs.Outcome outcome, Sequential model) {}

    static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    /** Each task's fastest time in seconds over interleaved rounds ({@link Timing#interleaved}). */
    static double[] interleavedMin(List<Runnable> tasks, int rounds) {
        return Timing.interleaved(tasks, rounds).mins();
    }

    /** An evaluation forward of {@code model} over {@code x}. */
    static Runnable inference(Module model, Tensor x) {
        model.eval();
        return () -> model.forward(x);
    }

    /** Forward + backward of the norm layer alone on a (32, 8, 28, 28) input in training mode; null for NONE. */
    static Runnable layerStep(SmallCnn.Norm norm) {
        Module m = norm.make(8, 28, 28);
        if (m == null) return null;
        m.train();
        Rng rng = new Rng(7);
        Tensor x = Tensor.zeros(32, 8, 28, 28), dy = Tensor.zeros(32, 8, 28, 28);
        for (int i = 0; i < x.data.length; i++) {
            x.data[i] = (float) rng.nextGaussian();
            dy.data[i] = (float) rng.nextGaussian();
        }
        return () -> {
            m.forward(x);
            m.backward(dy);
        };
    }

    /** The trained models and their timings: per norm, inference as is, inference folded (where it folds), the layer alone. */
    public record Measured(Runs.Results<Cell> runs, Timing timing, List<Module> foldedModels, int imagesTimed) {
        /** Every task's fastest round. */
        public double[] times() {
            return timing.mins();
        }
    }

    public Zoo() {
        super(NAME, "The normalization zoo on one CNN", "every normalization on the CNN: accuracy, step and inference time, folding",
                "Every normalization on the small CNN: accuracy, time per step, inference time with folding, RMSNorm vs LayerNorm cost.",
                Params::of);
    }

    @Override
    public Measured train(Params p, Settings s) throws IOException {
        Dataset train = Runs.data("fashion", true, p.trainSize()), test = Runs.data("fashion", false, p.testSize());
        Runs.Recipe r = new Runs.Recipe(p.lr(), 0.9, p.steps(), p.batch(), false);
        return measure(p, Runs.sweep(train, test, NORMS, s, (norm, seed) -> {
            Runs.Trained t = Runs.train(seed, init -> Runs.cnn(norm, p.steps(), init), r, train, test);
            Runs.Outcome o = t.outcome();
            s.say("  zoo %-15s seed %d: %s, accuracy %.4f, %.1f ms/step", norm.label(), seed, o.status().text, o.accuracy(),
                    1e3 * o.secondsPerStep());
            return new Cell(norm, seed, o, t.model());
        }));
    }

    /**
     * Timing, single threaded: every model's inference (as is, then folded where it folds) and every norm layer alone,
     * in interleaved rounds.
     */
    static Measured measure(Params p, Runs.Results<Cell> runs) {
        List<Cell> cells = runs.runs();
        Dataset test = runs.test();
        int b = Math.min(256, test.n);
        Tensor x = test.batch(Dataset.range(0, b));
        List<Runnable> timed = new ArrayList<>();
        List<Module> foldedModels = new ArrayList<>();
        for (SmallCnn.Norm norm : NORMS) {
            Sequential m = cells.stream().filter(c -> c.norm() == norm).findFirst().orElseThrow().model();
            timed.add(inference(m, x));
            Module f = norm != SmallCnn.Norm.NONE && Fold.isFoldableNorm(norm.make(8, 28, 28)) ? Fold.fold(m) : null;
            foldedModels.add(f);
            timed.add(f == null ? () -> { } : inference(f, x));
            Runnable l = layerStep(norm);
            timed.add(l == null ? () -> { } : l);
        }
        int oldThreads = normlab.kernels.Parallel.setThreads(1);
        try {
            return new Measured(runs, Timing.interleaved(timed, p.timingReps()), foldedModels, b);
        } finally {
            normlab.kernels.Parallel.setThreads(oldThreads);
        }
    }

    @Override
    public RunOutput publish(Params p, Settings s, Measured measured) {
        List<Cell> cells = measured.runs().runs();
        Dataset test = measured.runs().test();
        double[] times = measured.times();
        List<Module> foldedModels = measured.foldedModels();
        int b = measured.imagesTimed();
        RunOutput out = output(s, measured.runs(), "fashion-mnist",
                "model", "small CNN: conv3×3(8)-norm-ReLU-pool-conv3×3(16)-norm-ReLU-pool-linear",
                "optimizer", "SGD momentum 0.9, lr " + p.lr(), "steps", p.steps(), "batch", p.batch(),
                "timing", "fastest of " + p.timingReps() + " interleaved rounds, one thread, after training");
        out.table("runs.csv", "norm", "seed", "status", "test_accuracy", "ms_per_train_step");
        for (Cell c : cells) {
            out.row("runs.csv", c.norm().label(), c.seed(), c.outcome().status().text, c.outcome().accuracy(), 1e3 * c.outcome().secondsPerStep());
        }
        out.table("norms.csv", "norm", "accuracy_mean", "accuracy_sd", "ms_per_train_step", "us_per_image_inference",
                "us_per_image_inference_folded", "folded_accuracy", "ms_norm_layer_fwd_bwd");
        List<String> names = new ArrayList<>();
        List<Double> accM = new ArrayList<>(), accE = new ArrayList<>(), stepMs = new ArrayList<>(), inf = new ArrayList<>(), layer = new ArrayList<>();
        double bnFolded = Double.NaN, bnAcc = Double.NaN, bnFoldedAcc = Double.NaN;
        double[] lnRounds = null, rmsRounds = null, noneRounds = null, bnRounds = null, foldedRounds = null;
        for (int ni = 0; ni < NORMS.size(); ni++) {
            SmallCnn.Norm norm = NORMS.get(ni);
            List<Cell> cs = cells.stream().filter(c -> c.norm() == norm).toList();
            Spread a = Spread.of(cs.stream().mapToDouble(c -> c.outcome().accuracy()).toArray());
            double step = Spread.of(cs.stream().mapToDouble(c -> c.outcome().secondsPerStep()).toArray()).mean();
            Sequential m = cs.get(0).model();
            Module folded = foldedModels.get(ni);
            double ti = times[3 * ni] / b;
            double tf = folded == null ? Double.NaN : times[3 * ni + 1] / b;
            double fa = folded == null ? Double.NaN : Trainer.evaluate(folded, test, false, null, 200).accuracy();
            double tl = norm == SmallCnn.Norm.NONE ? 0 : times[3 * ni + 2];
            String n = norm.label();
            out.row("norms.csv", n, a.mean(), a.sd(), 1e3 * step, 1e6 * ti, 1e6 * tf, fa, 1e3 * tl);
            names.add(n);
            accM.add(a.mean());
            accE.add(a.sd());
            stepMs.add(1e3 * step);
            inf.add(1e6 * ti);
            layer.add(1e3 * tl);
            out.results.addProperty(n + " accuracy_mean", a.mean());
            out.results.addProperty(n + " ms_per_step", 1e3 * step);
            out.results.addProperty(n + " us_per_image_inference", 1e6 * ti);
            if (Double.isFinite(tf)) out.results.addProperty(n + " us_per_image_inference_folded", 1e6 * tf);
            switch (norm.name()) { // the constants of SmallCnn.Norm
                case "NONE" -> noneRounds = perImage(measured.timing().seconds()[3 * ni], b);
                case "BN" -> {
                    bnRounds = perImage(measured.timing().seconds()[3 * ni], b);
                    foldedRounds = perImage(measured.timing().seconds()[3 * ni + 1], b);
                    bnFolded = tf;
                    bnAcc = Trainer.evaluate(m, test, false, null, 200).accuracy();
                    bnFoldedAcc = fa;
                }
                case "LN" -> lnRounds = measured.timing().seconds()[3 * ni + 2];
                case "RMS" -> rmsRounds = measured.timing().seconds()[3 * ni + 2];
                default -> { }
            }
            s.say("  zoo %-15s accuracy %.4f, %.1f ms/step, inference %.1f µs/image%s, layer %.2f ms", n, a.mean(), 1e3 * step, 1e6 * ti,
                    Double.isFinite(tf) ? String.format(Locale.ROOT, " (folded %.1f)", 1e6 * tf) : "", 1e3 * tl);
        }
        charts(out, p, s, names, accM, accE, stepMs, inf, layer);
        out.claim(rmsVerdict(lnRounds, rmsRounds));
        if (Double.isFinite(bnFolded)) out.claim(foldVerdict(noneRounds, bnRounds, foldedRounds, bnAcc, bnFoldedAcc));
        return out;
    }

    static double[] perImage(double[] batchSeconds, int b) {
        return java.util.Arrays.stream(batchSeconds).map(t -> t / b).toArray();
    }

    /** The four bar charts: accuracy, training step time, inference time, the norm layer alone. */
    static void charts(RunOutput out, Params p, Settings s, List<String> names, List<Double> accM, List<Double> accE, List<Double> stepMs,
                       List<Double> inf, List<Double> layer) {
        CategoryChart ca = Charts.bars("Test accuracy after " + p.steps() + " steps", "test accuracy");
        CategorySeries sa = ca.addSeries("accuracy", names, accM, accE);
        sa.setFillColor(Charts.PALETTE.get(0));
        out.chart("zoo_accuracy", "Test accuracy per normalization, mean ± s.d. over " + s.seeds().size() + " seeds.", ca);
        CategoryChart ct = Charts.bars("Median training step time (batch " + p.batch() + ")", "ms per step");
        ct.addSeries("ms", names, stepMs).setFillColor(Charts.PALETTE.get(1));
        out.chart("zoo_step_time", "Median time of one training step (forward, backward, SGD) per normalization.", ct);
        CategoryChart ci = Charts.bars("Inference time per image (batch 256)", "µs per image");
        ci.addSeries("µs", names, inf).setFillColor(Charts.PALETTE.get(2));
        out.chart("zoo_inference", "Inference time per image, unfolded; see norms.csv for the folded times.", ci);
        CategoryChart cl = Charts.bars("Normalization layer alone: forward + backward on (32, 8, 28, 28)", "ms");
        cl.addSeries("ms", names, layer).setFillColor(Charts.PALETTE.get(3));
        out.chart("zoo_layer_time", "Forward + backward time of the normalization layer alone (median).", cl);
    }

    /**
     * Rule on the layer alone, per interleaved round r: saving_r = 1 − t_RMS,r/t_LN,r. HOLDS when the saving counts at ≥ 7 %
     * (mean over rounds beyond 2 s.e., ≥ 3 rounds: {@link Effect}), PARTLY when it counts at all (&gt; 0), otherwise DOES_NOT_HOLD.
     */
    public static Claim rmsVerdict(double[] ln, double[] rms) {
        Effect saving = Effect.paired(Timing.savings(ln, rms));
        return new Claim("RMSNorm is cheaper than LayerNorm (it skips the mean): 7–64 % less time.", "Zhang & Sennrich 2019 (RMSNorm), §6",
                String.format(Locale.ROOT, "normalization layer forward + backward, fastest of %d interleaved rounds: LayerNorm %.3f ms, RMSNorm %.3f ms; "
                                + "saving per round %.1f ± %.1f %% (mean ± s.e.)", ln.length, 1e3 * Spread.of(ln).min(), 1e3 * Spread.of(rms).min(),
                        100 * saving.diff(), 100 * saving.se()),
                Verdict.of(saving.shows(0.07), saving.shows(0)),
                "saving_r = 1 − t_RMS/t_LN in interleaved round r; " + Effect.RULE.replace("seeds", "rounds") + "; holds if the mean saving counts and is ≥ 7 %, "
                        + "partly if it counts at all");
    }

    /**
     * Rule, per interleaved round: HOLDS when folded BN's accuracy equals the unfolded model's within 0.1 point and its
     * inference is shown within 10 % of the network without normalization (0.10 − (t_folded/t_none − 1) counts, &gt; 0);
     * PARTLY when folding is shown faster than unfolded BN (1 − t_folded/t_BN counts); otherwise DOES_NOT_HOLD.
     */
    public static Claim foldVerdict(double[] none, double[] bn, double[] folded, double acc, double foldedAcc) {
        boolean same = Math.abs(acc - foldedAcc) <= 0.001;
        double[] margin = Timing.savings(none, folded);
        for (int r = 0; r < margin.length; r++) margin[r] += 0.10; // 0.10 − (folded/none − 1)
        Effect within = Effect.paired(margin), faster = Effect.paired(Timing.savings(bn, folded));
        return new Claim("At inference BN is a fixed affine map that can be folded into the preceding layer, removing its cost.",
                "Ioffe & Szegedy 2015, §3.1 (Algorithm 2)",
                String.format(Locale.ROOT, "µs per image (fastest of %d interleaved rounds): no norm %s, BN %s, BN folded %s; "
                                + "folded vs no norm %+.1f ± %.1f %%, folded vs BN %+.1f ± %.1f %% (per round, mean ± s.e.); accuracy %s unfolded vs %s folded",
                        none.length, RunOutput.num(1e6 * Spread.of(none).min()), RunOutput.num(1e6 * Spread.of(bn).min()),
                        RunOutput.num(1e6 * Spread.of(folded).min()), 100 * (0.10 - within.diff()), 100 * within.se(), -100 * faster.diff(),
                        100 * faster.se(), RunOutput.pct(acc), RunOutput.pct(foldedAcc)),
                Verdict.of(same && within.shows(0), faster.shows(0)),
                Effect.RULE.replace("seeds", "interleaved rounds") + "; holds if folded inference is within 10 % of the no-norm network (the margin "
                        + "counts) with accuracy equal within 0.1 point; partly if folding is faster than unfolded BN (counts)");
    }
}
