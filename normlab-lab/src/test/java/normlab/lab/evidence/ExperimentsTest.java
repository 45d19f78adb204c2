package normlab.lab.evidence;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertThrows;

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
import normlab.tensor.Tensor;
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
    void resnetTrainsEveryVariantAndPublishesCurvesAndClaims(@TempDir Path tmp) throws Exception {
        ResNetDepth.Params p = new ResNetDepth.Params(List.of(8), List.of(normlab.models.ResNet.BN, normlab.models.ResNet.NONE, ResNetDepth.NONE_ZERO_INIT), new int[] {4, 8, 8}, 0.05, 4, 16,
                256, 64, 32, 2);
        RunOutput r = new ResNetDepth().run(p, quiet(1));
        r.write(tmp);
        List<String> runs = Files.readAllLines(tmp.resolve("runs.csv"));
        assertEquals(1 + 6, runs.size(), String.join("\n", runs)); // post/pre × BN/none/none+zero-init, one seed
        List<String> curves = Files.readAllLines(tmp.resolve("curves.csv"));
        // per run: 4 loss points (one per step) and 2 training-accuracy points (after steps 2 and 4)
        assertEquals(1 + 6 * (4 + 2), curves.size(), String.join("\n", curves));
        assertTrue(curves.stream().anyMatch(l -> l.startsWith("8,PRE,BN,1,train_accuracy,4,")), String.join("\n", curves));
        JsonObject j = JsonParser.parseString(Files.readString(tmp.resolve("summary.json"))).getAsJsonObject();
        assertEquals("resnet", j.get("experiment").getAsString());
        assertEquals(3, j.getAsJsonArray("claims").size()); // pre-activation, no norm, zero-init
        assertTrue(curves.stream().anyMatch(l -> l.startsWith("8,POST,none+zero-init,1,")), String.join("\n", curves));
        assertTrue(Files.size(tmp.resolve("resnet_train_loss.png")) > 1000 && Files.exists(tmp.resolve("resnet_depth.svg")));
    }

    /** --protocol lean: depths 20 and 56 at half width, at 56 only the claims' norms; a bad value is refused even with --quick. */
    @Test
    void resnetLeanProtocol() {
        java.util.function.Function<String, Settings> with = v -> new Settings(false, List.of(1L), 1, new PrintStream(new ByteArrayOutputStream()),
                java.util.Map.of("--protocol", v));
        ResNetDepth.Params lean = new ResNetDepth().params(with.apply("lean")), standard = new ResNetDepth().params(with.apply("standard"));
        assertEquals(List.of(20, 56), lean.depths());
        assertArrayEquals(new int[] {8, 16, 32}, lean.widths());
        assertEquals(List.of("BN", "none", "none+zero-init"), lean.normsAt(56).stream().map(normlab.models.ResNet.Norm::label).toList());
        assertEquals(4, lean.normsAt(20).size());
        assertEquals(List.of(8, 20, 56), standard.depths());
        assertEquals(4, standard.normsAt(56).size());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new ResNetDepth().params(new Settings(true, List.of(1L), 1, System.out, java.util.Map.of("--protocol", "huge"))));
        assertTrue(e.getMessage().startsWith("--protocol must be standard or lean"), e.getMessage());
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
    void shiftMeasuresRecalibration() throws Exception {
        Shift.Params p = new Shift.Params(40, 32, 0.02, 1024, 256, 0.5, 0.35, new int[] {32, 256}, 512);
        RunOutput r = new Shift().run(p, quiet(1));
        JsonObject res = r.results;
        double running = res.get("accuracy_running_stats").getAsDouble();
        double shifted = res.get("accuracy_shifted_running_stats").getAsDouble(), recal = res.get("accuracy_shifted_recalibrated_256").getAsDouble();
        assertTrue(running > 0.4, "a trained CNN is far above chance: " + running);
        // A shift of every pixel's contrast and brightness breaks the running statistics; recalibration repairs most of it.
        assertTrue(shifted < running - 0.05, "shift must cost accuracy: " + shifted + " vs " + running);
        assertTrue(recal > shifted + 0.05, "recalibration must recover: " + recal + " vs " + shifted);
        assertEquals(1, r.claims.size());
    }

    @Test
    void batchStatsAtInferenceDependOnTheBatch(@TempDir Path tmp) throws Exception {
        BatchStats.Params p = new BatchStats.Params(200, 60, 0.1, 2048, 600, new int[] {2, 64});
        RunOutput r = new BatchStats().run(p, quiet(1));
        r.write(tmp);
        JsonObject res = r.results;
        double running = res.get("accuracy_running_stats").getAsDouble();
        assertTrue(running > 0.6, "the BN MLP trains: " + running);
        // Batch 2 normalizes every feature to ±1: the prediction depends on the partner; batch 64 is close to running.
        assertTrue(res.get("accuracy_batch_stats_iid_at_2").getAsDouble() < running - 0.05, res.toString());
        assertTrue(res.get("prediction_change_rate_at_2").getAsDouble() > res.get("prediction_change_rate_at_64").getAsDouble(), res.toString());
        assertTrue(res.get("accuracy_batch_stats_one_class_at_64").getAsDouble() < res.get("accuracy_batch_stats_iid_at_64").getAsDouble(), res.toString());
        List<String> csv = Files.readAllLines(tmp.resolve("batch_stats.csv"));
        assertEquals(1 + 2, csv.size(), String.join("\n", csv));
        assertEquals(1, r.claims.size());
        assertTrue(Files.size(tmp.resolve("batch_stats_accuracy.png")) > 1000 && Files.exists(tmp.resolve("batch_stats_changes.svg")));
    }

    @Test
    void batchStatPredictionsKeepGroupsApartAndRunningStatisticsDoNotDependOnTheBatch() throws Exception {
        Dataset test = Runs.data("mnist", false, 40);
        Sequential m = Runs.mlp(true, Runs.WeightInit.XAVIER, new Rng(4));
        m.eval();
        int[] order = Dataset.range(0, 40);
        // groups of 7 and 33 in batches of 4: 1 + 8 full batches, 3 + 1 images left without a prediction
        int[] pred = BatchStats.batchStatPredictions(m, test, order, new int[] {0, 7}, 4);
        assertEquals(4, java.util.Arrays.stream(pred).filter(x -> x < 0).count());
        assertTrue(pred[3] >= 0 && pred[4] < 0 && pred[6] < 0 && pred[7] >= 0 && pred[38] >= 0 && pred[39] < 0);
        assertTrue(m.isTraining() == false, "the model itself stays in evaluation mode");
        int[] a = BatchStats.argmax(m.forward(test.batchFlat(Dataset.range(0, 40))));
        int[] b = BatchStats.argmax(m.forward(test.batchFlat(Dataset.range(0, 2))));
        assertEquals(a[0], b[0]);
        assertEquals(a[1], b[1]);
        int[] sh = BatchStats.shuffled(40, new Rng(1));
        assertEquals(780, java.util.Arrays.stream(sh).sum()); // a permutation of 0 … 39
    }

    @Test
    void batchSweepReportsErrorAgainstBatchAndValuesPerStatistic(@TempDir Path tmp) throws Exception {
        BatchSweep.Sweep mlp = new BatchSweep.Sweep(List.of(BatchSweep.Method.BN, BatchSweep.Method.GN, BatchSweep.Method.BATCH_RENORM), new int[] {32, 4, 2},
                0.1, 60, 0, 1, 128, 100);
        BatchSweep.Sweep res = new BatchSweep.Sweep(List.of(BatchSweep.Method.BN, BatchSweep.Method.IN), new int[] {32, 2}, 0.05, 32, 0.9, 1, 64, 50);
        RunOutput r = new BatchSweep().run(new BatchSweep.Params(mlp, res), quiet(1));
        r.write(tmp);
        List<String> csv = Files.readAllLines(tmp.resolve("runs.csv"));
        assertEquals(1 + 9 + 4, csv.size(), String.join("\n", csv));
        // m of the deepest statistic: B for the MLP, 16·B for the ResNet's 4×4 last stage
        assertTrue(csv.stream().anyMatch(l -> l.startsWith("MLP,BatchNorm,4,4,")), String.join("\n", csv));
        assertTrue(csv.stream().anyMatch(l -> l.startsWith("RESNET,BatchNorm,2,32,")), String.join("\n", csv));
        assertEquals(2, r.claims.size()); // the MLP's GN and BatchRenorm claims; the ResNet's need GN and batch 4
        assertTrue(r.claims.get(0).measurement().contains("m 32 → 2"), r.claims.get(0).measurement());
        assertTrue(Files.size(tmp.resolve("batch_error_mlp.png")) > 1000 && Files.exists(tmp.resolve("batch_error_resnet.svg")));
        assertEquals(64, BatchSweep.m(BatchSweep.Net.RESNET, BatchSweep.Method.GHOST_BN, 32)); // GhostBN: min(B, 4)·16
        assertEquals(4, normlab.models.ResNet.finalSize(BatchSweep.config(normlab.models.ResNet.BN), 28, 28)[0]);
    }

    @Test
    void batchSweepWithA2x2LastStageRunsTheResNetAloneAsASetting(@TempDir Path tmp) throws Exception {
        Settings s = new Settings(true, List.of(1L), 1, new java.io.PrintStream(java.io.OutputStream.nullOutputStream()),
                java.util.Map.of("--last-stage", "2", "--nets", "resnet"));
        BatchSweep.Params q = new BatchSweep().params(s);
        assertNull(q.mlp());
        assertEquals(2, q.lastStage());
        BatchSweep.Sweep res = new BatchSweep.Sweep(List.of(BatchSweep.Method.BN, BatchSweep.Method.GN), new int[] {32, 2}, 0.05, 32, 0.9, 1, 64, 50);
        RunOutput r = new BatchSweep().run(new BatchSweep.Params(null, res, 2), s);
        r.write(tmp);
        List<String> csv = Files.readAllLines(tmp.resolve("runs.csv"));
        assertEquals(1 + 4, csv.size(), String.join("\n", csv));
        // m of the deepest statistic with a 2×2 last stage: 4·B
        assertTrue(csv.stream().anyMatch(l -> l.startsWith("RESNET,BatchNorm,2,8,")), String.join("\n", csv));
        assertTrue(csv.stream().anyMatch(l -> l.startsWith("RESNET,GroupNorm,32,128,")), String.join("\n", csv));
        assertEquals(1, r.claims.size()); // the ResNet's GN claim only
        assertTrue(r.claims.get(0).measurement().contains("m 128 → 8"), r.claims.get(0).measurement());
        assertTrue(r.claims.get(0).claim().contains("last stage 2×2"), r.claims.get(0).claim());
        assertFalse(Files.exists(tmp.resolve("batch_error_mlp.png")));
        // a non-default setting: recorded, and the report lists it apart from the protocol's run
        com.google.gson.JsonObject j = com.google.gson.JsonParser.parseString(Files.readString(tmp.resolve(RunOutput.SUMMARY))).getAsJsonObject();
        assertEquals("--last-stage 2 --nets resnet", j.get("setting").getAsString());
        assertFalse(EvidenceReport.matchesProtocol(j));
        assertEquals(8, BatchSweep.m(BatchSweep.Net.RESNET, BatchSweep.Method.BN, 2, 2));
        assertEquals(2, normlab.models.ResNet.finalSize(BatchSweep.config(normlab.models.ResNet.BN, 2), 28, 28)[0]);
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

    /**
     * Depth's statistics at initialization on a 20-layer sigmoid MLP with N(0, 0.01²) weights: without BN the spread of
     * the pre-activations across the batch collapses layer after layer; with BN it is BN's output, √(σ²/(σ²+ε)) ≈ 1 per unit (γ = 1).
     */
    @Test
    void depthStatisticsShowCollapseWithoutBn() throws Exception {
        Dataset train = Runs.data("mnist", true, 128);
        int[] idx = Dataset.range(0, 128);
        Runs.WeightInit small = Runs.WeightInit.normal(0.01);
        double[][] base = Depth.statistics(Depth.build(20, 100, Depth.Act.SIGMOID, small, false, new Rng(1)), train.batchFlat(idx), train.labels(idx));
        double[][] bn = Depth.statistics(Depth.build(20, 100, Depth.Act.SIGMOID, small, true, new Rng(1)), train.batchFlat(idx), train.labels(idx));
        assertEquals(19, base[0].length);
        assertTrue(base[0][18] < 1e-6 * base[0][0], "the baseline collapses: " + base[0][0] + " → " + base[0][18]);
        for (double a : bn[0]) assertEquals(1, a, 0.05, java.util.Arrays.toString(bn[0]));
        assertTrue(Depth.decades(base[0]) > 6 && Depth.decades(bn[0]) < 0.05);
        assertEquals(Double.POSITIVE_INFINITY, Depth.decades(new double[] {1, 0}));
        // the gradients reach every BN layer; the baseline's first layers get (almost) none
        for (double g : bn[1]) assertTrue(g > 0, java.util.Arrays.toString(bn[1]));
    }

    /** Placement's identity initialisation: the BN MLP then computes the unnormalized MLP's outputs on that batch. */
    @Test
    void identityInitialisedBnNetEqualsThePlainNet() throws Exception {
        Dataset train = Runs.data("mnist", true, 64);
        Tensor x = train.batchFlat(Dataset.range(0, 64));
        Sequential plain = normlab.models.MnistMlp.build(false, 0.01, new Rng(4)), bn = normlab.models.MnistMlp.build(true, 0.01, new Rng(4));
        Tensor yPlain = plain.forward(x).copy();
        assertTrue(Placement.relDiff(yPlain, bn.forward(x).copy()) > 0.1, "before: BN's defaults (γ = 1, β = 0) give another function");
        Placement.setIdentity(bn, x);
        normlab.norm.BatchNorm first = (normlab.norm.BatchNorm) bn.get(1);
        assertEquals(0f, first.runningMean.data[0], "the calibration forwards leave the running statistics at their start");
        assertEquals(0f, first.numBatchesTracked.data[0]);
        assertTrue(Placement.relDiff(yPlain, bn.forward(x).copy()) < 1e-5, "identity-initialised BN must give the plain net's logits");
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

    /**
     * Landscape's noisy-BN run stopped after its first step (checkpoint: weights, sampler, the noise generators and last
     * draw, the probes so far) and resumed ends exactly as an uninterrupted run: same probes, same accuracy.
     */
    @Test
    void landscapeRunStoppedAndResumedIsBitIdentical(@TempDir Path tmp) throws Exception {
        Dataset train = Runs.data("mnist", true, 512), test = Runs.data("mnist", false, 200);
        Landscape.Params p = new Landscape.Params(12, 1, 64, 0.1, 0.5, 0.5, 512, 200);
        Landscape.Run ref = Landscape.trainVariant(2, 3, p, train, test);
        try {
            try (RunControl.Session s = RunControl.open(tmp, 0, false)) {
                RunControl.withKey("run-000", () -> {
                    RunControl.requestStop(); // stops after the first step
                    return Landscape.trainVariant(2, 3, p, train, test);
                });
                org.junit.jupiter.api.Assertions.fail("the run should have stopped");
            } catch (RunControl.Stopped expected) {
                assertTrue(Files.exists(tmp.resolve("run-000.checkpoint.safetensors")));
            }
            RunControl.clearStop();
            Landscape.Run resumed;
            try (RunControl.Session s = RunControl.open(tmp, 0, true)) {
                resumed = RunControl.withKey("run-000", () -> Landscape.trainVariant(2, 3, p, train, test));
            }
            assertEquals(ref, resumed);
            assertEquals(12, resumed.probes().size());
        } finally {
            RunControl.clearStop();
        }
    }

    /**
     * A tiny rnn run: every cell trains above chance, the two BN cells train identically (same weights after the run,
     * they differ only in their running statistics), the per-step statistics show W_hh·h without spread at t = 0, and
     * the files and claims are written.
     */
    @Test
    void rnnRunsEveryCell(@TempDir Path tmp) throws Exception {
        RnnNorm.Params p = RnnNorm.Params.of(true);
        assertEquals(RnnNorm.Order.PERMUTED, p.order());
        assertArrayEquals(new int[] {4}, p.smallBatches());
        p = new RnnNorm.Params(p.order(), p.chunk(), p.hidden(), 40, p.batch(), p.lr(), 640, 200, 20, new int[] {8}, 40);
        assertEquals(160, p.steps(8));
        assertEquals(p.lr() / 4, p.lr(8), 1e-15);
        RnnNorm e = new RnnNorm();
        Runs.Results<RnnNorm.Cell> runs = e.train(p, quiet(1));
        assertEquals(4 + 2, runs.runs().size());
        // The small-batch sweep: LN and per-step BN at batch 8 for the same 1,280 images, tested once at the end.
        for (RnnNorm.Cell c : runs.runs().subList(4, 6)) {
            assertEquals(8, c.batch());
            assertArrayEquals(new int[] {160}, c.evalSteps(), c.variant() + " at batch 8");
            assertTrue(c.last() > 0.2, c.variant() + " at batch 8 is above chance: " + c.last());
        }
        assertEquals(List.of(RnnNorm.Variant.LN, RnnNorm.Variant.BN), runs.runs().subList(4, 6).stream().map(RnnNorm.Cell::variant).toList());
        assertTrue(Double.isNaN(runs.runs().get(4).batchStatAccuracy()) && runs.runs().get(5).batchStatAccuracy() > 0.2);
        // Tested with test-batch statistics, the two BN cells (same weights) give the same accuracy; with running ones they differ.
        assertEquals(runs.runs().get(2).batchStatAccuracy(), runs.runs().get(3).batchStatAccuracy());
        for (RnnNorm.Cell c : runs.runs().subList(0, 4)) {
            assertEquals(2, c.accuracy().length, c.variant() + " evaluations");
            assertTrue(c.accuracy()[1] > 0.2, c.variant() + " is above chance after 40 steps at the quick run's size and rate: " + c.accuracy()[1]);
        }
        RnnNorm.Cell bn = runs.runs().get(2), shared = runs.runs().get(3);
        assertEquals(RnnNorm.Variant.BN, bn.variant());
        assertEquals(0, bn.hhVar()[0], 1e-12);
        assertTrue(bn.hhVar()[27] > 0 && Double.isFinite(shared.sharedRunningVar()));
        // Permuted pixels: every step has ink with spread over the batch, so no per-step running variance is degenerate
        // (row by row, the blank rows left some below 1e-3, down to 0).
        assertEquals(28, bn.runningVar().ihMin().length);
        assertEquals(1, shared.runningVar().ihMin().length);
        assertTrue(bn.runningVar().min() > 1e-3, "smallest per-step running variance " + bn.runningVar().min());
        assertEquals(null, runs.runs().get(0).runningVar());
        RunOutput r = e.publish(p, quiet(1), runs);
        r.write(tmp);
        assertEquals(3, r.claims.size());
        assertTrue(Files.readAllLines(tmp.resolve("runs.csv")).size() == 1 + 4 * 2);
        assertEquals(1 + 2 * 2, Files.readAllLines(tmp.resolve("batch_sweep.csv")).size());
        assertTrue(Files.exists(tmp.resolve("rnn_batch.svg")));
        assertThrows(IllegalArgumentException.class, () -> new RnnNorm.Params(RnnNorm.Order.PERMUTED, 28, 4, 10, 32, 0.01, 0, 0, 5, new int[] {32}, 10));
        // The budget must be an evaluation step of the main runs (their accuracy there is the batch-32 reference).
        assertThrows(IllegalArgumentException.class, () -> new RnnNorm.Params(RnnNorm.Order.PERMUTED, 28, 4, 10, 32, 0.01, 0, 0, 5, new int[] {8}, 7));
        assertEquals(1 + 28 + 1, Files.readAllLines(tmp.resolve("running_variances.csv")).size());
        assertTrue(Files.size(tmp.resolve("rnn_accuracy.png")) > 1000 && Files.exists(tmp.resolve("rnn_recurrent_stats.svg")));
        // Same seed, same batches, same training arithmetic: per-step and shared BN end with the same weights.
        Sequential a = RnnNorm.build(RnnNorm.Variant.BN, p, new Rng(1)), b = RnnNorm.build(RnnNorm.Variant.BN_SHARED, p, new Rng(1));
        for (Sequential m : List.of(a, b)) {
            new normlab.train.Trainer(m, new normlab.optim.Adam(m.parameters(), 0.01), runs.train(), 16, new Rng(2), true)
                    .fit(5, 5, null, null, new normlab.train.Trainer.Listener() {});
        }
        assertTrue(java.util.Arrays.equals(a.get(1).namedParameters().get("weight_hh").value.data, b.get(1).namedParameters().get("weight_hh").value.data));
        // ... but not the same running statistics: slot 0 of the per-step set saw W_hh·h_{−1} = 0 (variance 0) five times.
        float perStep0 = a.get(1).namedBuffers().get("norm_hh.running_var").data[0], shared0 = b.get(1).namedBuffers().get("norm_hh.running_var").data[0];
        assertEquals(Math.pow(0.9, 5), perStep0, 1e-5);
        assertTrue(Math.abs(shared0 - perStep0) > 1e-3, "shared " + shared0 + " vs per-step slot 0 " + perStep0);
    }

    /** The long variant: 4-pixel chunks make 196 steps, and per-step BN keeps 196 slots of statistics. */
    @Test
    void rnnLongVariantHas196Steps() {
        RnnNorm.Params p = new RnnNorm.Params(RnnNorm.Order.PERMUTED, 4, 6, 1, 2, 0.01, 0, 0, 1);
        assertEquals(196, p.length());
        Sequential m = RnnNorm.build(RnnNorm.Variant.BN, p, new Rng(1));
        assertEquals(java.util.List.of(196, 24), java.util.Arrays.stream(m.get(1).namedBuffers().get("norm_hh.running_mean").shape()).boxed().toList());
        assertEquals(java.util.List.of(3, 10), java.util.Arrays.stream(m.forward(normlab.tensor.Tensor.zeros(3, 784)).shape()).boxed().toList());
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
