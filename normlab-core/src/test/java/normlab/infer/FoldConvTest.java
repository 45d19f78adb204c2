package normlab.infer;

import static org.junit.jupiter.api.Assertions.*;

import normlab.nn.Activation;
import normlab.nn.Conv2d;
import normlab.nn.Dropout;
import normlab.nn.Flatten;
import normlab.nn.GlobalAvgPool;
import normlab.nn.Identity;
import normlab.nn.Linear;
import normlab.nn.MaxPool2d;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm2d;
import normlab.norm.BatchRenorm;
import normlab.norm.FrozenBatchNorm2d;
import normlab.norm.GhostBatchNorm;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Folding into Conv2d and folding the BN variants. Metric: max|folded − unfolded| / max|unfolded| ≤ 1e-5 over the
 * model output, the unfolded model in eval mode.
 */
class FoldConvTest {
    @ParameterizedTest(name = "bias={0} affine={1} groups={2}")
    @CsvSource({"true,true,1", "true,false,1", "false,true,1", "false,false,1", "true,true,2", "false,true,4"})
    void conv2dBn2dFoldsExactly(boolean bias, boolean affine, int groups) {
        Rng r = new Rng(100 + groups + (bias ? 10 : 0) + (affine ? 20 : 0));
        for (int trial = 0; trial < 3; trial++) {
            Module m = new Sequential(
                    new Conv2d(4, 8, new int[] {3, 3}, new int[] {1, 1}, new int[] {1, 1}, new int[] {1, 1}, groups, bias, r),
                    new BatchNorm2d(8, 1e-5, 0.1, affine, true), new Activation.ReLU(),
                    new Conv2d(8, 8, new int[] {3, 2}, new int[] {2, 1}, new int[] {0, 1}, new int[] {1, 2}, groups, bias, r),
                    new BatchNorm2d(8, 1e-4, null, affine, true),
                    new GlobalAvgPool(), new Linear(8, 3, r));
            Toy.randomizeNorms(m, r);
            m.eval();
            Module f = Fold.fold(m);
            assertInstanceOf(Identity.class, ((Sequential) f).get(1));
            assertInstanceOf(Identity.class, ((Sequential) f).get(4));
            Tensor x = Toy.randn(r, 3, 4, 9, 7);
            double err = Toy.relErr(f.forward(x), m.forward(x));
            assertTrue(err <= 1e-5, "rel err " + err);
        }
    }

    @Test
    void bnVariantsFold() {
        Rng r = new Rng(200);
        BatchNorm2d src = new BatchNorm2d(6);
        Toy.randomizeNorms(src, r);
        FrozenBatchNorm2d frozen = FrozenBatchNorm2d.from(src);
        BatchRenorm renorm = new BatchRenorm(6);
        GhostBatchNorm ghost = new GhostBatchNorm(6, 4);
        for (Module bn : new Module[] {renorm, ghost}) {
            for (java.util.Map.Entry<String, Tensor> e : bn.stateTensors().entrySet()) {
                if (!e.getKey().equals("num_batches_tracked")) e.getValue().copyFrom(src.stateTensors().get(e.getKey()));
            }
        }
        for (Module bn : new Module[] {frozen, renorm, ghost}) {
            Module m = new Sequential(new Conv2d(3, 6, 3, r), bn, new Flatten());
            m.eval();
            Module f = Fold.fold(m);
            Tensor x = Toy.randn(r, 2, 3, 5, 5);
            double err = Toy.relErr(f.forward(x), m.forward(x));
            assertTrue(err <= 1e-5, bn.getClass().getSimpleName() + " rel err " + err);
        }
    }

    @Test
    void refusesAcrossPoolingAndDropout() {
        Rng r = new Rng(300);
        Module pool = new Sequential(new Conv2d(3, 4, 3, r), new MaxPool2d(2), new BatchNorm2d(4));
        assertEquals("cannot fold BatchNorm2d '2' into Conv2d '0': MaxPool2d '1' lies between them",
                assertThrows(Fold.FoldException.class, () -> Fold.fold(pool)).getMessage());
        Module drop = new Sequential(new Conv2d(3, 4, 3, r), new Dropout(0.1, r), new FrozenBatchNorm2d(4));
        assertEquals("cannot fold FrozenBatchNorm2d '2' into Conv2d '0': Dropout '1' lies between them",
                assertThrows(Fold.FoldException.class, () -> Fold.fold(drop)).getMessage());
        Module nhwc = new Sequential(new Conv2d(3, 4, 3, r), new BatchNorm2d(4, normlab.nn.Layout.NHWC));
        String msg = assertThrows(Fold.FoldException.class, () -> Fold.fold(nhwc)).getMessage();
        assertTrue(msg.startsWith("cannot fold BatchNorm2d '1' into Conv2d '0': ") && msg.contains("NHWC"), msg);
    }
}
