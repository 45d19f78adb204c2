package normlab.io.onnx;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import normlab.infer.Fold;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.models.SmallCnn;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The family's SmallCnn (1×28×28 input) with each normalization, and folded where folding applies, through ONNX
 * Runtime. Metric as {@link OnnxExportTest}: max |ort − normlab| / max(1, max |normlab|) <= 1e-5 at batch 1 and 8.
 */
class OnnxSmallCnnTest {
    static final double TOL = 1e-5;
    static final int[] MNIST = {1, 28, 28};

    @TempDir
    Path dir;

    @ParameterizedTest
    @MethodSource("normlab.models.SmallCnn$Norm#values")
    void everyNormalizationMatches(SmallCnn.Norm norm) throws Exception {
        Rng rng = new Rng(50 + norm.ordinal());
        Sequential cnn = SmallCnn.build(norm, 4, 8, rng);
        Ort.randomizeNorms(cnn, rng);
        double err = OnnxExportTest.compare(cnn, MNIST, dir.resolve("smallcnn_" + norm + ".onnx"), rng, 8);
        assertTrue(err <= TOL, norm + ": ORT vs normlab rel err " + err);
    }

    @ParameterizedTest
    @ValueSource(strings = {"BN", "BATCH_RENORM", "GHOST_BN", "FROZEN_BN"}) // SmallCnn.Norm.valueOf
    void foldedMatchesFoldedAndUnfolded(SmallCnn.Norm norm) throws Exception {
        Rng rng = new Rng(60 + norm.ordinal());
        Sequential cnn = SmallCnn.build(norm, 4, 8, rng);
        Ort.randomizeNorms(cnn, rng);
        Module folded = Fold.fold(cnn);
        Path f = dir.resolve("smallcnn_folded_" + norm + ".onnx");
        double err = OnnxExportTest.compare(folded, MNIST, f, rng, 8);
        assertTrue(err <= TOL, "folded " + norm + ": ORT vs folded normlab rel err " + err);
        assertFalse(OnnxFamilyTest.ops(f).contains("BatchNormalization"), OnnxFamilyTest.ops(f).toString());
        Tensor x = Ort.randn(rng, 8, 1, 28, 28);
        cnn.eval();
        double vsUnfolded = Ort.relErr(Ort.run(f, x), cnn.forward(x));
        assertTrue(vsUnfolded <= TOL, "folded " + norm + " ONNX vs unfolded normlab rel err " + vsUnfolded);
    }
}
