package normlab.lab.evidence;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import normlab.data.Dataset;
import normlab.infer.Recalibrate;
import normlab.io.LayerTypes;
import normlab.nn.Module;
import normlab.models.SmallCnn;
import normlab.tensor.Tensor;
import normlab.train.Trainer;
import org.knowm.xchart.XYChart;

/**
 * Train/test discrepancy of BatchNorm. The small CNN with BN is trained on Fashion-MNIST, then
 * <ol>
 *   <li>evaluated with its running statistics and with the statistics of each test batch, at test batch sizes
 *       1 … 256 (Ioffe &amp; Szegedy 2015, §3.1: inference must not depend on the batch, hence population
 *       statistics);</li>
 *   <li>deployed on a shifted domain — lower contrast and brighter images, x' = c·x + b — where the running statistics
 *       no longer match; then recalibrated (PreciseBN, {@link Recalibrate}) on n images of the deployment domain,
 *       drawn from training images held out of training, and evaluated again against n (Wu &amp; Johnson 2021,
 *       "Rethinking 'Batch' in BatchNorm": 10³–10⁴ samples suffice).</li>
 * </ol>
 */
public final class Shift extends Evidence<Shift.Params, Runs.Results<Shift.Seed>> {
    public static final String NAME = "shift";

    public record Params(int steps, int batch, double lr, int trainSize, int testSize, int[] testBatches, double contrast,
                         double brightness, int[] recalSamples, int heldOut) {
        public static Params of(boolean quick) {
            return quick
                    ? new Params(150, 32, 0.02, 4_096, 1_024, new int[] {1, 2, 4, 8, 16, 32, 64, 128, 256}, 0.5, 0.35,
                            new int[] {16, 64, 256, 1024}, 2_048)
                    : new Params(1_500, 32, 0.02, 40_000, 10_000, new int[] {1, 2, 4, 8, 16, 32, 64, 128, 256}, 0.5, 0.35,
                            new int[] {16, 64, 256, 1024, 4096, 16384}, 16_384);
        }
    }

    /** One seed's measurements. */
    public record Seed(long seed, double running, double[] batchStats, double clean, double shifted, double[] recal) {}

    public Shift() {
        super(NAME, "Train/test discrepancy and recalibration", "batch vs running statistics; domain shift and recalibration",
                "Train/test discrepancy: batch vs running statistics by test batch size; a domain shift and its repair by recalibration "
                        + "against the number of samples.", Params::of);
    }

    /** The deployment domain: every pixel x → clamp(c·x + b, 0, 1). */
    public static Dataset shifted(Dataset d, double c, double b) {
        float[] px = new float[d.images.length];
        // x' = clamp(c·x + b, 0, 1)
        for (int i = 0; i < px.length; i++) px[i] = (float) Math.min(1, Math.max(0, c * d.images[i] + b));
        return new Dataset(d.name + " shifted", px, d.labels, d.rows, d.cols);
    }

    /**
     * Accuracy of {@code model} when every BN normalizes with the statistics of the test batch itself (training-mode
     * forward on a copy, so the model's running statistics are untouched), over ⌊n/B⌋ full batches of B.
     */
    public static double batchStatsAccuracy(Module model, Dataset test, int b) {
        Module copy = LayerTypes.copy(model);
        copy.train();
        int correct = 0, seen = 0;
        for (int from = 0; from + b <= test.n; from += b) {
            int[] idx = Dataset.range(from, from + b);
            correct += Trainer.countCorrect(copy.forward(test.batch(idx)), test.labels(idx));
            seen += b;
        }
        return (double) correct / seen;
    }

    /** Accuracy after recalibrating a copy of {@code model} on the first {@code n} images of {@code pool}, batches of 64. */
    public static double recalibrated(Module model, Dataset pool, int n, Dataset test) {
        Module copy = LayerTypes.copy(model);
        List<Tensor> batches = new ArrayList<>();
        for (int from = 0; from < n; from += 64) batches.add(pool.batch(Dataset.range(from, Math.min(n, from + 64))));
        Recalibrate.run(copy, batches);
        return Trainer.evaluate(copy, test, false, null).accuracy();
    }

    @Override
    public Runs.Results<Seed> train(Params p, Settings s) throws IOException {
        Dataset train = Runs.data("fashion", true, p.trainSize()), test = Runs.data("fashion", false, p.testSize());
        Dataset pool = shifted(Runs.heldOut("fashion", p.heldOut()), p.contrast(), p.brightness());
        Dataset testShifted = shifted(test, p.contrast(), p.brightness());
        if (p.trainSize() + p.heldOut() > Runs.data("fashion", true, 0).n) throw new IllegalArgumentException("training and held-out sets overlap");
        Runs.Recipe r = new Runs.Recipe(p.lr(), 0.9, p.steps(), p.batch(), false);
        return Runs.sweep(train, test, List.of(SmallCnn.Norm.BN), s, (norm, seed) -> {
            Runs.Trained t = Runs.train(seed, init -> Runs.cnn(norm, p.steps(), init), r, train, test);
            return measure(p, s, seed, t, test, testShifted, pool);
        });
    }

    /** One seed's measurements of its trained model: batch statistics by test batch, the shifted domain, recalibration. */
    static Seed measure(Params p, Settings s, long seed, Runs.Trained t, Dataset test, Dataset testShifted, Dataset pool) {
        Module model = t.model();
        double acc = t.outcome().accuracy();
        double[] bs = new double[p.testBatches().length];
        for (int i = 0; i < bs.length; i++) bs[i] = batchStatsAccuracy(model, test, p.testBatches()[i]);
        double shiftedAcc = Trainer.evaluate(model, testShifted, false, null).accuracy();
        double[] rc = new double[p.recalSamples().length];
        for (int i = 0; i < rc.length; i++) rc[i] = recalibrated(model, pool, p.recalSamples()[i], testShifted);
        s.say("  shift seed %d: running stats %.4f, batch stats at 1 %.4f, shifted %.4f, recalibrated (n=%d) %.4f", seed,
                acc, bs[0], shiftedAcc, p.recalSamples()[rc.length - 1], rc[rc.length - 1]);
        return new Seed(seed, acc, bs, acc, shiftedAcc, rc);
    }

    @Override
    public RunOutput publish(Params p, Settings s, Runs.Results<Seed> runs) {
        List<Seed> seeds = runs.runs();
        RunOutput out = output(s, runs, "fashion-mnist",
                "model", "small CNN with BatchNorm2d, " + p.steps() + " steps of " + p.batch() + ", SGD momentum 0.9, lr " + p.lr(),
                "deployment_shift", "x' = clamp(" + p.contrast() + "·x + " + p.brightness() + ", 0, 1)",
                "recalibration_pool", p.heldOut() + " held-out training images (last of the training file), shifted");
        out.table("batch_stats.csv", "seed", "test_batch", "accuracy_batch_stats", "accuracy_running_stats");
        out.table("recalibration.csv", "seed", "samples", "accuracy_shifted", "accuracy_clean_running", "accuracy_shifted_running");
        int nb = p.testBatches().length, nr = p.recalSamples().length;
        double[][] bsAll = new double[nb][seeds.size()], rcAll = new double[nr][seeds.size()];
        double[] running = new double[seeds.size()], shiftedAll = new double[seeds.size()];
        for (int k = 0; k < seeds.size(); k++) {
            Seed sd = seeds.get(k);
            running[k] = sd.running();
            shiftedAll[k] = sd.shifted();
            for (int i = 0; i < nb; i++) {
                bsAll[i][k] = sd.batchStats()[i];
                out.row("batch_stats.csv", sd.seed(), p.testBatches()[i], sd.batchStats()[i], sd.running());
            }
            out.row("recalibration.csv", sd.seed(), 0, sd.shifted(), sd.clean(), sd.shifted());
            for (int i = 0; i < nr; i++) {
                rcAll[i][k] = sd.recal()[i];
                out.row("recalibration.csv", sd.seed(), p.recalSamples()[i], sd.recal()[i], sd.clean(), sd.shifted());
            }
        }
        Spread run = Spread.of(running), sh = Spread.of(shiftedAll);
        double[] xb = new double[nb];
        Spread[] bsS = new Spread[nb], runS = new Spread[nb];
        for (int i = 0; i < nb; i++) {
            xb[i] = p.testBatches()[i];
            bsS[i] = Spread.of(bsAll[i]);
            runS[i] = run;
        }
        XYChart a = Charts.xy("(a) Test accuracy: batch statistics vs running statistics", "test batch size (log)", "test accuracy", true);
        Charts.series(a, "running statistics", xb, runS, 0, true);
        Charts.series(a, "statistics of the test batch", xb, bsS, 1, false);
        out.chart("shift_batch_stats", "Evaluating with the statistics of each test batch vs the running statistics, by test batch "
                + "size; mean ± s.d. over " + seeds.size() + " seeds.", a);
        double[] xr = new double[nr];
        Spread[] rcS = new Spread[nr], cleanS = new Spread[nr], shS = new Spread[nr];
        for (int i = 0; i < nr; i++) {
            xr[i] = p.recalSamples()[i];
            rcS[i] = Spread.of(rcAll[i]);
            cleanS[i] = run;
            shS[i] = sh;
        }
        XYChart b = Charts.xy("(b) Shifted deployment: recalibration vs samples", "recalibration samples from the deployment domain (log)",
                "test accuracy", true);
        Charts.series(b, "clean test set, running statistics", xr, cleanS, 2, true);
        Charts.series(b, "shifted, running statistics (no recalibration)", xr, shS, 0, true);
        Charts.series(b, "shifted, recalibrated", xr, rcS, 1, false);
        out.chart("shift_recalibration", "Accuracy on the shifted domain after PreciseBN recalibration on n images from it; "
                + "mean ± s.d. over " + seeds.size() + " seeds.", b);
        out.results.addProperty("accuracy_running_stats", run.mean());
        for (int i = 0; i < nb; i++) out.results.addProperty("accuracy_batch_stats_at_" + p.testBatches()[i], bsS[i].mean());
        out.results.addProperty("accuracy_shifted_running_stats", sh.mean());
        for (int i = 0; i < nr; i++) out.results.addProperty("accuracy_shifted_recalibrated_" + p.recalSamples()[i], rcS[i].mean());
        out.claim(batchStatsVerdict(run.mean(), bsS[0].mean(), p.testBatches()[0], bsS[nb - 1].mean(), p.testBatches()[nb - 1]));
        double[] rcMeans = new double[nr];
        for (int i = 0; i < nr; i++) rcMeans[i] = rcS[i].mean();
        out.claim(recalibrationVerdict(run.mean(), sh.mean(), p.recalSamples(), rcMeans));
        return out;
    }

    /**
     * Rule: HOLDS when batch statistics at the smallest test batch lose ≥ 2 points against the running statistics and
     * at the largest batch are within 2 points of them; PARTLY when only the first; otherwise DOES_NOT_HOLD.
     */
    public static Claim batchStatsVerdict(double running, double small, int smallB, double large, int largeB) {
        boolean hurt = small <= running - 0.02, agree = Math.abs(large - running) <= 0.02;
        return new Claim("Normalizing with the test batch's own statistics makes a prediction depend on its batch and fails for "
                + "small test batches; inference must use population (running) statistics.", "Ioffe & Szegedy 2015, §3.1",
                String.format(Locale.ROOT, "running statistics %s; statistics of the test batch: %s at batch %d, %s at batch %d",
                        RunOutput.pct(running), RunOutput.pct(small), smallB, RunOutput.pct(large), largeB),
                Verdict.of(hurt && agree, hurt),
                "holds if batch statistics at the smallest batch lose ≥ 2 points and at the largest are within 2 points of running statistics; partly if only the first");
    }

    /**
     * Rule: with drop = clean − shifted accuracy (running statistics) and gain(n) = recalibrated(n) − shifted, HOLDS when
     * drop ≥ 2 points and some n ≤ 10⁴ recovers at least half the drop; PARTLY when the best gain exceeds 1 point;
     * otherwise DOES_NOT_HOLD.
     */
    public static Claim recalibrationVerdict(double clean, double shifted, int[] ns, double[] recal) {
        double drop = clean - shifted;
        double best = Double.NEGATIVE_INFINITY;
        Integer enough = null;
        for (int i = 0; i < ns.length; i++) {
            double gain = recal[i] - shifted;
            best = Math.max(best, gain);
            if (enough == null && ns[i] <= 10_000 && gain >= drop / 2) enough = ns[i];
        }
        StringBuilder m = new StringBuilder(String.format(Locale.ROOT, "clean %s; shifted domain with running statistics %s (−%.1f points); recalibrated: ",
                RunOutput.pct(clean), RunOutput.pct(shifted), 100 * drop));
        for (int i = 0; i < ns.length; i++) m.append(i > 0 ? ", " : "").append(RunOutput.pct(recal[i])).append(" (n=").append(ns[i]).append(')');
        if (enough != null) m.append("; half the drop recovered with n=").append(enough);
        return new Claim("When the deployment domain shifts, running statistics no longer match and accuracy drops; re-estimating "
                + "them on 10³–10⁴ samples of the new domain recovers it.", "Wu & Johnson 2021 (Rethinking \"Batch\" in BatchNorm), §3",
                m.toString(), Verdict.of(drop >= 0.02 && enough != null, best > 0.01),
                "holds if the shift costs ≥ 2 points and some n ≤ 10⁴ recovers ≥ half of it; partly if recalibration gains > 1 point");
    }
}
