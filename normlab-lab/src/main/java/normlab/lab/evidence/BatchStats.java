package normlab.lab.evidence;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import normlab.data.Dataset;
import normlab.io.LayerTypes;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.train.Trainer;
import org.knowm.xchart.XYChart;

/**
 * Batch statistics at inference (Ioffe &amp; Szegedy 2015, §3.1: "the normalization of activations that depends on the
 * mini-batch" is neither necessary nor desirable during inference; "we want the output to depend only on the input,
 * deterministically", hence population statistics). The paper's BN MLP (BatchNorm1d, so each statistic is computed
 * from m = B values, the test batch itself) is trained once per seed as in §4.1 (N(0, 0.01²) weights, plain SGD,
 * batch 60, lr 0.1) and then evaluated on the MNIST test set
 * <ul>
 *   <li>with its running (population) statistics — the same output whatever else is in the batch;</li>
 *   <li>with the statistics of each test batch (a training-mode forward on a copy), test batches of B ∈ {2 … 256}
 *       drawn i.i.d. (a seeded random order of the test set);</li>
 *   <li>the same, on non-i.i.d. batches: every batch holds one class only (the test set grouped by label);</li>
 *   <li>the fraction of test images whose predicted class changes when the same image is put in another random batch
 *       of the same size (two random orders): the direct measure of "an output depends on the other samples".</li>
 * </ul>
 */
public final class BatchStats extends Evidence<BatchStats.Params, Runs.Results<BatchStats.Seed>> {
    public static final String NAME = "batch-stats";

    public record Params(int steps, int batch, double lr, int trainSize, int testSize, int[] testBatches) {
        public Params {
            testBatches = testBatches.clone();
            for (int b : testBatches) if (b < 2) throw new IllegalArgumentException("batch-stats: test batches need ≥ 2 samples (BN's batch statistics), got " + b);
        }

        public static Params of(boolean quick) {
            int[] b = {2, 4, 8, 16, 32, 64, 128, 256};
            return quick ? new Params(200, 60, 0.1, 4_096, 2_000, new int[] {2, 8, 32, 128}) : new Params(5_000, 60, 0.1, 0, 10_000, b);
        }
    }

    /** One seed's accuracies: running statistics; per test batch: batch statistics on i.i.d. and one-class batches; prediction flips. */
    public record Seed(long seed, double running, double[] iid, double[] oneClass, double[] flips) {}

    public BatchStats() {
        super(NAME, "Batch statistics at inference", "the BN MLP with running vs the test batch's statistics, test batch 2…256, i.i.d. and one-class",
                "Batch statistics at inference: the paper's BN MLP (m = test batch) evaluated with its running statistics and with each "
                        + "test batch's own statistics, test batches of 2…256, i.i.d. and all one class; how many predictions change with the batch.",
                Params::of);
    }

    /** The predicted class of each row of {@code logits}. */
    static int[] argmax(Tensor logits) {
        int n = logits.dim(0), k = logits.dim(1);
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int j = 1; j < k; j++) if (logits.data[i * k + j] > logits.data[i * k + best]) best = j;
            p[i] = best;
        }
        return p;
    }

    /**
     * Predictions for every test image when the images are taken in {@code order} in batches of {@code b} and every BN
     * normalizes with that batch's statistics (training-mode forward on a copy, whose running statistics are discarded);
     * images of a last incomplete batch get −1. {@code order} may hold the images of several groups, each a multiple-free
     * run: {@code groups} gives where each group starts, so no batch mixes two groups (null: one group).
     */
    static int[] batchStatPredictions(Module model, Dataset test, int[] order, int[] groupStarts, int b) {
        Module copy = LayerTypes.copy(model);
        copy.train();
        int[] pred = new int[test.n];
        Arrays.fill(pred, -1);
        int[] starts = groupStarts == null ? new int[] {0} : groupStarts;
        for (int g = 0; g < starts.length; g++) {
            int end = g + 1 < starts.length ? starts[g + 1] : order.length;
            for (int from = starts[g]; from + b <= end; from += b) {
                int[] idx = Arrays.copyOfRange(order, from, from + b);
                int[] p = argmax(copy.forward(test.batchFlat(idx)));
                for (int i = 0; i < b; i++) pred[idx[i]] = p[i];
            }
        }
        return pred;
    }

    /** Accuracy over the images that have a prediction (≥ 0); NaN when none has (no full batch). */
    static double accuracy(int[] pred, int[] labels) {
        int seen = 0, correct = 0;
        for (int i = 0; i < pred.length; i++) {
            if (pred[i] < 0) continue;
            seen++;
            if (pred[i] == labels[i]) correct++;
        }
        return (double) correct / seen;
    }

    /** Fraction of the images predicted in both that get a different class. */
    static double flipRate(int[] a, int[] b) {
        int seen = 0, diff = 0;
        for (int i = 0; i < a.length; i++) {
            if (a[i] < 0 || b[i] < 0) continue;
            seen++;
            if (a[i] != b[i]) diff++;
        }
        return (double) diff / seen;
    }

    /** A seeded random order of 0 … n−1 (Fisher–Yates). */
    static int[] shuffled(int n, Rng rng) {
        int[] o = Dataset.range(0, n);
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = o[i];
            o[i] = o[j];
            o[j] = t;
        }
        return o;
    }

    /** One seed's measurements of a trained BN MLP. */
    static Seed measure(Params p, long seed, Sequential model, Dataset test) {
        double running = Trainer.evaluate(model, test, true, null, 200).accuracy();
        Rng rng = new Rng(1000 + seed);
        int[] o1 = shuffled(test.n, rng), o2 = shuffled(test.n, rng);
        // the test set grouped by class, each class in its original order
        List<Integer> byClass = new ArrayList<>();
        int k = test.numClasses();
        int[] starts = new int[k];
        for (int c = 0; c < k; c++) {
            starts[c] = byClass.size();
            for (int i = 0; i < test.n; i++) if (test.labels[i] == c) byClass.add(i);
        }
        int[] grouped = byClass.stream().mapToInt(Integer::intValue).toArray();
        int nb = p.testBatches().length;
        double[] iid = new double[nb], one = new double[nb], flips = new double[nb];
        for (int i = 0; i < nb; i++) {
            int b = p.testBatches()[i];
            int[] a = batchStatPredictions(model, test, o1, null, b), a2 = batchStatPredictions(model, test, o2, null, b);
            iid[i] = accuracy(a, test.labels);
            flips[i] = flipRate(a, a2);
            one[i] = accuracy(batchStatPredictions(model, test, grouped, starts, b), test.labels);
        }
        return new Seed(seed, running, iid, one, flips);
    }

    @Override
    public Runs.Results<Seed> train(Params p, Settings s) throws IOException {
        Dataset train = Runs.data("mnist", true, p.trainSize()), test = Runs.data("mnist", false, p.testSize());
        Runs.Recipe r = new Runs.Recipe(p.lr(), 0, p.steps(), p.batch(), true);
        return Runs.sweep(train, test, List.of("bn"), s, (x, seed) -> {
            Runs.Trained t = Runs.train(seed, init -> Runs.mlp(true, Runs.WeightInit.normal(0.01), init), r, train, test);
            Seed m = measure(p, seed, t.model(), test);
            s.say("  batch-stats seed %d: running %.4f; batch statistics at %d: i.i.d. %.4f, one class %.4f, %.1f %% of predictions change",
                    seed, m.running(), p.testBatches()[0], m.iid()[0], m.oneClass()[0], 100 * m.flips()[0]);
            return m;
        });
    }

    @Override
    public RunOutput publish(Params p, Settings s, Runs.Results<Seed> runs) {
        List<Seed> seeds = runs.runs();
        RunOutput out = output(s, runs, "mnist",
                "model", "the paper's MLP with BatchNorm1d (784-100-100-100-10, sigmoid, N(0, 0.01²) weights), " + p.steps() + " steps of "
                        + p.batch() + ", plain SGD lr " + p.lr(),
                "test_batches", Arrays.toString(p.testBatches()),
                "one_class", "batches holding a single class (the test set grouped by label; each class's last incomplete batch left out)");
        out.table("batch_stats.csv", "seed", "test_batch", "accuracy_running", "accuracy_batch_stats_iid", "accuracy_batch_stats_one_class",
                "prediction_change_rate");
        int nb = p.testBatches().length, n = seeds.size();
        double[] running = new double[n];
        double[][] iid = new double[nb][n], one = new double[nb][n], flips = new double[nb][n];
        for (int k = 0; k < n; k++) {
            Seed sd = seeds.get(k);
            running[k] = sd.running();
            for (int i = 0; i < nb; i++) {
                iid[i][k] = sd.iid()[i];
                one[i][k] = sd.oneClass()[i];
                flips[i][k] = sd.flips()[i];
                out.row("batch_stats.csv", sd.seed(), p.testBatches()[i], sd.running(), sd.iid()[i], sd.oneClass()[i], sd.flips()[i]);
            }
        }
        double[] xs = new double[nb];
        Spread run = Spread.of(running);
        Spread[] runS = new Spread[nb], iidS = new Spread[nb], oneS = new Spread[nb], flipS = new Spread[nb];
        for (int i = 0; i < nb; i++) {
            xs[i] = p.testBatches()[i];
            runS[i] = run;
            iidS[i] = Spread.of(iid[i]);
            oneS[i] = Spread.of(one[i]);
            flipS[i] = Spread.of(flips[i]);
            out.results.addProperty("accuracy_batch_stats_iid_at_" + p.testBatches()[i], iidS[i].mean());
            out.results.addProperty("accuracy_batch_stats_one_class_at_" + p.testBatches()[i], oneS[i].mean());
            out.results.addProperty("prediction_change_rate_at_" + p.testBatches()[i], flipS[i].mean());
        }
        out.results.addProperty("accuracy_running_stats", run.mean());
        XYChart a = Charts.xy("Test accuracy: running statistics vs the test batch's own (m = B)", "test batch size B (log)", "test accuracy", true);
        Charts.series(a, "running statistics", xs, runS, 0, true);
        Charts.series(a, "test batch's statistics, i.i.d. batches", xs, iidS, 1, false);
        Charts.series(a, "test batch's statistics, one class per batch", xs, oneS, 2, false);
        out.chart("batch_stats_accuracy", "The BN MLP evaluated with its running statistics and with each test batch's own statistics, by test "
                + "batch size; i.i.d. batches and batches of a single class; mean ± s.d. over " + n + " seeds.", a);
        XYChart f = Charts.xy("Predictions that change when the image is put in another batch", "test batch size B (log)",
                "fraction of test images", true);
        Charts.series(f, "test batch's statistics", xs, flipS, 1, false);
        out.chart("batch_stats_changes", "Fraction of test images whose predicted class differs between two random batchings of the test set "
                + "(same B), with the test batch's statistics; with running statistics it is 0 by construction. Mean ± s.d. over " + n + " seeds.", f);
        out.claim(verdict(p.testBatches(), running, iid, one, flips));
        return out;
    }

    /**
     * Rule (per seed, paired with the running statistics; {@link Effect}): HOLDS when the test batch's own statistics lose
     * ≥ 2 points at the smallest test batch and on one-class batches at the largest that every class fills (each beyond 2
     * s.e. over ≥ 3 seeds);
     * PARTLY when one of the two does; otherwise DOES_NOT_HOLD. The measurement adds the accuracy at the largest i.i.d.
     * batch and the share of predictions that change with the batch.
     */
    public static Claim verdict(int[] batches, double[] running, double[][] iid, double[][] oneClass, double[][] flips) {
        int last = batches.length - 1, lastOne = last;
        while (lastOne > 0 && !java.util.Arrays.stream(oneClass[lastOne]).allMatch(Double::isFinite)) lastOne--;
        Effect small = Effect.paired(running, iid[0]), skew = Effect.paired(running, oneClass[lastOne]);
        boolean a = small.shows(0.02), b = skew.shows(0.02);
        String m = String.format(Locale.ROOT,
                "running statistics %s; the test batch's statistics, i.i.d.: %s at B = %d (loss %s), %s at B = %d; one class per batch: %s at B = %d "
                        + "(loss %s); predictions that change with the batch: %.1f %% at B = %d, %.1f %% at B = %d",
                RunOutput.pct(Spread.of(running)), RunOutput.pct(Spread.of(iid[0])), batches[0], small.points(), RunOutput.pct(Spread.of(iid[last])),
                batches[last], RunOutput.pct(Spread.of(oneClass[lastOne])), batches[lastOne], skew.points(), 100 * Spread.of(flips[0]).mean(), batches[0],
                100 * Spread.of(flips[last]).mean(), batches[last]);
        return new Claim("With the test batch's own statistics a prediction depends on the other samples in its batch — it fails for small and "
                + "for non-i.i.d. batches; inference must use population (running) statistics.", "Ioffe & Szegedy 2015, §3.1", m,
                Verdict.of(a && b, a || b), Effect.rule("2 points") + "; holds if the test batch's statistics lose to the running ones both at the "
                        + "smallest i.i.d. batch and on one-class batches at the largest every class fills, partly if in one of the two");
    }
}
