package normlab.io.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import normlab.io.onnx.proto.Onnx;
import normlab.nn.Activation;
import normlab.nn.AvgPool2d;
import normlab.nn.Conv2d;
import normlab.nn.Dropout;
import normlab.nn.Flatten;
import normlab.nn.GlobalAvgPool;
import normlab.nn.Layout;
import normlab.nn.Linear;
import normlab.nn.MaxPool2d;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm2d;
import normlab.norm.GroupNorm;
import normlab.norm.InstanceNorm1d;
import normlab.norm.InstanceNorm2d;
import normlab.norm.LayerNorm;
import normlab.norm.RMSNorm;
import normlab.tensor.Rng;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The convolution and normalization family through ONNX Runtime. Metric as {@link OnnxExportTest}: max |ort − normlab|
 * / max(1, max |normlab|) <= 1e-5 at batch 1 and a larger batch, with every normalization's statistics and affine
 * randomized away from their defaults.
 */
class OnnxFamilyTest {
    static final double TOL = 1e-5;

    @TempDir
    Path dir;

    /** A small CNN on (1, 12, 12): two conv blocks with the given normalization, pools, global pooling, a classifier. */
    static Sequential cnn(Rng rng, java.util.function.IntFunction<Module> norm) {
        return new Sequential(
                new Conv2d(1, 8, 3, 1, 1, 1, 1, false, rng), norm.apply(8), new Activation.ReLU(), new MaxPool2d(2),
                new Conv2d(8, 16, 3, 1, 1, 1, 1, true, rng), norm.apply(16), new Activation.ReLU(), new AvgPool2d(2),
                new Conv2d(16, 16, 3, 1, 1, 1, 1, true, rng), new Activation.ReLU(), new GlobalAvgPool(),
                new Dropout(0.5, rng), new Linear(16, 10, rng));
    }

    double check(Module m, int[] inShape, String file, long seed, int n) throws Exception {
        Rng rng = new Rng(seed);
        Ort.randomizeNorms(m, rng);
        double err = OnnxExportTest.compare(m, inShape, dir.resolve(file), rng, n);
        assertTrue(err <= TOL, file + ": ORT vs normlab rel err " + err);
        return err;
    }

    static List<String> ops(Path f) throws Exception {
        return Onnx.ModelProto.parseFrom(Files.readAllBytes(f)).getGraph().getNodeList().stream()
                .map(Onnx.NodeProto::getOpType).collect(Collectors.toList());
    }

    @Test
    void cnnWithBatchNorm() throws Exception {
        Rng rng = new Rng(21);
        check(cnn(rng, BatchNorm2d::new), new int[] {1, 12, 12}, "cnn_bn.onnx", 1, 16);
        List<String> ops = ops(dir.resolve("cnn_bn.onnx"));
        assertEquals(2, ops.stream().filter("BatchNormalization"::equals).count(), ops.toString());
        assertTrue(ops.containsAll(List.of("Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "Gemm")), ops.toString());
        Onnx.ModelProto m = Onnx.ModelProto.parseFrom(Files.readAllBytes(dir.resolve("cnn_bn.onnx")));
        assertEquals(OnnxExport.OPSET, m.getOpsetImport(0).getVersion());
    }

    @Test
    void cnnWithGroupNorm() throws Exception {
        Rng rng = new Rng(22);
        check(cnn(rng, c -> new GroupNorm(4, c)), new int[] {1, 12, 12}, "cnn_gn.onnx", 2, 16);
        Onnx.ModelProto m = Onnx.ModelProto.parseFrom(Files.readAllBytes(dir.resolve("cnn_gn.onnx")));
        assertEquals(OnnxExport.OPSET_GROUP_NORM, m.getOpsetImport(0).getVersion());
        assertEquals(OnnxExport.IR_VERSION_GROUP_NORM, m.getIrVersion());
        assertEquals(2, ops(dir.resolve("cnn_gn.onnx")).stream().filter("GroupNormalization"::equals).count());
    }

    @Test
    void groupNormChannelsLastAndWithoutAffine() throws Exception {
        Rng rng = new Rng(23);
        Sequential m = new Sequential(new GroupNorm(3, 6, 1e-3, true, Layout.NHWC), new Flatten(), new Linear(5 * 4 * 6, 7, rng),
                new GroupNorm(1, 7, 1e-5, false, Layout.NCHW));
        check(m, new int[] {5, 4, 6}, "gn_nhwc.onnx", 3, 5);
    }

    @Test
    void layerNormAndRmsNormOverTrailingDims() throws Exception {
        Rng rng = new Rng(24);
        Sequential m = new Sequential(
                new Conv2d(3, 4, 3, 2, 1, 1, 1, true, rng), new LayerNorm(4, 4, 4), new Activation.Tanh(),
                new RMSNorm(4, 4), new Conv2d(4, 6, 3, 1, 2, 2, 2, true, rng), new RMSNorm(new int[] {6, 4, 4}, 1e-4, false),
                new Flatten(), new LayerNorm(new int[] {96}, 1e-5, true, false), new RMSNorm(96), new Linear(96, 5, rng),
                new LayerNorm(new int[] {5}, 1e-5, false, false));
        check(m, new int[] {3, 8, 8}, "ln_rms.onnx", 4, 6);
        List<String> ops = ops(dir.resolve("ln_rms.onnx"));
        assertEquals(3, ops.stream().filter("LayerNormalization"::equals).count(), ops.toString());
        assertEquals(3, ops.stream().filter("ReduceMean"::equals).count(), ops.toString());
    }

    @Test
    void rmsNormUnderOpset21TakesAxesAsInput() throws Exception {
        // A GroupNorm lifts the model to opset 21, where ReduceMean's axes are an input, not an attribute.
        Rng rng = new Rng(25);
        Sequential m = new Sequential(new GroupNorm(2, 4), new RMSNorm(5, 5), new Flatten(), new Linear(100, 3, rng));
        check(m, new int[] {4, 5, 5}, "rms21.onnx", 5, 4);
    }

    @Test
    void instanceNormWithAndWithoutRunningStatistics() throws Exception {
        Rng rng = new Rng(26);
        Sequential m = new Sequential(
                new Conv2d(2, 4, 3, rng), new InstanceNorm2d(4), new Activation.ReLU(),
                new InstanceNorm2d(4, 1e-5, 0.1, true, false), new InstanceNorm2d(4, 1e-5, 0.1, true, true),
                new Flatten(), new Linear(4 * 6 * 6, 12, rng));
        check(m, new int[] {2, 8, 8}, "in2d.onnx", 6, 5);
        List<String> ops = ops(dir.resolve("in2d.onnx"));
        assertEquals(2, ops.stream().filter("InstanceNormalization"::equals).count(), ops.toString());
        assertEquals(1, ops.stream().filter("BatchNormalization"::equals).count(), ops.toString());
        Sequential m1 = new Sequential(new InstanceNorm1d(3, 1e-5, 0.1, false, true), new InstanceNorm1d(3, 1e-4, 0.1, true, false),
                new Flatten(), new Linear(30, 4, rng));
        check(m1, new int[] {3, 10}, "in1d.onnx", 8, 5);
    }

    @Test
    void poolsWithStridesPaddingAndCountIncludePad() throws Exception {
        Rng rng = new Rng(27);
        Sequential m = new Sequential(
                new Conv2d(3, 6, new int[] {3, 2}, new int[] {1, 2}, new int[] {1, 0}, new int[] {1, 1}, 3, true, rng),
                new MaxPool2d(new int[] {3, 2}, new int[] {2, 1}, new int[] {1, 1}),
                new AvgPool2d(new int[] {3, 3}, new int[] {2, 2}, new int[] {1, 1}, false),
                new AvgPool2d(new int[] {2, 2}, new int[] {1, 1}, new int[] {1, 1}, true), new Flatten());
        check(m, new int[] {3, 11, 10}, "pools.onnx", 7, 3);
    }
}
