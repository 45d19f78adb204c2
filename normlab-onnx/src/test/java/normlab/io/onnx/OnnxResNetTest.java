package normlab.io.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import normlab.infer.Fold;
import normlab.models.ResNet;
import normlab.nn.Module;
import normlab.tensor.Rng;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ResNets (post- and pre-activation blocks, BN / GroupNorm / none, folded or not) exported and run in ONNX Runtime:
 * max |ort − normlab| / max(1, max |normlab|) ≤ 1e-5 over a batch of 28×28 inputs, one Add per block.
 */
class OnnxResNetTest {
    static final double TOL = 1e-5;

    @TempDir
    Path dir;

    private double export(String name, Module m, Rng rng) throws Exception {
        Path f = dir.resolve(name + ".onnx");
        double err = OnnxExportTest.compare(m, new int[] {1, 28, 28}, f, rng, 5);
        assertTrue(err <= TOL, name + ": ORT vs normlab rel err " + err);
        assertEquals(3, OnnxFamilyTest.ops(f).stream().filter("Add"::equals).count(), name + ": one Add per block");
        return err;
    }

    private static Module net(ResNet.Block kind, ResNet.Norm norm, Rng rng) {
        Module m = ResNet.build(ResNet.Config.of(8, kind, norm).withWidths(4, 8, 8), rng);
        Ort.randomizeNorms(m, rng);
        return m;
    }

    @Test
    void resnetsRunInOnnxRuntime() throws Exception {
        Rng rng = new Rng(41);
        for (ResNet.Block kind : ResNet.Block.values()) {
            for (ResNet.Norm norm : new ResNet.Norm[] {ResNet.BN, ResNet.gn(2), ResNet.NONE}) {
                double err = export(kind + "-" + norm.label(), net(kind, norm, rng), rng);
                System.out.printf("ResNet-8 %s %s in ONNX Runtime: rel err %.2e%n", kind, norm.label(), err);
            }
        }
    }

    @Test
    void foldedResnetsHaveFewerBatchNormalizations() throws Exception {
        Rng rng = new Rng(42);
        Module post = Fold.fold(net(ResNet.Block.POST, ResNet.BN, rng));
        export("post-folded", post, rng);
        assertEquals(0, OnnxFamilyTest.ops(dir.resolve("post-folded.onnx")).stream().filter("BatchNormalization"::equals).count());
        Module pre = Fold.foldWhereAllowed(net(ResNet.Block.PRE, ResNet.BN, rng)).model();
        export("pre-partly-folded", pre, rng);
        // three bn1 and the final norm stay; the three bn2 folded
        assertEquals(4, OnnxFamilyTest.ops(dir.resolve("pre-partly-folded.onnx")).stream().filter("BatchNormalization"::equals).count());
    }
}
