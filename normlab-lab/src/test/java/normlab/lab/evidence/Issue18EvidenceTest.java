package normlab.lab.evidence;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import normlab.data.Dataset;
import normlab.nn.Dropout;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.GhostBatchNorm;
import normlab.tensor.Rng;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The experiments of issue #18's items 3–5 (paper-4-2, regularization, contrast): their pieces (perturbations, models,
 * curves), their verdict rules on each side of their thresholds, and one tiny run writing its files.
 */
class Issue18EvidenceTest {
    @BeforeAll
    static void headless() {
        System.setProperty("java.awt.headless", "true");
    }

    /** Three values with the given mean and a small spread (s.d. 0.01). */
    static Spread s3(double mean) {
        return Spread.of(mean - 0.01, mean, mean + 0.01);
    }

    @Test
    void differenceRuleNeedsThreeSeedsTwoStandardErrorsAndTheMinimum() {
        assertTrue(Effect.exceeds(s3(0.9), s3(0.8), 0.01));
        assertFalse(Effect.exceeds(s3(0.9), s3(0.8), 0.2), "below the minimum effect");
        assertFalse(Effect.exceeds(Spread.of(0.9, 0.91), Spread.of(0.8, 0.81), 0.01), "two seeds are too few");
        // a 1-point difference with seed s.d. 1 point: SE √(2/3) ≈ 0.82 points, 2·SE > 1 point
        assertFalse(Effect.exceeds(s3(0.81), s3(0.80), 0.001));
        assertTrue(Effect.exceeds(s3(0.85), s3(0.80), 0.001));
    }

    @Test
    void perImageContrastIsAnAffineMapPerImageInsideTheUnitRange() {
        Rng r = new Rng(1);
        float[] px = new float[3 * 4];
        for (int i = 0; i < px.length; i++) px[i] = (float) r.nextDouble();
        px[0] = 0;
        px[1] = 1;
        Dataset d = new Dataset("t", px, new int[] {0, 1, 2}, 2, 2);
        Dataset p = Contrast.perImage(d, 0.2, new Rng(5)), c = Contrast.perImage(d, 0.2, false, new Rng(5));
        for (int i = 0; i < 3; i++) {
            // recover c and b of image i from two of its pixels; every pixel must follow them
            int a = 4 * i, b = 4 * i + 1;
            double ci = (p.images[b] - p.images[a]) / (px[b] - px[a]), bi = p.images[a] - ci * px[a];
            assertTrue(ci >= 0.2 - 1e-6 && ci <= 1 + 1e-6, "contrast " + ci);
            assertTrue(bi >= -1e-6 && bi <= 1 - ci + 1e-6, "brightness " + bi);
            for (int j = a; j < a + 4; j++) {
                assertEquals(ci * px[j] + bi, p.images[j], 1e-5);
                assertTrue(p.images[j] >= 0 && p.images[j] <= 1);
                assertEquals(ci * px[j], c.images[j], 1e-5, "contrast only: same c, b = 0");
            }
        }
    }

    @Test
    void regularizationModelsHaveTheirGhostBatchAndDropoutBeforeTheClassifier() {
        // an MLP whose every norm is a BatchNorm1d-like layer (m = virtual batch), one before each of the 3 ReLUs
        Sequential g = Regularization.build(new Regularization.Variant(Regularization.Norm.GHOST_BN, 16, false), 0.5, new Rng(1));
        List<Integer> vbs = g.layers().stream().filter(GhostBatchNorm.class::isInstance).map(m -> ((GhostBatchNorm) m).virtualBatchSize).toList();
        assertEquals(List.of(16, 16, 16), vbs);
        assertEquals(0, g.layers().stream().filter(normlab.norm.BatchNorm1d.class::isInstance).count());
        for (int i = 0; i < g.size(); i++) if (g.get(i) instanceof GhostBatchNorm) assertTrue(g.get(i + 1) instanceof normlab.nn.Activation.ReLU);
        Sequential b = Regularization.build(new Regularization.Variant(Regularization.Norm.BN, 0, false), 0.5, new Rng(1));
        assertEquals(3, b.layers().stream().filter(normlab.norm.BatchNorm1d.class::isInstance).count());
        Sequential d = Regularization.build(new Regularization.Variant(Regularization.Norm.BN, 0, true), 0.5, new Rng(1));
        List<Module> l = d.layers();
        assertTrue(l.get(l.size() - 1) instanceof Linear && l.get(l.size() - 2) instanceof Dropout, l.toString());
        assertEquals(1, l.stream().filter(Dropout.class::isInstance).count());
        assertEquals(0, Regularization.build(new Regularization.Variant(Regularization.Norm.NONE, 0, false), 0.5, new Rng(1)).layers().stream()
                .filter(Dropout.class::isInstance).count());
        assertThrows(IllegalArgumentException.class, () -> new Regularization.Variant(Regularization.Norm.BN, 4, false));
    }

    @Test
    void stepsToReachATargetOnMeanCurves() {
        int[] steps = {10, 20, 30};
        Paper42.Run a = new Paper42.Run(Paper42.Variant.BN, 0.1, 1, null, steps, new double[] {0.2, 0.6, 0.8});
        Paper42.Run b = new Paper42.Run(Paper42.Variant.BN, 0.1, 2, null, new int[] {10}, new double[] {0.4}); // stopped early
        assertArrayEquals(new double[] {0.3, 0.6, 0.8}, Paper42.meanCurve(steps, List.of(a, b)), 1e-12);
        assertEquals(20, Paper42.stepsTo(steps, a.curve(), 0.6));
        assertTrue(Double.isNaN(Paper42.stepsTo(steps, a.curve(), 0.9)));
        assertEquals(0.8, Paper42.max(new double[] {0.2, Double.NaN, 0.8}));
        // rise over the last quarter: steps 10…40, ¾ of 40 = 30 → curve(40) − curve(30)
        assertEquals(0.05, Paper42.lastQuarterRise(new int[] {10, 20, 30, 40}, new double[] {0.2, 0.6, 0.8, 0.85}), 1e-12);
        assertTrue(Double.isNaN(Paper42.lastQuarterRise(new int[] {40}, new double[] {0.85})));
    }

    @Test
    void paperRules() {
        // baseline reaches its best at step 1000; BN's seeds at 300–320: under half, clearly
        assertEquals(Verdict.HOLDS, Paper42.speedClaim("c", 2, "s", 0.9, 1000, 300, Spread.of(300, 310, 320), 50).verdict());
        // at 450–550 on average 500: not under half by 2 SE, but the mean curve reaches it earlier than the baseline
        assertEquals(Verdict.PARTLY, Paper42.speedClaim("c", 2, "s", 0.9, 1000, 500, Spread.of(450, 500, 550), 50).verdict());
        // one seed never reaches it
        assertEquals(Verdict.PARTLY, Paper42.speedClaim("c", 2, "s", 0.9, 1000, 300, Spread.of(300, 310, Double.NaN), 50).verdict());
        Claim never = Paper42.speedClaim("c", 5, "s", 0.9, 1000, Double.NaN, Spread.of(Double.NaN, Double.NaN, Double.NaN), 50);
        assertEquals(Verdict.DOES_NOT_HOLD, never.verdict());
        assertTrue(never.measurement().contains("0 of 3 seeds"), never.measurement());
        assertEquals(Verdict.HOLDS, Paper42.sigmoidClaim(s3(0.7), s3(0.1), 0.1).verdict());
        assertEquals(Verdict.PARTLY, Paper42.sigmoidClaim(s3(0.7), s3(0.4), 0.1).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, Paper42.sigmoidClaim(s3(0.15), s3(0.1), 0.1).verdict());
    }

    @Test
    void regularizationRules() {
        assertEquals(Verdict.HOLDS, Regularization.bnRegularizes(s3(0.2), s3(0.1), s3(0.7), s3(0.7)).verdict());
        assertEquals(Verdict.PARTLY, Regularization.bnRegularizes(s3(0.1), s3(0.1), s3(0.7), s3(0.8)).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, Regularization.bnRegularizes(s3(0.1), s3(0.2), s3(0.8), s3(0.8)).verdict());
        int[] vb = {4, 16, 64};
        assertEquals(Verdict.HOLDS, Regularization.ghostClaim(vb, new Spread[] {s3(0.05), s3(0.08), s3(0.1)}, s3(0.12), 128).verdict());
        assertEquals(Verdict.PARTLY, Regularization.ghostClaim(vb, new Spread[] {s3(0.05), s3(0.13), s3(0.1)}, s3(0.12), 128).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, Regularization.ghostClaim(vb, new Spread[] {s3(0.15), s3(0.13), s3(0.1)}, s3(0.12), 128).verdict());
        assertEquals(Verdict.HOLDS, Regularization.dropoutClaim(s3(0.7), s3(0.75), s3(0.8), s3(0.8)).verdict());
        assertEquals(Verdict.PARTLY, Regularization.dropoutClaim(s3(0.7), s3(0.75), s3(0.8), s3(0.85)).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, Regularization.dropoutClaim(s3(0.7), s3(0.9), s3(0.8), s3(0.85)).verdict());
        // "adds nothing" is not shown by one seed
        assertEquals(Verdict.DOES_NOT_HOLD, Regularization.dropoutClaim(Spread.of(.7), Spread.of(.7), Spread.of(.8), Spread.of(.8)).verdict());
    }

    @Test
    void contrastRules() {
        assertEquals(Verdict.HOLDS, Contrast.mismatchClaim(s3(0.7), s3(0.8), s3(0.3), s3(1.0), s3(0.05), s3(1.0)).verdict());
        // only the mean is off, or only the variance (ratio 0.75: off by ×1.33)
        assertEquals(Verdict.PARTLY, Contrast.mismatchClaim(s3(0.8), s3(0.8), s3(0.3), s3(1.0), s3(0.05), s3(1.0)).verdict());
        assertEquals(Verdict.PARTLY, Contrast.mismatchClaim(s3(0.8), s3(0.8), s3(0.05), s3(0.75), s3(0.05), s3(1.02)).verdict());
        // both within twice what the clean-trained BN's lagging statistics show, or too small
        assertEquals(Verdict.DOES_NOT_HOLD, Contrast.mismatchClaim(s3(0.8), s3(0.8), s3(0.3), s3(0.75), s3(0.2), s3(0.8)).verdict());
        assertEquals(Verdict.DOES_NOT_HOLD, Contrast.mismatchClaim(s3(0.8), s3(0.8), s3(0.05), s3(0.9), s3(0.05), s3(1.0)).verdict());
        assertEquals(Verdict.HOLDS, Contrast.instanceClaim(s3(0.2), s3(0.01), s3(0.1), s3(0.15), s3(0.1), s3(0)).verdict());
        Claim p = Contrast.instanceClaim(s3(0.2), s3(0.05), s3(0.1), s3(0.15), s3(0.1), s3(0));
        assertEquals(Verdict.PARTLY, p.verdict());
        assertTrue(p.measurement().contains("InstanceNorm 5.0 ± 1.0"), p.measurement());
        assertEquals(Verdict.DOES_NOT_HOLD, Contrast.instanceClaim(s3(0.05), s3(0.05), s3(0.1), s3(0.15), s3(0.1), s3(0)).verdict());
    }

    @Test
    void tinyPaperRunWritesTheTableBesideThePapersNumbers(@TempDir Path tmp) throws Exception {
        Paper42.Params p = new Paper42.Params(2, 6, 8, new double[] {0.01, 0.05}, 0.4, 200, 100, 50, 3);
        RunOutput r = new Paper42().run(p, ExperimentsTest.quiet(1));
        r.write(tmp);
        List<String> runs = Files.readAllLines(tmp.resolve("runs.csv"));
        assertEquals(1 + 2 + 5, runs.size(), String.join("\n", runs)); // grid of 2 rates + 5 variants, one seed
        List<String> table = Files.readAllLines(tmp.resolve("table.csv"));
        assertEquals(1 + 6, table.size(), String.join("\n", table));
        assertTrue(table.stream().anyMatch(l -> l.startsWith("BN-x5,") && l.endsWith(",2.10000e+06,0.730000")), String.join("\n", table));
        List<String> curves = Files.readAllLines(tmp.resolve("curves.csv"));
        assertEquals(1 + 7 * 2, curves.size(), String.join("\n", curves)); // evaluations after steps 3 and 6
        JsonObject j = JsonParser.parseString(Files.readString(tmp.resolve("summary.json"))).getAsJsonObject();
        assertEquals(3, j.getAsJsonArray("claims").size());
        assertTrue(Files.size(tmp.resolve("paper42_curves.png")) > 1000);
    }
}
