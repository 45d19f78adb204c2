package normlab.lab.evidence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import normlab.data.Dataset;
import normlab.nn.Sequential;
import normlab.models.SmallCnn;
import normlab.tensor.Rng;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The experiments' core logic on tiny real settings: divergence handling, the measurements' invariants, the files. */
class ExperimentsTest {
    static Settings quiet(int seeds) {
        return new Settings(true, Runs.seeds(1, seeds), 2, new PrintStream(new ByteArrayOutputStream()));
    }

    @BeforeAll
    static void headless() {
        System.setProperty("java.awt.headless", "true");
    }

    @Test
    void divergingRunStopsCleanlyAndIsReported() throws Exception {
        Dataset train = Runs.data("mnist", true, 600), test = Runs.data("mnist", false, 200);
        Sequential m = Runs.mlp(false, Runs.WeightInit.normal(0.1), new Rng(1));
        Runs.Outcome o = Runs.train(m, Runs.sgd(m, 1e37, 0), train, test, 50, 60, new Rng(2), true);
        assertEquals(Runs.Status.DIVERGED, o.status());
        assertTrue(o.steps() < 50, "the run must stop at the first non-finite loss, ran " + o.steps());
        assertTrue(o.accuracy() >= 0 && o.accuracy() <= 1);
    }

    @Test
    void lrSweepReportsDivergenceAndWritesItsFiles(@TempDir Path tmp) throws Exception {
        LrSweep.Params p = new LrSweep.Params(0.1, new double[] {1, 1e36}, 30, 60, 0.1, 600, 200);
        RunOutput r = new LrSweep().run(p, quiet(1));
        r.write(tmp);
        List<String> csv = Files.readAllLines(tmp.resolve("runs.csv"));
        assertEquals(1 + 4, csv.size(), String.join("\n", csv));
        // At lr 1e35 BN's weights overflow (diverged, stopped early); the sigmoid baseline saturates and ends at chance.
        String bnHuge = csv.stream().filter(l -> l.startsWith("bn,1.00000e+35")).findFirst().orElseThrow();
        String[] f = bnHuge.split(",");
        assertEquals("diverged", f[3], bnHuge);
        assertTrue(Integer.parseInt(f[4]) < 30, "the diverged run must stop early: " + bnHuge);
        assertTrue(csv.stream().filter(l -> l.contains("e+35")).noneMatch(l -> l.contains(",ok,")), String.join("\n", csv));
        assertTrue(csv.stream().anyMatch(l -> l.startsWith("bn,0.1") && !l.contains("diverged")), String.join("\n", csv));
        JsonObject j = JsonParser.parseString(Files.readString(tmp.resolve("summary.json"))).getAsJsonObject();
        assertEquals("lr-sweep", j.get("experiment").getAsString());
        assertEquals(1, j.getAsJsonArray("claims").size());
        assertTrue(j.getAsJsonArray("claims").get(0).getAsJsonObject().get("measurement").getAsString().contains("failed runs"));
        assertTrue(Files.size(tmp.resolve("lr_accuracy.png")) > 1000 && Files.readString(tmp.resolve("lr_accuracy.svg")).contains("<svg"));
    }

    @Test
    void shiftMeasuresBatchStatisticsAndRecalibration() throws Exception {
        Shift.Params p = new Shift.Params(40, 32, 0.02, 1024, 256, new int[] {1, 64}, 0.5, 0.35, new int[] {32, 256}, 512);
        RunOutput r = new Shift().run(p, quiet(1));
        JsonObject res = r.results;
        double running = res.get("accuracy_running_stats").getAsDouble(), b1 = res.get("accuracy_batch_stats_at_1").getAsDouble();
        double shifted = res.get("accuracy_shifted_running_stats").getAsDouble(), recal = res.get("accuracy_shifted_recalibrated_256").getAsDouble();
        assertTrue(running > 0.4, "a trained CNN is far above chance: " + running);
        // A shift of every pixel's contrast and brightness breaks the running statistics; recalibration repairs most of it.
        assertTrue(shifted < running - 0.05, "shift must cost accuracy: " + shifted + " vs " + running);
        assertTrue(recal > shifted + 0.05, "recalibration must recover: " + recal + " vs " + shifted);
        assertTrue(b1 >= 0 && b1 <= 1);
        assertEquals(2, r.claims.size());
    }

    @Test
    void shiftedDomainIsClampedAffine() {
        Dataset d = new Dataset("t", new float[] {0f, 0.5f, 1f, 0.2f}, new int[] {0}, 2, 2);
        Dataset s = Shift.shifted(d, 0.5, 0.6);
        assertEquals(0.6f, s.images[0], 1e-6f);
        assertEquals(0.85f, s.images[1], 1e-6f);
        assertEquals(1f, s.images[2], 1e-6f);
    }

    @Test
    void dropoutBeforeBnInflatesRunningVariance() throws Exception {
        Dataset train = Runs.data("mnist", true, 1000), test = Runs.data("mnist", false, 300);
        Rng r = new Rng(3);
        Sequential before = DropoutBn.build(0.5, true, r.split()), none = DropoutBn.build(0, true, r.split());
        for (Sequential m : List.of(before, none)) Runs.train(m, Runs.sgd(m, 0.05, 0.9), train, test, 60, 64, new Rng(4), true);
        double[] sb = DropoutBn.varianceShift(before, test), sn = DropoutBn.varianceShift(none, test);
        // Layers 2 and 3 see dropped-out inputs in training only: their running variance exceeds the test variance.
        assertTrue(sb[1] > 1.2 && sb[2] > 1.2, java.util.Arrays.toString(sb));
        assertTrue(Math.abs(sn[1] - 1) < 0.3 && Math.abs(sn[2] - 1) < 0.3, java.util.Arrays.toString(sn));
    }

    @Test
    void landscapeProbeLeavesTheModelUnchanged() throws Exception {
        Dataset train = Runs.data("mnist", true, 256);
        Landscape.Params p = new Landscape.Params(0, 1, 64, 0.1, 0.5, 0.5, 256, 100);
        for (int v = 0; v < 3; v++) {
            Sequential m = Landscape.build(v, p, new Rng(5));
            var before = m.stateDict();
            int[] idx = Dataset.range(0, 64);
            Landscape.Probe q = Landscape.probe(m, 0, train.batchFlat(idx), train.labels(idx), 0.1);
            var after = m.stateDict();
            for (var e : before.entrySet()) {
                assertTrue(java.util.Arrays.equals(e.getValue().data, after.get(e.getKey()).data), "probe changed " + e.getKey());
            }
            assertTrue(q.lossRange() >= 0 && q.gradChange() >= 0 && q.beta() >= 0 && q.icsCos() <= 1.0000001 && q.icsCos() >= -1.0000001, q.toString());
        }
    }

    @Test
    void batchRenormScheduleIsScaledToTheRun() {
        Sequential m = Runs.cnn(SmallCnn.Norm.BATCH_RENORM, 1000, new Rng(1));
        var br = m.layers().stream().filter(l -> l instanceof normlab.norm.BatchRenorm).map(l -> (normlab.norm.BatchRenorm) l).toList();
        assertEquals(2, br.size());
        assertEquals(1.0, br.get(0).schedule.rmax(99));
        assertEquals(3.0, br.get(0).schedule.rmax(800), 1e-12);
        assertEquals(5.0, br.get(0).schedule.dmax(500), 1e-12);
    }

    @Test
    void transformerRunsEveryArchitectureAndWritesItsFiles(@TempDir Path tmp) throws Exception {
        TransformerNorms.Params p = new TransformerNorms.Params(8, 2, 16, new int[] {1, 2}, new double[] {3e-3}, 0.2, 8, 16, 128, 64,
                16, 2);
        RunOutput r = new TransformerNorms().run(p, quiet(1));
        r.write(tmp);
        List<String> runs = Files.readAllLines(tmp.resolve("runs.csv"));
        // Per depth: post-LN and pre-LN with and without warm-up, pre-RMSNorm, pre-BN.
        assertEquals(1 + 2 * 6, runs.size(), String.join("\n", runs));
        assertTrue(runs.stream().anyMatch(l -> l.startsWith("post-LN,2,0.00300000,2,")), String.join("\n", runs));
        List<String> norms = Files.readAllLines(tmp.resolve("init_grad_norms.csv"));
        assertEquals(1 + 4 * (1 + 2), norms.size(), String.join("\n", norms));
        for (String l : norms.subList(1, norms.size())) assertTrue(Double.parseDouble(l.split(",")[4]) > 0, l);
        assertEquals(4, r.claims.size());
        assertTrue(Files.size(tmp.resolve("init_grad_norms_depth2.png")) > 1000 && Files.size(tmp.resolve("accuracy_depth1.png")) > 1000);
        assertTrue(r.results.get("layernorm_seconds").getAsDouble() > 0);
    }

    @Test
    void transformerInitGradientNormsAreDeterministicAndPerLayer() throws Exception {
        Dataset train = Runs.data("fashion", true, 64);
        TransformerNorms.Params p = TransformerNorms.Params.of(true);
        double[] a = TransformerNorms.initGradNorms(p, TransformerNorms.Arch.POST_LN, 3, 7, train);
        double[] b = TransformerNorms.initGradNorms(p, TransformerNorms.Arch.POST_LN, 3, 7, train);
        assertEquals(3, a.length);
        assertTrue(java.util.Arrays.equals(a, b), java.util.Arrays.toString(a) + " vs " + java.util.Arrays.toString(b));
        double[] pre = TransformerNorms.initGradNorms(p, TransformerNorms.Arch.PRE_LN, 3, 7, train);
        assertTrue(!java.util.Arrays.equals(a, pre), "the placement changes the gradients");
    }
}
