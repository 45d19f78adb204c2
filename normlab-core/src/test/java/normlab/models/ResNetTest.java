package normlab.models;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import normlab.nn.BasicBlock;
import normlab.nn.Conv2d;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.PreActBlock;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm2d;
import normlab.norm.GroupNorm;
import normlab.tensor.Rng;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** The ResNet builder: depth, layout, shapes, init, zero-init and its errors. */
class ResNetTest {
    private static void collect(Module m, Class<?> c, List<Module> out) {
        if (c.isInstance(m)) out.add(m);
        for (Module ch : m.children().values()) collect(ch, c, out);
    }

    private static List<Module> all(Module m, Class<?> c) {
        List<Module> out = new ArrayList<>();
        collect(m, c, out);
        return out;
    }

    private static Tensor randn(Rng r, int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) t.data[i] = (float) r.nextGaussian();
        return t;
    }

    @Test
    void depthCountsWeightedLayersAndStagesHaveTheirWidths() {
        for (int depth : new int[] {8, 14, 20}) {
            for (ResNet.Block kind : ResNet.Block.values()) {
                Sequential m = ResNet.build(ResNet.Config.of(depth, kind, ResNet.BN), new Rng(1));
                long convs3 = all(m, Conv2d.class).stream().filter(c -> ((Conv2d) c).kh == 3).count();
                assertEquals(depth, convs3 + all(m, Linear.class).size(), kind + " " + depth + ": 3×3 convs + Linear");
                int blocks = all(m, kind == ResNet.Block.POST ? BasicBlock.class : PreActBlock.class).size();
                assertEquals(3 * (depth - 2) / 6, blocks);
                // two projections (16→32, 32→64); post-activation ones carry a BN
                assertEquals(2, all(m, Conv2d.class).stream().filter(c -> ((Conv2d) c).kh == 1).count());
                Tensor y = m.forward(randn(new Rng(2), 2, 1, 28, 28));
                assertArrayEquals(new int[] {2, 10}, y.shape());
            }
        }
        // ResNet-20, post-activation, BN: He et al.'s 0.27M; 272,474 with option-B projections and 3 input channels
        Sequential r20 = ResNet.build(ResNet.Config.of(20, ResNet.Block.POST, ResNet.BN), new Rng(1));
        long n = r20.parameters().stream().mapToLong(p -> p.value.numel()).sum();
        assertEquals(272_474 - 2 * 16 * 9, n, "parameters of ResNet-20 with one input channel");
    }

    @Test
    void preActivationEndsWithNormReluAndPostActivationStartsWithIt() {
        Sequential pre = ResNet.build(ResNet.Config.of(8, ResNet.Block.PRE, ResNet.BN), new Rng(1));
        assertInstanceOf(Conv2d.class, pre.get(0));
        assertInstanceOf(Sequential.class, pre.get(1));
        assertInstanceOf(BatchNorm2d.class, pre.get(4));
        Sequential post = ResNet.build(ResNet.Config.of(8, ResNet.Block.POST, ResNet.gn(4)), new Rng(1));
        assertInstanceOf(GroupNorm.class, post.get(1));
        assertEquals(8, post.size());
        assertTrue(post.stateDict().containsKey("4.0.downsample.1.weight"), post.stateDict().keySet().toString());
        assertTrue(pre.stateDict().containsKey("2.0.downsample.0.weight") && !pre.stateDict().containsKey("2.0.downsample.1.weight"));
    }

    @Test
    void lastStageIsSevenBySevenOrSmaller() {
        ResNet.Config c = ResNet.Config.of(8, ResNet.Block.POST, ResNet.BN);
        assertArrayEquals(new int[] {7, 7}, ResNet.finalSize(c, 28, 28));
        ResNet.Config small = c.withStrides(1, 2, 4);
        assertArrayEquals(new int[] {4, 4}, ResNet.finalSize(small, 28, 28));
        Sequential m = ResNet.build(small, new Rng(3));
        Sequential upToStage3 = new Sequential(m.layers().subList(0, 6));
        assertArrayEquals(new int[] {2, 64, 4, 4}, upToStage3.forward(randn(new Rng(4), 2, 1, 28, 28)).shape());
    }

    @Test
    void convsAreKaimingFanOutAndBiasFollowsTheNorm() {
        Sequential m = ResNet.build(ResNet.Config.of(8, ResNet.Block.POST, ResNet.BN), new Rng(9));
        Conv2d c = (Conv2d) ((BasicBlock) ((Sequential) m.get(5)).get(0)).conv2; // 64×64×3×3
        double ss = 0;
        for (float v : c.weight.value.data) ss += (double) v * v;
        double std = Math.sqrt(ss / c.weight.value.numel()), expected = Math.sqrt(2.0 / (64 * 9));
        assertEquals(expected, std, 0.03 * expected, "Kaiming normal, fan-out");
        assertNull(c.bias);
        Sequential none = ResNet.build(ResNet.Config.of(8, ResNet.Block.PRE, ResNet.NONE), new Rng(9));
        for (Module k : all(none, Conv2d.class)) {
            assertNotNull(((Conv2d) k).bias, k.label());
            for (float v : ((Conv2d) k).bias.value.data) assertEquals(0f, v);
        }
        assertTrue(all(none, BatchNorm2d.class).isEmpty());
    }

    @Test
    void zeroInitMakesEveryBlockItsShortcut() {
        Rng r = new Rng(11);
        for (ResNet.Norm norm : new ResNet.Norm[] {ResNet.BN, ResNet.NONE}) {
            // post-activation: y = ReLU(shortcut(x)); identity shortcut → ReLU(x)
            Sequential m = ResNet.build(ResNet.Config.of(14, ResNet.Block.POST, norm).withZeroInitResidual(true), r);
            BasicBlock b = (BasicBlock) ((Sequential) m.get(norm.present() ? 3 : 2)).get(1);
            Tensor x = randn(r, 2, 16, 5, 5);
            float[] y = b.forward(x).data;
            for (int i = 0; i < y.length; i++) assertEquals(Math.max(0f, x.data[i]), y[i], 1e-6f, norm.label());
            // pre-activation: y = x
            Sequential p = ResNet.build(ResNet.Config.of(14, ResNet.Block.PRE, norm).withZeroInitResidual(true), r);
            PreActBlock pb = (PreActBlock) ((Sequential) p.get(1)).get(1);
            assertArrayEquals(x.data, pb.forward(x).data, norm.label());
        }
        // default: off, so a block differs from its shortcut
        Sequential d = ResNet.build(ResNet.Config.of(14, ResNet.Block.PRE, ResNet.BN), r);
        Tensor x = randn(r, 2, 16, 5, 5);
        assertFalse(java.util.Arrays.equals(x.data, ((Sequential) d.get(1)).get(1).forward(x).data));
    }

    /** Reused output buffers (as the Trainer runs) change nothing: two steps, gradients and outputs bit for bit. */
    @Test
    void reusedOutputsGiveTheSameSteps() {
        for (ResNet.Block kind : ResNet.Block.values()) {
            ResNet.Config c = ResNet.Config.of(8, kind, ResNet.BN).withWidths(4, 8, 8);
            Sequential a = ResNet.build(c, new Rng(21)), b = ResNet.build(c, new Rng(21));
            b.reuseOutputs(true);
            Rng r = new Rng(22);
            for (int step = 0; step < 2; step++) {
                Tensor x = randn(r, 3, 1, 12, 12), dy = randn(r, 3, 10);
                a.zeroGrad();
                b.zeroGrad();
                assertArrayEquals(a.forward(x).data, b.forward(x).data, kind + " step " + step);
                Tensor dxa = a.backward(dy).copy(), dxb = b.backward(dy);
                assertArrayEquals(dxa.data, dxb.data, kind + " dx step " + step);
                var pa = a.namedParameters();
                b.namedParameters().forEach((k, p) -> assertArrayEquals(pa.get(k).grad.data, p.grad.data, kind + " " + k));
            }
        }
    }

    @Test
    void badConfigurationsAndInputsSayWhatIsWrong() {
        var e = assertThrows(IllegalArgumentException.class, () -> ResNet.Config.of(10, ResNet.Block.POST, ResNet.BN));
        assertEquals("ResNet: depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110), got 10", e.getMessage());
        var g = assertThrows(IllegalArgumentException.class, () -> ResNet.build(ResNet.Config.of(8, ResNet.Block.POST, ResNet.gn(3)), new Rng(1)));
        assertEquals("ResNet: GroupNorm(3) cannot divide 16 channels into equal groups", g.getMessage());
        Sequential m = ResNet.build(ResNet.Config.of(8, ResNet.Block.POST, ResNet.BN), new Rng(1));
        var s = assertThrows(ShapeException.class, () -> m.forward(Tensor.zeros(2, 3, 28, 28)));
        assertTrue(s.getMessage().startsWith("Conv2d '0': expected 1 channels"), s.getMessage());
        BasicBlock bad = new BasicBlock(new Conv2d(4, 4, 3, 2, 1, 1, 1, false, null), new BatchNorm2d(4),
                new Conv2d(4, 4, 3, 1, 1, 1, 1, false, null), new BatchNorm2d(4), null);
        var j = assertThrows(ShapeException.class, () -> bad.forward(Tensor.zeros(2, 4, 6, 6)));
        assertEquals("BasicBlock: residual branch gives [2, 4, 3, 3] but the identity shortcut gives [2, 4, 6, 6] for input [2, 4, 6, 6]"
                + " (a stride or width change needs a downsample shortcut)", j.getMessage());
    }
}
