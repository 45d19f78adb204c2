package normlab.infer;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Map;
import normlab.nn.Activation;
import normlab.nn.Identity;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Residual;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm1d;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * Folding BN into the preceding layer. Metric: max|folded − unfolded| / max|unfolded| over the output, ≤ 1e-5,
 * unfolded = the original model in eval mode.
 */
class FoldTest {
    private static Module mlp(Rng r, boolean bias, boolean affine) {
        return new Sequential(
                new Linear(12, 16, bias, r), new BatchNorm1d(16, 1e-5, 0.1, affine, true), new Activation.ReLU(),
                new Linear(16, 10, bias, r), new BatchNorm1d(10, 1e-3, 0.1, affine, true), new Activation.Tanh(),
                new Linear(10, 5, true, r));
    }

    @ParameterizedTest(name = "bias={0} affine={1}")
    @CsvSource({"true,true", "true,false", "false,true", "false,false"})
    void foldedLinearBn1dMatchesUnfolded(boolean bias, boolean affine) {
        Rng r = new Rng(bias ? 11 : 12 + (affine ? 5 : 0));
        for (int trial = 0; trial < 5; trial++) {
            Module m = mlp(r, bias, affine);
            Toy.randomizeNorms(m, r);
            m.eval();
            Map<String, Tensor> before = m.stateDict();
            Module f = Fold.fold(m);
            Tensor x = Toy.randn(r, 32, 12);
            double err = Toy.relErr(f.forward(x), m.forward(x));
            assertTrue(err <= 1e-5, "rel err " + err);
            // Structure: BNs became Identity at the same index; other keys unchanged.
            Sequential s = (Sequential) f;
            assertInstanceOf(Identity.class, s.get(1));
            assertInstanceOf(Identity.class, s.get(4));
            assertNotNull(((Linear) s.get(0)).bias, "a folded layer always has a bias");
            assertEquals(java.util.Set.of("0.weight", "0.bias", "3.weight", "3.bias", "6.weight", "6.bias"), f.stateDict().keySet());
            assertFalse(f.isTraining());
            // The original is untouched.
            Map<String, Tensor> after = m.stateDict();
            assertEquals(before.keySet(), after.keySet());
            for (String k : before.keySet()) assertArrayEquals(before.get(k).data, after.get(k).data, k);
            assertInstanceOf(BatchNorm1d.class, ((Sequential) m).get(1));
        }
    }

    @Test
    void originalModeIsKeptAndFoldingATrainingModelUsesRunningStats() {
        Rng r = new Rng(3);
        Module m = mlp(r, true, true);
        Toy.randomizeNorms(m, r);
        m.train();
        Module f = Fold.fold(m);
        assertTrue(m.isTraining() && ((Sequential) m).get(1).isTraining(), "original mode unchanged");
        Tensor x = Toy.randn(r, 8, 12);
        m.eval();
        assertTrue(Toy.relErr(f.forward(x), m.forward(x)) <= 1e-5);
    }

    @Test
    void foldsAcrossNestedSequentialBoundary() {
        Rng r = new Rng(4);
        Module m = new Sequential(new Sequential(new Linear(6, 4, false, r)), new BatchNorm1d(4), new Activation.Sigmoid());
        Toy.randomizeNorms(m, r);
        m.eval();
        Fold.Result res = Fold.foldWhereAllowed(m);
        assertEquals(1, res.folded().size());
        assertEquals(new Fold.Pair("Linear '0.0'", "BatchNorm1d '1'"), res.folded().get(0));
        Tensor x = Toy.randn(r, 5, 6);
        assertTrue(Toy.relErr(res.model().forward(x), m.forward(x)) <= 1e-5);
    }

    @Test
    void refusesToFoldAcrossAnActivationNamingBothLayers() {
        Rng r = new Rng(5);
        Module m = new Sequential(new Linear(4, 4, r), new Activation.ReLU(), new BatchNorm1d(4));
        Fold.FoldException e = assertThrows(Fold.FoldException.class, () -> Fold.fold(m));
        assertEquals("cannot fold BatchNorm1d '2' into Linear '0': ReLU '1' lies between them", e.getMessage());
    }

    @Test
    void refusesBnWithoutRunningStatistics() {
        Rng r = new Rng(6);
        Module m = new Sequential(new Linear(4, 4, r), new BatchNorm1d(4, 1e-5, 0.1, true, false));
        Fold.FoldException e = assertThrows(Fold.FoldException.class, () -> Fold.fold(m));
        assertTrue(e.getMessage().startsWith("cannot fold BatchNorm1d '1' into Linear '0': BatchNorm1d '1' has no running statistics"),
                e.getMessage());
    }

    @Test
    void refusesBnWithNothingBeforeIt() {
        Module m = new Sequential(new BatchNorm1d(4), new Linear(4, 2, new Rng(1)));
        Fold.FoldException e = assertThrows(Fold.FoldException.class, () -> Fold.fold(m));
        assertEquals("cannot fold BatchNorm1d '0': no Linear or Conv2d comes before it", e.getMessage());
    }

    @Test
    void residualBodyFoldsButNotAcrossTheJoin() {
        Rng r = new Rng(7);
        Module m = new Sequential(
                new Linear(6, 8, r),
                new Residual(new Sequential(new Linear(8, 8, false, r), new BatchNorm1d(8), new Activation.ReLU(), new Linear(8, 8, r))),
                new BatchNorm1d(8),
                new Linear(8, 3, r));
        Toy.randomizeNorms(m, r);
        m.eval();
        Fold.FoldException e = assertThrows(Fold.FoldException.class, () -> Fold.fold(m));
        assertEquals("cannot fold BatchNorm1d '2' into Linear '1.body.3': the residual join of Residual '1' lies between them",
                e.getMessage());
        Fold.Result res = Fold.foldWhereAllowed(m);
        assertEquals(java.util.List.of(new Fold.Pair("Linear '1.body.0'", "BatchNorm1d '1.body.1'")), res.folded());
        assertEquals(java.util.List.of(e.getMessage()), res.refused());
        Module body = ((Residual) ((Sequential) res.model()).get(1)).body;
        assertInstanceOf(Identity.class, ((Sequential) body).get(1));
        assertInstanceOf(BatchNorm1d.class, ((Sequential) res.model()).get(2), "the refused BN stays");
        Tensor x = Toy.randn(r, 16, 6);
        double err = Toy.relErr(res.model().forward(x), m.forward(x));
        assertTrue(err <= 1e-5, "rel err " + err);
    }

    @Test
    void foldPairRejectsChannelMismatch() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Fold.foldPair(new Linear(3, 4, new Rng(1)), new BatchNorm1d(5)));
        assertTrue(e.getMessage().contains("5 channels") && e.getMessage().contains("4 output channels"), e.getMessage());
    }

    @Test
    void trainedModelFoldsExactly() {
        Toy.Data train = Toy.blobs(1, 2, 2000, 20, 5), test = Toy.blobs(1, 3, 600, 20, 5);
        Rng r = new Rng(8);
        Module m = new Sequential(new Linear(20, 32, r), new BatchNorm1d(32), new Activation.ReLU(),
                new Linear(32, 32, false, r), new BatchNorm1d(32), new Activation.ReLU(), new Linear(32, 5, r));
        Toy.train(m, train, 3, 50, 0.05);
        Module f = Fold.fold(m);
        Tensor x = test.x();
        double err = Toy.relErr(f.forward(x), m.forward(x));
        assertTrue(err <= 1e-5, "rel err " + err);
        assertEquals(Toy.accuracy(m, test), Toy.accuracy(f, test), 1.0 / test.n() + 1e-12);
        assertTrue(Toy.accuracy(m, test) > 0.8, "the model learned something: " + Toy.accuracy(m, test));
    }
}
