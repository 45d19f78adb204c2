package normlab.family;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.function.Supplier;
import normlab.nn.AvgPool2d;
import normlab.nn.Conv2d;
import normlab.nn.GlobalAvgPool;
import normlab.nn.Layout;
import normlab.nn.MaxPool2d;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.models.SmallCnn;
import normlab.norm.BatchNorm1d;
import normlab.norm.BatchNorm2d;
import normlab.norm.BatchRenorm;
import normlab.norm.FrozenBatchNorm2d;
import normlab.norm.GhostBatchNorm;
import normlab.norm.GroupNorm;
import normlab.norm.InstanceNorm2d;
import normlab.norm.LayerNorm;
import normlab.norm.RMSNorm;
import normlab.tensor.Rng;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The batch-size-1 and batch-size-2 behaviour stated in each layer's class comment: per-sample normalizations
 * (LayerNorm, GroupNorm, InstanceNorm, RMSNorm) give every sample what it gets alone, at any batch size; the batch
 * normalizations throw in training when a channel (or ghost batch) has one value, and work in evaluation.
 */
class SmallBatchTest {
    private static Tensor gaussian(Rng rng, int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) t.data[i] = (float) (rng.nextGaussian() * 1.5 + 0.3);
        return t;
    }

    private static Tensor sample(Tensor x, int i) {
        int[] s = x.shape();
        int per = x.numel() / s[0];
        s[0] = 1;
        return Tensor.of(Arrays.copyOfRange(x.data, i * per, (i + 1) * per), s);
    }

    /**
     * Per-sample layers: in training, at batch 1 and 2, each sample's output equals its output alone (bit for bit) —
     * the normalizations computed per sample, and the convolution and pooling layers, which have no batch statistics.
     */
    @ParameterizedTest
    @ValueSource(strings = {"LayerNorm", "GroupNorm", "GroupNormNHWC", "InstanceNorm2d", "RMSNorm", "Conv2d", "MaxPool2d",
            "AvgPool2d", "GlobalAvgPool", "FrozenBatchNorm2d"})
    void perSampleLayersWorkAtBatchOneAndTwo(String which) {
        Supplier<Module> make = switch (which) {
            case "LayerNorm" -> () -> new LayerNorm(4, 3, 3);
            case "GroupNorm" -> () -> new GroupNorm(2, 4);
            case "GroupNormNHWC" -> () -> new GroupNorm(3, 3, 1e-5, true, Layout.NHWC); // (N, 4, 3, 3) read as H=4, W=3, C=3
            case "InstanceNorm2d" -> () -> new InstanceNorm2d(4, 1e-5, 0.1, true, true);
            case "RMSNorm" -> () -> new RMSNorm(4, 3, 3);
            case "Conv2d" -> () -> new Conv2d(4, 2, 3, 2, 1, 1, 2, true, new Rng(3));
            case "MaxPool2d" -> () -> new MaxPool2d(2, 1, 1);
            case "AvgPool2d" -> () -> new AvgPool2d(3, 2, 1, true);
            case "GlobalAvgPool" -> GlobalAvgPool::new;
            default -> () -> new FrozenBatchNorm2d(4);
        };
        boolean centred = which.contains("Norm") && !which.equals("RMSNorm") && !which.startsWith("Frozen");
        Rng rng = new Rng(7);
        for (int n : new int[] {1, 2}) {
            Tensor x = gaussian(rng, n, 4, 3, 3);
            Module m = make.get();
            m.train();
            Tensor y = m.forward(x);
            Tensor dx = m.backward(Tensor.full(1f, y.shape()));
            for (int i = 0; i < n; i++) {
                Module alone = make.get();
                alone.train();
                Tensor yi = alone.forward(sample(x, i));
                assertArrayEquals(yi.data, sample(y, i).data, which + " at batch " + n + ": sample " + i + " differs from its output alone");
            }
            for (float v : dx.data) assertTrue(Float.isFinite(v), which + " at batch " + n + ": non-finite gradient");
            double mean = 0;
            for (float v : sample(y, 0).data) mean += v;
            if (centred) assertEquals(0, mean / (y.numel() / n), 1e-5, which + ": output of sample 0 is centred");
        }
    }

    @Test
    void instanceNormNeedsTwoSpatialValuesForBatchStatistics() {
        Tensor x = gaussian(new Rng(8), 1, 3, 1, 1);
        InstanceNorm2d in = new InstanceNorm2d(3);
        ShapeException e = assertThrows(ShapeException.class, () -> in.forward(x));
        assertTrue(e.getMessage().contains("InstanceNorm2d") && e.getMessage().contains("[1, 3, 1, 1]"), e.getMessage());
        in.eval(); // no running statistics: evaluation also uses the input's statistics, as PyTorch
        assertThrows(ShapeException.class, () -> in.forward(x));
        InstanceNorm2d tracked = new InstanceNorm2d(3, 1e-5, 0.1, false, true);
        tracked.eval();
        assertDoesNotThrow(() -> tracked.forward(x));
    }

    /** BatchNorm-family layers: one value per channel in training is an error naming the layer and the shape. */
    @Test
    void batchStatisticsNeedTwoValuesPerChannelInTraining() {
        Rng rng = new Rng(9);
        Tensor one = gaussian(rng, 1, 3), onePixel = gaussian(rng, 1, 3, 1, 1);
        for (Module m : new Module[] {new BatchNorm1d(3), new BatchRenorm(3), new GhostBatchNorm(3, 4)}) {
            ShapeException e = assertThrows(ShapeException.class, () -> m.forward(one), m.label());
            assertTrue(e.getMessage().contains(m.getClass().getSimpleName()) && e.getMessage().contains("[1, 3]"), e.getMessage());
            m.eval();
            assertEquals(3, m.forward(one).numel(), m.label() + " evaluates a single sample");
        }
        BatchNorm2d bn2 = new BatchNorm2d(3);
        assertThrows(ShapeException.class, () -> bn2.forward(onePixel));
        assertDoesNotThrow(() -> bn2.forward(gaussian(rng, 1, 3, 2, 2)), "batch 1 with 4 pixels is 4 values per channel");
        BatchNorm2d nhwc = new BatchNorm2d(3, Layout.NHWC);
        assertThrows(ShapeException.class, () -> nhwc.forward(gaussian(rng, 1, 1, 1, 3)), "NHWC: one pixel, one value per channel");
        assertDoesNotThrow(() -> nhwc.forward(gaussian(rng, 1, 2, 1, 3)), "NHWC: batch 1 with 2 pixels");
        // FrozenBatchNorm2d has no batch statistics at all.
        FrozenBatchNorm2d frozen = new FrozenBatchNorm2d(3);
        assertDoesNotThrow(() -> frozen.forward(onePixel));
    }

    /** At batch 2 with one value per sample, batch statistics make each normalized value ±1: only the sign survives. */
    @Test
    void batchTwoNormalizesToPlusMinusOne() {
        Tensor x = Tensor.of(new float[] {3f, -1f, 10f, 5f}, 2, 2);
        for (Module m : new Module[] {new BatchNorm1d(2), new BatchRenorm(2), new GhostBatchNorm(2, 2)}) {
            Tensor y = m.forward(x);
            assertEquals(-1.0, y.data[0], 1e-4, m.label());
            assertEquals(1.0, y.data[2], 1e-4, m.label());
            assertEquals(-1.0, y.data[1], 1e-4, m.label());
            assertEquals(1.0, y.data[3], 1e-4, m.label());
        }
    }

    /** A ghost batch of one sample is an error that says which ghost batch and the virtual batch size. */
    @Test
    void ghostBatchOfOneSampleThrows() {
        GhostBatchNorm g = new GhostBatchNorm(2, 2);
        ShapeException e = assertThrows(ShapeException.class, () -> g.forward(gaussian(new Rng(10), 5, 2)));
        assertTrue(e.getMessage().contains("ghost batch 2 of 3") && e.getMessage().contains("virtual batch size 2"), e.getMessage());
    }

    /**
     * The whole small CNN at batch 1 trains and evaluates with every normalization: after a convolution each channel
     * has H·W values (784, then 196), so even the batch normalizations have statistics (at batch 1 they normalize each
     * channel of the one image, like InstanceNorm without affine-per-sample differences).
     */
    @ParameterizedTest
    @MethodSource("normlab.models.SmallCnn$Norm#values")
    void smallCnnAtBatchOne(SmallCnn.Norm norm) {
        Sequential net = SmallCnn.build(norm, 4, 8, new Rng(11));
        Tensor x = gaussian(new Rng(12), 1, 1, 28, 28);
        net.train();
        Tensor y = net.forward(x);
        assertArrayEquals(new int[] {1, 10}, y.shape());
        Tensor dx = net.backward(Tensor.full(0.1f, 1, 10));
        assertArrayEquals(new int[] {1, 1, 28, 28}, dx.shape());
        net.eval();
        assertArrayEquals(new int[] {1, 10}, net.forward(x).shape());
    }
}
