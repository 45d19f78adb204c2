package normlab.io.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import normlab.infer.Fold;
import normlab.nn.Activation;
import normlab.nn.Conv2d;
import normlab.nn.Flatten;
import normlab.nn.GlobalAvgPool;
import normlab.nn.Layout;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Residual;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm1d;
import normlab.norm.BatchNorm2d;
import normlab.norm.BatchRenorm;
import normlab.norm.FrozenBatchNorm2d;
import normlab.norm.GhostBatchNorm;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Folded models, residual blocks and the BatchNorm variants through ONNX Runtime. Metric as {@link OnnxExportTest}:
 * max |ort − normlab| / max(1, max |normlab|) <= 1e-5.
 */
class OnnxInferTest {
    static final double TOL = 1e-5;

    @TempDir
    Path dir;

    @Test
    void foldedCnnHasNoBatchNormalizationAndMatches() throws Exception {
        Rng rng = new Rng(31);
        Sequential cnn = OnnxFamilyTest.cnn(rng, BatchNorm2d::new);
        Ort.randomizeNorms(cnn, rng);
        Module folded = Fold.fold(cnn);
        Path f = dir.resolve("folded.onnx");
        double err = OnnxExportTest.compare(folded, new int[] {1, 12, 12}, f, rng, 16);
        assertTrue(err <= TOL, "folded CNN: ORT vs normlab rel err " + err);
        List<String> ops = OnnxFamilyTest.ops(f);
        assertFalse(ops.contains("BatchNormalization"), ops.toString());
        assertEquals(3, ops.stream().filter("Conv"::equals).count(), ops.toString());
        // The folded file also computes the unfolded model's function.
        Tensor x = Ort.randn(rng, 16, 1, 12, 12);
        cnn.eval();
        double vsUnfolded = Ort.relErr(Ort.run(f, x), cnn.forward(x));
        System.out.printf("folded.onnx vs unfolded normlab model: max rel err %.3g%n", vsUnfolded);
        assertTrue(vsUnfolded <= TOL, "folded ONNX vs unfolded normlab rel err " + vsUnfolded);
    }

    @Test
    void foldedMlpMatches() throws Exception {
        Rng rng = new Rng(32);
        Sequential mlp = OnnxExportTest.paperMlp(rng);
        Ort.randomizeNorms(mlp, rng);
        Module folded = Fold.fold(mlp);
        Path f = dir.resolve("folded_mlp.onnx");
        double err = OnnxExportTest.compare(folded, new int[] {784}, f, rng, 32);
        assertTrue(err <= TOL, "folded MLP rel err " + err);
        assertFalse(OnnxFamilyTest.ops(f).contains("BatchNormalization"));
    }

    @Test
    void residualBlockAddsItsInput() throws Exception {
        Rng rng = new Rng(33);
        Sequential m = new Sequential(
                new Conv2d(2, 6, 3, 1, 1, 1, 1, false, rng), new BatchNorm2d(6), new Activation.ReLU(),
                new Residual(new Sequential(new Conv2d(6, 6, 3, 1, 1, 1, 1, false, rng), new BatchNorm2d(6), new Activation.ReLU(),
                        new Conv2d(6, 6, 3, 1, 1, 1, 1, true, rng))),
                new Residual(new Activation.Tanh()),
                new GlobalAvgPool(), new Linear(6, 4, rng));
        Ort.randomizeNorms(m, rng);
        Path f = dir.resolve("res.onnx");
        double err = OnnxExportTest.compare(m, new int[] {2, 7, 7}, f, rng, 6);
        assertTrue(err <= TOL, "residual rel err " + err);
        assertEquals(2, OnnxFamilyTest.ops(f).stream().filter("Add"::equals).count());
    }

    @Test
    void batchNormVariantsExportTheirInferenceFunction() throws Exception {
        Rng rng = new Rng(34);
        Sequential m = new Sequential(
                new BatchNorm2d(3, 1e-3, 0.1, true, true, Layout.NHWC), new Flatten(), new Linear(5 * 4 * 3, 10, rng),
                new BatchRenorm(10), new Activation.ReLU(), new GhostBatchNorm(10, 4), new BatchNorm1d(10, 1e-5, null, false, true),
                new Linear(10, 12, rng));
        Ort.randomizeNorms(m, rng);
        double err = OnnxExportTest.compare(m, new int[] {5, 4, 3}, dir.resolve("variants.onnx"), rng, 9);
        assertTrue(err <= TOL, "BN variants rel err " + err);

        Sequential c = new Sequential(new Conv2d(2, 4, 3, rng), new FrozenBatchNorm2d(4), new Activation.Sigmoid(), new Flatten());
        Ort.randomizeNorms(c, rng);
        double err2 = OnnxExportTest.compare(c, new int[] {2, 6, 6}, dir.resolve("frozen.onnx"), rng, 3);
        assertTrue(err2 <= TOL, "FrozenBatchNorm2d rel err " + err2);
    }
}
