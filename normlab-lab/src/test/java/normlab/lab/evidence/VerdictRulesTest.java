package normlab.lab.evidence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Every verdict rule on numbers on each side of its thresholds: the rule in the code, not a hand-written verdict,
 * decides, and the measurement text carries the numbers it decided on.
 */
class VerdictRulesTest {
    static Spread s(double mean) {
        return Spread.of(mean, mean);
    }

    @Test
    void lrSweep() {
        double[] lrs = {0.1, 0.3, 1, 3};
        Spread[][] good = {{s(.9), s(.9), s(.5), s(.1)}, {s(.95), s(.95), s(.95), s(.94)}};
        assertEquals(Verdict.HOLDS, LrSweep.verdict(lrs, good, new int[][] {{0, 0, 0, 3}, {0, 0, 0, 0}}).verdict());
        // BN beats the baseline at the top but loses 10 points there against its own best: partly.
        Spread[][] worn = {{s(.9), s(.9), s(.5), s(.1)}, {s(.95), s(.95), s(.9), s(.85)}};
        assertEquals(Verdict.PARTLY, LrSweep.verdict(lrs, worn, new int[][] {{0, 0, 0, 3}, {0, 0, 0, 0}}).verdict());
        Spread[][] bad = {{s(.9), s(.9), s(.9), s(.9)}, {s(.9), s(.8), s(.1), s(.1)}};
        Claim c = LrSweep.verdict(lrs, bad, new int[][] {{0, 0, 0, 0}, {0, 0, 3, 3}});
        assertEquals(Verdict.DOES_NOT_HOLD, c.verdict());
        assertTrue(c.measurement().contains("lr 3: 90.0 ± 0.0 % vs 10.0 ± 0.0 %"), c.measurement());
    }

    @Test
    void initSweep() {
        List<String> n = List.of("a", "b", "c");
        assertEquals(Verdict.HOLDS, InitSweep.verdict(n, new Spread[][] {{s(.2), s(.9), s(.5)}, {s(.9), s(.92), s(.91)}}).verdict());
        assertEquals(Verdict.PARTLY, InitSweep.verdict(n, new Spread[][] {{s(.5), s(.9), s(.6)}, {s(.6), s(.9), s(.7)}}).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, InitSweep.verdict(n, new Spread[][] {{s(.8), s(.9), s(.85)}, {s(.5), s(.9), s(.7)}}).verdict());
    }

    @Test
    void batchSweep() {
        assertEquals(Verdict.HOLDS, BatchSweep.groupNormVerdict(.236, .347, .241, .243).verdict());
        assertEquals(Verdict.PARTLY, BatchSweep.groupNormVerdict(.20, .22, .20, .21).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, BatchSweep.groupNormVerdict(.20, .21, .20, .25).verdict());
        // BN's error falls with the batch: no degradation to speak of, whatever GN does.
        assertEquals(Verdict.DOES_NOT_HOLD, BatchSweep.groupNormVerdict(.30, .25, .30, .22).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, BatchSweep.renormVerdict(.30, .25, .30, .22).verdict());
        assertEquals(Verdict.HOLDS, BatchSweep.renormVerdict(.2, .3, .2, .22).verdict());
        assertEquals(Verdict.PARTLY, BatchSweep.renormVerdict(.2, .3, .2, .28).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, BatchSweep.renormVerdict(.2, .3, .2, .35).verdict());
    }

    @Test
    void resnet() {
        // pre-activation: clearly lower (beyond 5 % and the seeds' s.d.), lower, higher; only post-activation diverged
        assertEquals(Verdict.HOLDS, ResNetDepth.preActivationVerdict(56, Spread.of(0.50, 0.52), Spread.of(0.40, 0.41)).verdict());
        assertEquals(Verdict.PARTLY, ResNetDepth.preActivationVerdict(56, Spread.of(0.50, 0.52), Spread.of(0.49, 0.50)).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, ResNetDepth.preActivationVerdict(56, Spread.of(0.40, 0.41), Spread.of(0.50, 0.52)).verdict());
        assertEquals(Verdict.HOLDS, ResNetDepth.preActivationVerdict(56, Spread.of(Double.NaN), Spread.of(0.50)).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, ResNetDepth.preActivationVerdict(56, Spread.of(0.5), Spread.of(Double.NaN)).verdict());
        // no normalization: a divergence, 1.25× BN's loss, slightly worse, as good
        assertEquals(Verdict.HOLDS, ResNetDepth.noNormVerdict(56, 1, 6, Spread.of(0.4, Double.NaN), Spread.of(0.4)).verdict());
        assertEquals(Verdict.HOLDS, ResNetDepth.noNormVerdict(56, 0, 6, Spread.of(0.5), Spread.of(0.4)).verdict());
        assertEquals(Verdict.PARTLY, ResNetDepth.noNormVerdict(56, 0, 6, Spread.of(0.42), Spread.of(0.4)).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, ResNetDepth.noNormVerdict(56, 0, 6, Spread.of(0.38), Spread.of(0.4)).verdict());
        assertTrue(ResNetDepth.noNormVerdict(56, 2, 6, Spread.of(0.5), Spread.of(0.4)).measurement().contains("2 of 6 unnormalized runs diverged"));
        // zero-init: trains near BN while plain diverged; diverges less; no divergence either way and lower loss; worse
        assertEquals(Verdict.HOLDS, ResNetDepth.zeroInitVerdict(56, 0, 6, Spread.of(0.45), 6, Spread.of(Double.NaN), Spread.of(0.4)).verdict());
        assertEquals(Verdict.PARTLY, ResNetDepth.zeroInitVerdict(56, 2, 6, Spread.of(0.45), 6, Spread.of(Double.NaN), Spread.of(0.4)).verdict());
        assertEquals(Verdict.PARTLY, ResNetDepth.zeroInitVerdict(56, 0, 6, Spread.of(0.45), 0, Spread.of(0.48), Spread.of(0.4)).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, ResNetDepth.zeroInitVerdict(56, 0, 6, Spread.of(0.60), 0, Spread.of(0.48), Spread.of(0.4)).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, ResNetDepth.zeroInitVerdict(56, 6, 6, Spread.of(Double.NaN), 6, Spread.of(Double.NaN), Spread.of(0.4)).verdict());
    }

    @Test
    void shift() {
        assertEquals(Verdict.HOLDS, Shift.batchStatsVerdict(.85, .40, 1, .845, 256).verdict());
        assertEquals(Verdict.PARTLY, Shift.batchStatsVerdict(.85, .40, 1, .80, 256).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, Shift.batchStatsVerdict(.85, .84, 1, .85, 256).verdict());
        int[] ns = {16, 256, 4096, 16384};
        assertEquals(Verdict.HOLDS, Shift.recalibrationVerdict(.85, .40, ns, new double[] {.5, .7, .8, .82}).verdict());
        // Half the drop only recovered with more than 10⁴ samples: partly.
        assertEquals(Verdict.PARTLY, Shift.recalibrationVerdict(.85, .40, ns, new double[] {.42, .45, .5, .8}).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, Shift.recalibrationVerdict(.85, .40, ns, new double[] {.40, .40, .405, .40}).verdict());
        assertTrue(Shift.recalibrationVerdict(.85, .40, ns, new double[] {.5, .7, .8, .82}).measurement().contains("n=256"));
    }

    @Test
    void dropout() {
        assertEquals(Verdict.HOLDS, DropoutBn.verdict(.5, 1.6, 1.02, .95, .97).verdict());
        assertEquals(Verdict.PARTLY, DropoutBn.verdict(.5, 1.6, 1.02, .97, .97).verdict());
        assertEquals(Verdict.PARTLY, DropoutBn.verdict(.5, 1.05, 1.0, .95, .97).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, DropoutBn.verdict(.5, 1.05, 1.0, .97, .97).verdict());
    }

    @Test
    void depth() {
        List<Integer> depths = List.of(2, 10, 50);
        List<String> pairs = List.of("sigmoid/a", "ReLU/b", "tanh/c");
        double inf = Double.POSITIVE_INFINITY;
        double[] flat = {0, 0.1, 0.2}, broken = {0.5, 3, inf}, grows = {0.2, 1.5, 3};
        // BN bounded everywhere, the baseline broken at 50 for 2 of 3 pairs: holds; the measurement names the first bad depth.
        Claim c = Depth.statisticsVerdict(false, depths, pairs, new double[][][] {{broken, broken, flat}, {flat, flat, flat}});
        assertEquals(Verdict.HOLDS, c.verdict());
        assertTrue(c.measurement().contains("sigmoid/a 10 (∞ at 50, with BN 0.2)") && c.measurement().contains("tanh/c none"), c.measurement());
        // BN's gradients grow with depth (bounded in fewer cells than all, but more than the baseline): partly.
        assertEquals(Verdict.PARTLY, Depth.statisticsVerdict(true, depths, pairs, new double[][][] {{broken, broken, broken}, {grows, flat, flat}}).verdict());
        // The baseline broken at 50 for only 1 of 3 pairs: not a majority, and BN no better elsewhere.
        assertEquals(Verdict.DOES_NOT_HOLD, Depth.statisticsVerdict(false, depths, pairs, new double[][][] {{broken, flat, flat}, {grows, flat, flat}}).verdict());

        Spread[] train = {s(.9), s(.9), s(.8)}, fail = {s(.9), s(.3), s(.1)}, late = {s(.9), s(.8), s(.4)};
        Claim t = Depth.trainingVerdict(depths, pairs, new Spread[][][] {{fail, fail, train}, {train, train, train}});
        assertEquals(Verdict.HOLDS, t.verdict());
        assertTrue(t.measurement().contains("sigmoid/a 10 (at 50: 10.0 % vs 80.0 % with BN)"), t.measurement());
        assertEquals(Verdict.PARTLY, Depth.trainingVerdict(depths, pairs, new Spread[][][] {{fail, fail, fail}, {late, train, train}}).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, Depth.trainingVerdict(depths, pairs, new Spread[][][] {{train, train, late}, {late, train, train}}).verdict());
    }

    @Test
    void placement() {
        Spread a = Spread.of(.95, .96, .97), b = Spread.of(.955, .965, .975), far = Spread.of(.90, .905, .91), low = Spread.of(.4, .45, .5);
        // difference 0.5 points, 2 s.e. = 2·√(2·0.01²/3) = 1.63 points: within the spread
        assertEquals(Verdict.HOLDS, Placement.placementVerdict(List.of(new Placement.Pair("MLP ReLU", a, b), new Placement.Pair("CNN ReLU", b, a)), .9).verdict());
        // 5.5 points apart, both above the floor: partly; one below the floor and no pair within the spread: does not hold
        Claim c = Placement.placementVerdict(List.of(new Placement.Pair("MLP ReLU", a, far), new Placement.Pair("CNN ReLU", a, b)), .9);
        assertEquals(Verdict.PARTLY, c.verdict());
        assertTrue(c.measurement().contains("MLP ReLU 96.0 ± 1.0 % vs 90.5 ± 0.5 % (+5.50 points; 1.29)"), c.measurement());
        assertEquals(Verdict.DOES_NOT_HOLD, Placement.placementVerdict(List.of(new Placement.Pair("MLP ReLU", a, low)), .9).verdict());
        // Two seeds are too few to decide "within the spread", however close: partly.
        assertEquals(Verdict.PARTLY, Placement.placementVerdict(List.of(new Placement.Pair("MLP ReLU", Spread.of(.95, .96), Spread.of(.95, .96))), .9).verdict());

        Spread acc = Spread.of(.9);
        assertEquals(Verdict.HOLDS, Placement.identityVerdict(new double[] {1e-7, 3e-7}, new double[] {0.5, 0.2}, acc, acc).verdict());
        assertEquals(Verdict.PARTLY, Placement.identityVerdict(new double[] {1e-7, 3e-7}, new double[] {0.5, 1e-3}, acc, acc).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, Placement.identityVerdict(new double[] {1e-7, 1e-3}, new double[] {0.5, 0.2}, acc, acc).verdict());
    }

    @Test
    void rnn() {
        Spread ln = Spread.of(.90, .91, .92), none = Spread.of(.80, .81, .82), close = Spread.of(.805, .815, .825);
        assertEquals(Verdict.HOLDS, RnnNorm.lnFaster(ln, none).verdict());
        assertEquals(Verdict.PARTLY, RnnNorm.lnFaster(close, none).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, RnnNorm.lnFaster(none, ln).verdict());
        Spread[] v = {Spread.of(0.0), Spread.of(0.5)}, r = {Spread.of(0.4), Spread.of(0.4)};
        assertEquals(Verdict.HOLDS, RnnNorm.perStepNeeded(ln, none, v, r, 0, 0).verdict());
        // A 1-point gap within two standard errors of very noisy seeds is only partly.
        assertEquals(Verdict.PARTLY, RnnNorm.perStepNeeded(Spread.of(.5, .9), Spread.of(.49, .89), v, r, 0, 0).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, RnnNorm.perStepNeeded(none, none, v, r, 0, 0).verdict());
        assertTrue(RnnNorm.perStepNeeded(ln, none, v, r, 0, 0).measurement().contains("at t = 0"));
        assertTrue(RnnNorm.perStepNeeded(none, none, v, r, 1, 0).measurement().contains("stopped by a non-finite gradient: 1 per-step"));
    }

    @Test
    void landscape() {
        assertEquals(Verdict.HOLDS, Landscape.smoothnessVerdict(new double[] {1, 2, 3}, new double[] {.5, 1, 1}).verdict());
        assertEquals(Verdict.PARTLY, Landscape.smoothnessVerdict(new double[] {1, 2, 3}, new double[] {.5, 3, 4}).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, Landscape.smoothnessVerdict(new double[] {1, 2, 3}, new double[] {2, 3, 4}).verdict());
        assertEquals(Verdict.HOLDS, Landscape.noisyVerdict(.8, .95, .94).verdict());
        assertEquals(Verdict.PARTLY, Landscape.noisyVerdict(.8, .95, .85).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, Landscape.noisyVerdict(.8, .95, .7).verdict());
        assertEquals(Verdict.HOLDS, Landscape.icsVerdict(.9, .85).verdict());
        assertEquals(Verdict.PARTLY, Landscape.icsVerdict(.8, .85).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, Landscape.icsVerdict(.5, .9).verdict());
    }

    @Test
    void transformer() {
        int[] d = {6, 12};
        Spread lo = Spread.of(0.70, 0.72), hi = Spread.of(0.85, 0.86), mid = Spread.of(0.84, 0.85);
        // Post-LN gains 14 points from warm-up, pre-LN 1: holds. Post-LN gains, but pre-LN gains as much: partly at best.
        assertEquals(Verdict.HOLDS, TransformerNorms.warmupVerdict(d, 3e-3, new Spread[] {lo, lo}, new Spread[] {hi, hi},
                new Spread[] {mid, mid}, new Spread[] {hi, hi}).verdict());
        assertEquals(Verdict.PARTLY, TransformerNorms.warmupVerdict(d, 3e-3, new Spread[] {lo, lo}, new Spread[] {hi, hi},
                new Spread[] {mid, lo}, new Spread[] {hi, hi}).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, TransformerNorms.warmupVerdict(d, 3e-3, new Spread[] {hi, hi}, new Spread[] {hi, hi},
                new Spread[] {lo, lo}, new Spread[] {hi, hi}).verdict());
        assertEquals(Verdict.HOLDS, TransformerNorms.gradNormVerdict(d, new double[] {2, 3}, new double[] {0.9, 0.8}).verdict());
        assertEquals(Verdict.PARTLY, TransformerNorms.gradNormVerdict(d, new double[] {1.2, 3}, new double[] {0.9, 0.8}).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, TransformerNorms.gradNormVerdict(d, new double[] {0.7, 3}, new double[] {0.9, 0.8}).verdict());
        assertEquals(Verdict.HOLDS, TransformerNorms.rmsVerdict(hi, mid, 1e-3, 0.7e-3, 0.01, 0.01).verdict());
        assertEquals(Verdict.PARTLY, TransformerNorms.rmsVerdict(hi, mid, 1e-3, 0.95e-3, 0.01, 0.01).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, TransformerNorms.rmsVerdict(hi, lo, 1e-3, 1.1e-3, 0.01, 0.01).verdict());
        assertEquals(Verdict.HOLDS, TransformerNorms.bnVerdict(hi, lo).verdict());
        assertEquals(Verdict.PARTLY, TransformerNorms.bnVerdict(hi, mid).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, TransformerNorms.bnVerdict(mid, hi).verdict());
    }

    @Test
    void zoo() {
        assertEquals(Verdict.HOLDS, Zoo.rmsVerdict(1.0, 0.8).verdict());
        assertEquals(Verdict.PARTLY, Zoo.rmsVerdict(1.0, 0.97).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, Zoo.rmsVerdict(1.0, 1.1).verdict());
        assertEquals(Verdict.HOLDS, Zoo.foldVerdict(10e-6, 14e-6, 10.5e-6, .9, .9).verdict());
        assertEquals(Verdict.PARTLY, Zoo.foldVerdict(10e-6, 14e-6, 12e-6, .9, .9).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, Zoo.foldVerdict(10e-6, 14e-6, 15e-6, .9, .9).verdict());
    }

    @Test
    void figure1() {
        JsonObject j = JsonParser.parseString("{\"experiment\":\"mnist-fig1\",\"baseline_final_accuracy\":0.95,\"bn_final_accuracy\":0.97,"
                + "\"speedup\":5.0,\"parameters\":{\"steps\":50000}}").getAsJsonObject();
        assertEquals(Verdict.HOLDS, EvidenceReport.figure1Claim(j).verdict());
        j.addProperty("speedup", 1.2);
        assertEquals(Verdict.PARTLY, EvidenceReport.figure1Claim(j).verdict());
        j.add("speedup", com.google.gson.JsonNull.INSTANCE);
        j.addProperty("bn_final_accuracy", 0.9);
        assertEquals(Verdict.DOES_NOT_HOLD, EvidenceReport.figure1Claim(j).verdict());
    }

    @Test
    void figure1SpeedupIsUndefinedWhileTheBaselineIsAtChance() {
        // A short run: the baseline at 11 %, a "speedup" of 6.0 recorded by an older normlab.
        JsonObject j = JsonParser.parseString("{\"experiment\":\"mnist-fig1\",\"baseline_final_accuracy\":0.11,\"bn_final_accuracy\":0.90,"
                + "\"speedup\":6.0,\"parameters\":{\"steps\":300}}").getAsJsonObject();
        Claim c = EvidenceReport.figure1Claim(j);
        assertEquals(Verdict.PARTLY, c.verdict());
        assertTrue(c.measurement().contains("undefined: baseline still at chance"), c.measurement());
        j.addProperty("baseline_at_chance", false);
        j.addProperty("baseline_final_accuracy", 0.5);
        assertEquals(Verdict.HOLDS, EvidenceReport.figure1Claim(j).verdict());
    }

    /** Figure 1 over seeds (mnist --seeds N): every seed must pass the single run's rule; the median decides "partly". */
    @Test
    void figure1OverSeedsAsksEverySeed() {
        String seed = "{\"seed\":%d,\"baseline_final_accuracy\":0.95,\"bn_final_accuracy\":0.97,\"speedup\":%s,\"baseline_at_chance\":false}";
        String over = "\"over_seeds\":{\"baseline_final_accuracy\":{\"median\":0.95,\"min\":0.95,\"max\":0.95,\"not_reached\":0},"
                + "\"bn_final_accuracy\":{\"median\":0.97,\"min\":0.97,\"max\":0.97,\"not_reached\":0},"
                + "\"speedup\":{\"median\":%s,\"min\":%s,\"max\":9.0,\"not_reached\":0}}";
        java.util.function.Function<double[], JsonObject> make = sp -> JsonParser.parseString("{\"experiment\":\"mnist-fig1\",\"seed_runs\":["
                + String.format(java.util.Locale.ROOT, seed, 1, sp[0]) + "," + String.format(java.util.Locale.ROOT, seed, 2, sp[1]) + ","
                + String.format(java.util.Locale.ROOT, seed, 3, sp[2]) + "]," + String.format(java.util.Locale.ROOT, over, sp[1], sp[0])
                + ",\"parameters\":{\"steps\":50000}}").getAsJsonObject();
        Claim all = EvidenceReport.figure1Claim(make.apply(new double[] {4.0, 6.0, 9.0}));
        assertEquals(Verdict.HOLDS, all.verdict());
        assertTrue(all.measurement().startsWith("3 seeds") && all.measurement().contains("6.0× (4.0–9.0×)"), all.measurement());
        // One seed below the 2× of the rule: the median still passes, the claim holds only in part.
        assertEquals(Verdict.PARTLY, EvidenceReport.figure1Claim(make.apply(new double[] {1.5, 6.0, 9.0})).verdict());
    }

    @Test
    void onlyProtocolRunsOfFigure1AreEvidence() {
        var d = normlab.lab.experiments.MnistExperiment.Params.defaults();
        String fmt = "{\"experiment\":\"mnist-fig1\",\"parameters\":{\"data\":\"%s\",\"steps\":%d,\"eval_every\":%d,\"batch\":%d,"
                + "\"lr\":%s,\"std\":%s,\"unit\":%d}}";
        java.util.function.BiFunction<String, Double, JsonObject> run = (data, lr) -> JsonParser.parseString(String.format(java.util.Locale.ROOT, fmt,
                data, d.steps(), d.evalEvery(), d.batch(), lr, d.std(), d.unit())).getAsJsonObject();
        assertTrue(EvidenceReport.matchesProtocol(run.apply("mnist", d.lr())));
        assertFalse(EvidenceReport.matchesProtocol(run.apply("fashion-mnist", d.lr())));
        assertFalse(EvidenceReport.matchesProtocol(run.apply("mnist", d.lr() * 2)));
        assertTrue(EvidenceReport.matchesProtocol(JsonParser.parseString("{\"experiment\":\"lr-sweep\"}").getAsJsonObject()));
    }

    @Test
    void numbersAreCompact() {
        assertEquals("0.1", RunOutput.num(0.1));
        assertEquals("3", RunOutput.num(3.0));
        assertEquals("0.0123", RunOutput.num(0.012345));
        assertEquals("1.00e+35", RunOutput.num(1e35));
        assertEquals("12345", RunOutput.num(12345));
    }

    @Test
    void spreadIgnoresNonFiniteValues() {
        Spread sp = Spread.of(1, 2, 3, Double.NaN);
        assertEquals(2, sp.mean(), 1e-12);
        assertEquals(1, sp.sd(), 1e-12);
        assertEquals(1, sp.nonFinite());
        assertEquals(3, sp.n());
    }
}
