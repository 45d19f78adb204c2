package normlab.lab.evidence;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import normlab.data.Dataset;
import normlab.models.SmallCnn;
import org.knowm.xchart.XYChart;

/**
 * Batch size (Wu &amp; He 2018, Group Normalization: BN's error grows as the batch shrinks, GN's stays flat; Ioffe
 * 2017: Batch Renormalization reduces BN's small-batch degradation). The small CNN on Fashion-MNIST with each
 * normalization, trained for a fixed number of epochs at batch B ∈ {64, 32, 16, 8, 4, 2} with SGD (momentum 0.9) and
 * the learning rate scaled linearly with the batch, lr = base·B/32 (Goyal et al. 2017, as Wu &amp; He do); test error
 * (evaluation mode, so BN uses its running statistics) against the batch size per method.
 */
public final class BatchSweep extends Evidence<BatchSweep.Params, Runs.Results<BatchSweep.Cell>> {
    public static final String NAME = "batch-sweep";

    public static final List<SmallCnn.Norm> NORMS = List.of(SmallCnn.Norm.BN, SmallCnn.Norm.GN, SmallCnn.Norm.LN,
            SmallCnn.Norm.IN, SmallCnn.Norm.RMS, SmallCnn.Norm.BATCH_RENORM, SmallCnn.Norm.NONE);

    public record Params(List<SmallCnn.Norm> norms, int[] batches, double baseLr, int epochs, int trainSize, int testSize) {
        public static Params of(boolean quick) {
            int[] b = {64, 32, 16, 8, 4, 2};
            return quick ? new Params(NORMS, b, 0.02, 1, 1_024, 500) : new Params(NORMS, b, 0.02, 2, 12_000, 5_000);
        }
    }

    public record Cell(SmallCnn.Norm norm, int batch, long seed, Runs.Outcome outcome) {}

    public BatchSweep() {
        super(NAME, "Batch size: BN, GroupNorm and the others", "batch 64…2, every normalization on the CNN (Fashion-MNIST)",
                "Batch 64…2 with BN, GroupNorm, LayerNorm, InstanceNorm, RMSNorm, BatchRenorm and none on the small CNN (Fashion-MNIST), "
                        + "lr scaled with the batch: test error vs batch size.", Params::of);
    }

    public static String label(SmallCnn.Norm n) {
        return n.label();
    }

    @Override
    public Runs.Results<Cell> train(Params p, Settings s) throws IOException {
        Dataset train = Runs.data("fashion", true, p.trainSize()), test = Runs.data("fashion", false, p.testSize());
        record Variant(SmallCnn.Norm norm, Runs.Recipe recipe) {}
        // Smallest batches first: they take longest, so the threads finish together.
        List<Integer> batches = new ArrayList<>();
        for (int bi = p.batches().length - 1; bi >= 0; bi--) batches.add(p.batches()[bi]);
        List<Variant> variants = Runs.grid(batches, p.norms(),
                (b, norm) -> new Variant(norm, new Runs.Recipe(p.baseLr() * b / 32.0, 0.9, p.epochs() * (train.n / b), b, false)));
        return Runs.sweep(train, test, variants, s, (v, seed) -> {
            Runs.Recipe r = v.recipe();
            Runs.Outcome o = Runs.train(seed, init -> Runs.cnn(v.norm(), r.steps(), init), r, train, test).outcome();
            s.say("  batch-sweep %-12s batch %2d seed %d: %s, error %.4f", label(v.norm()), r.batch(), seed, o.status().text, 1 - o.accuracy());
            return new Cell(v.norm(), r.batch(), seed, o);
        });
    }

    @Override
    public RunOutput publish(Params p, Settings s, Runs.Results<Cell> runs) {
        List<Cell> cells = runs.runs();
        RunOutput out = output(s, runs, "fashion-mnist",
                "model", "small CNN: conv3×3(8)-norm-ReLU-pool-conv3×3(16)-norm-ReLU-pool-linear",
                "optimizer", "SGD momentum 0.9, lr = " + p.baseLr() + "·B/32", "epochs", p.epochs(),
                "batches", java.util.Arrays.toString(p.batches()));
        out.table("runs.csv", "norm", "batch", "lr", "seed", "steps", "status", "test_error", "test_loss", "seconds_per_step");
        for (Cell c : cells) {
            out.row("runs.csv", label(c.norm()), c.batch(), p.baseLr() * c.batch() / 32.0, c.seed(), c.outcome().steps(),
                    c.outcome().status().text, 1 - c.outcome().accuracy(), c.outcome().testLoss(), c.outcome().secondsPerStep());
        }
        int k = p.batches().length;
        double[] xs = new double[k];
        for (int i = 0; i < k; i++) xs[i] = p.batches()[i];
        XYChart all = Charts.xy("Test error vs batch size (lr ∝ batch, " + p.epochs() + " epoch" + (p.epochs() > 1 ? "s" : "") + ")",
                "batch size per step (log)", "test error", true);
        XYChart two = Charts.xy("BatchNorm vs GroupNorm: test error vs batch size", "batch size per step (log)", "test error", true);
        java.util.Map<SmallCnn.Norm, Spread[]> err = new java.util.HashMap<>();
        for (int n = 0; n < p.norms().size(); n++) {
            SmallCnn.Norm norm = p.norms().get(n);
            Spread[] e = new Spread[k];
            for (int i = 0; i < k; i++) {
                List<Double> v = new ArrayList<>();
                for (Cell c : cells) if (c.norm() == norm && c.batch() == p.batches()[i]) v.add(1 - c.outcome().accuracy());
                e[i] = Spread.of(v);
                out.results.addProperty(label(norm) + "_batch_" + p.batches()[i] + "_error_mean", e[i].mean());
            }
            err.put(norm, e);
            Charts.series(all, label(norm), xs, e, n, norm == SmallCnn.Norm.NONE);
            if (norm == SmallCnn.Norm.BN || norm == SmallCnn.Norm.GN) Charts.series(two, label(norm), xs, e, n, false);
        }
        out.chart("batch_error_all", "Test error vs batch size for every normalization, mean ± s.d. over " + s.seeds().size()
                + " seeds (error bars); dashed: no normalization.", all);
        out.chart("batch_error_bn_gn", "BatchNorm vs GroupNorm (the comparison of Wu & He 2018, Figure 1).", two);
        int i32 = indexOf(p.batches(), 32), i2 = indexOf(p.batches(), 2);
        if (i32 >= 0 && i2 >= 0 && err.containsKey(SmallCnn.Norm.BN)) {
            Spread[] bn = err.get(SmallCnn.Norm.BN);
            if (err.containsKey(SmallCnn.Norm.GN)) {
                Spread[] gn = err.get(SmallCnn.Norm.GN);
                out.claim(groupNormVerdict(bn[i32].mean(), bn[i2].mean(), gn[i32].mean(), gn[i2].mean()));
            }
            if (err.containsKey(SmallCnn.Norm.BATCH_RENORM)) {
                Spread[] br = err.get(SmallCnn.Norm.BATCH_RENORM);
                out.claim(renormVerdict(bn[i32].mean(), bn[i2].mean(), br[i32].mean(), br[i2].mean()));
            }
        }
        return out;
    }

    static int indexOf(int[] a, int v) {
        for (int i = 0; i < a.length; i++) if (a[i] == v) return i;
        return -1;
    }

    /**
     * Rule: with Δ = error at batch 2 − error at batch 32, HOLDS when BN's Δ ≥ 3 points and GN's Δ ≤ ½ BN's; PARTLY
     * when BN's error grows (Δ > 0) and more than GN's; otherwise DOES_NOT_HOLD.
     */
    public static Claim groupNormVerdict(double bn32, double bn2, double gn32, double gn2) {
        double dBn = bn2 - bn32, dGn = gn2 - gn32;
        return new Claim("BN's error grows as the batch shrinks (ImageNet ResNet-50: 23.6 % at batch 32 → 34.7 % at 2), "
                + "GroupNorm's stays flat (about 24.1 %).", "Wu & He 2018 (Group Normalization), Figure 1",
                String.format(Locale.ROOT, "test error batch 32 → 2: BN %s → %s (%+.1f points), GN %s → %s (%+.1f points)",
                        RunOutput.pct(bn32), RunOutput.pct(bn2), 100 * dBn, RunOutput.pct(gn32), RunOutput.pct(gn2), 100 * dGn),
                Verdict.of(dBn >= 0.03 && dGn <= dBn / 2, dBn > 0 && dBn > dGn),
                "Δ = error(batch 2) − error(batch 32); holds if Δ_BN ≥ 3 points and Δ_GN ≤ ½ Δ_BN, partly if Δ_BN > 0 and Δ_BN > Δ_GN");
    }

    /** Rule: HOLDS when BN's Δ ≥ 3 points and BatchRenorm's Δ ≤ ½ BN's; PARTLY when BN's error grows and BatchRenorm's Δ is smaller; else DOES_NOT_HOLD. */
    public static Claim renormVerdict(double bn32, double bn2, double br32, double br2) {
        double dBn = bn2 - bn32, dBr = br2 - br32;
        return new Claim("Batch Renormalization reduces BN's degradation with small mini-batches.", "Ioffe 2017 (Batch Renormalization), §4.3",
                String.format(Locale.ROOT, "test error batch 32 → 2: BN %+.1f points, BatchRenorm %s → %s (%+.1f points)",
                        100 * dBn, RunOutput.pct(br32), RunOutput.pct(br2), 100 * dBr),
                Verdict.of(dBn >= 0.03 && dBr <= dBn / 2, dBn > 0 && dBr < dBn),
                "holds if Δ_BN ≥ 3 points and Δ_BatchRenorm ≤ ½ Δ_BN, partly if Δ_BN > 0 and Δ_BatchRenorm < Δ_BN");
    }
}
