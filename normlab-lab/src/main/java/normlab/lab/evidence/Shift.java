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
 * Train/test discrepancy of BatchNorm under a domain shift. The small CNN with BN is trained on Fashion-MNIST, then
 * deployed on a shifted domain — lower contrast and brighter images, x' = c·x + b — where the running statistics no
 * longer match; then recalibrated (PreciseBN, {@link Recalibrate}) on n images of the deployment domain, drawn from
 * training images held out of training, and evaluated again against n (Wu &amp; Johnson 2021, "Rethinking 'Batch' in
 * BatchNorm": 10³–10⁴ samples suffice). Normalizing with the test batch's own statistics instead is {@link BatchStats}.
 */
public final class Shift extends Evidence<Shift.Params, Runs.Results<Shift.Seed>> {
    public static final String NAME = "shift";

    public record Params(int steps, int batch, double lr, int trainSize, int testSize, double contrast,
                         double brightness, int[] recalSamples, int heldOut) {
        public static Params of(boolean quick) {
            return quick
                    ? new Params(150, 32, 0.02, 4_096, 1_024, 0.5, 0.35,
                            new int[] {16, 64, 256, 1024}, 2_048)
                    : new Params(1_500, 32, 0.02, 40_000, 10_000, 0.5, 0.35,
                            new int[] {16, 64, 256, 1024, 4096, 16384}, 16_384);
        }
    }

    /** One seed's measurements. */
    public record Seed(long seed, double running, double clean, double shifted, double[] recal) {}

    public Shift() {
        super(NAME, "Domain shift and recalibration", "domain shift of the running statistics and recalibration",
                "Train/test discrepancy under a domain shift (contrast and brightness) and its repair by recalibrating the running "
                        + "statistics, against the number of samples.", Params::of);
    }

    /** The deployment domain: every pixel x → clamp(c·x + b, 0, 1). */
    public static Dataset shifted(Dataset d, double c, double b) {
        float[] px = new float[d.images.length];
        // x' = clamp(c·x + b, 0, 1)
        for (int i = 0; i < px.length; i++) px[i] = (float) Math.min(1, Math.max(0, c * d.images[i] + b));
        return new Dataset(d.name + " shifted", px, d.labels, d.rows, d.cols);
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

    /** One seed's measurements of its trained model: the shifted domain, recalibration. */
    static Seed measure(Params p, Settings s, long seed, Runs.Trained t, Dataset test, Dataset testShifted, Dataset pool) {
        Module model = t.model();
        double acc = t.outcome().accuracy();
        double shiftedAcc = Trainer.evaluate(model, testShifted, false, null).accuracy();
        double[] rc = new double[p.recalSamples().length];
        for (int i = 0; i < rc.length; i++) rc[i] = recalibrated(model, pool, p.recalSamples()[i], testShifted);
        s.say("  shift seed %d: running stats %.4f, shifted %.4f, recalibrated (n=%d) %.4f", seed,
                acc, shiftedAcc, p.recalSamples()[rc.length - 1], rc[rc.length - 1]);
        return new Seed(seed, acc, acc, shiftedAcc, rc);
    }

    @Override
    public RunOutput publish(Params p, Settings s, Runs.Results<Seed> runs) {
        List<Seed> seeds = runs.runs();
        RunOutput out = output(s, runs, "fashion-mnist",
                "model", "small CNN with BatchNorm2d, " + p.steps() + " steps of " + p.batch() + ", SGD momentum 0.9, lr " + p.lr(),
                "deployment_shift", "x' = clamp(" + p.contrast() + "·x + " + p.brightness() + ", 0, 1)",
                "recalibration_pool", p.heldOut() + " held-out training images (last of the training file), shifted");
        out.table("recalibration.csv", "seed", "samples", "accuracy_shifted", "accuracy_clean_running", "accuracy_shifted_running");
        int nr = p.recalSamples().length;
        double[][] rcAll = new double[nr][seeds.size()];
        double[] running = new double[seeds.size()], shiftedAll = new double[seeds.size()];
        for (int k = 0; k < seeds.size(); k++) {
            Seed sd = seeds.get(k);
            running[k] = sd.running();
            shiftedAll[k] = sd.shifted();
            out.row("recalibration.csv", sd.seed(), 0, sd.shifted(), sd.clean(), sd.shifted());
            for (int i = 0; i < nr; i++) {
                rcAll[i][k] = sd.recal()[i];
                out.row("recalibration.csv", sd.seed(), p.recalSamples()[i], sd.recal()[i], sd.clean(), sd.shifted());
            }
        }
        Spread run = Spread.of(running), sh = Spread.of(shiftedAll);
        double[] xr = new double[nr];
        Spread[] rcS = new Spread[nr], cleanS = new Spread[nr], shS = new Spread[nr];
        for (int i = 0; i < nr; i++) {
            xr[i] = p.recalSamples()[i];
            rcS[i] = Spread.of(rcAll[i]);
            cleanS[i] = run;
            shS[i] = sh;
        }
        XYChart b = Charts.xy("Shifted deployment: recalibration vs samples", "recalibration samples from the deployment domain (log)",
                "test accuracy", true);
        Charts.series(b, "clean test set, running statistics", xr, cleanS, 2, true);
        Charts.series(b, "shifted, running statistics (no recalibration)", xr, shS, 0, true);
        Charts.series(b, "shifted, recalibrated", xr, rcS, 1, false);
        out.chart("shift_recalibration", "Accuracy on the shifted domain after PreciseBN recalibration on n images from it; "
                + "mean ± s.d. over " + seeds.size() + " seeds.", b);
        out.results.addProperty("accuracy_running_stats", run.mean());
        out.results.addProperty("accuracy_shifted_running_stats", sh.mean());
        for (int i = 0; i < nr; i++) out.results.addProperty("accuracy_shifted_recalibrated_" + p.recalSamples()[i], rcS[i].mean());
        out.claim(recalibrationVerdict(running, shiftedAll, p.recalSamples(), rcAll));
        return out;
    }

    /**
     * Rule, per seed (paired; {@link Effect}: beyond 2 s.e. over ≥ 3 seeds): with drop = clean − shifted accuracy (running
     * statistics) and gain(n) = recalibrated(n) − shifted, HOLDS when the drop counts at ≥ 2 points and some n ≤ 10⁴
     * recovers at least half of it (recalibrated(n) − (clean + shifted)/2 counts, &gt; 0); PARTLY when some gain(n)
     * counts at ≥ 1 point; otherwise DOES_NOT_HOLD. Arrays are per seed, recal[i] for ns[i].
     */
    public static Claim recalibrationVerdict(double[] clean, double[] shifted, int[] ns, double[][] recal) {
        Effect drop = Effect.paired(clean, shifted);
        double[] mid = new double[clean.length];
        for (int k = 0; k < mid.length; k++) mid[k] = (clean[k] + shifted[k]) / 2;
        boolean gains = false;
        Integer enough = null;
        for (int i = 0; i < ns.length; i++) {
            gains |= Effect.paired(recal[i], shifted).shows(0.01);
            if (enough == null && ns[i] <= 10_000 && Effect.paired(recal[i], mid).shows(0)) enough = ns[i];
        }
        StringBuilder m = new StringBuilder(String.format(Locale.ROOT, "clean %s; shifted domain with running statistics %s (drop %s); recalibrated: ",
                RunOutput.pct(Spread.of(clean)), RunOutput.pct(Spread.of(shifted)), drop.points()));
        for (int i = 0; i < ns.length; i++) m.append(i > 0 ? ", " : "").append(RunOutput.pct(Spread.of(recal[i]).mean())).append(" (n=").append(ns[i]).append(')');
        if (enough != null) m.append("; half the drop recovered with n=").append(enough);
        return new Claim("When the deployment domain shifts, running statistics no longer match and accuracy drops; re-estimating "
                + "them on 10³–10⁴ samples of the new domain recovers it.", "Wu & Johnson 2021 (Rethinking \"Batch\" in BatchNorm), §3",
                m.toString(), Verdict.of(drop.shows(0.02) && enough != null, gains),
                Effect.rule("the minimum given") + " (per seed); holds if the shift costs ≥ 2 points and some n ≤ 10⁴ recovers more than half of it; "
                        + "partly if recalibration gains ≥ 1 point");
    }
}
