package normlab.norm;

import static normlab.testing.Golden.GRAD_TOL;
import static normlab.testing.Golden.OUT_TOL;
import static normlab.testing.Golden.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import normlab.io.Safetensors;
import normlab.kernels.Kernels;
import normlab.tensor.Tensor;
import normlab.testing.Golden;
import normlab.testing.KernelSwitches;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * BatchNorm1d/2d against PyTorch (fixtures golden/core/bn*): three training steps (output, dx, dγ, dβ, running mean and
 * variance, num_batches_tracked after each) and one evaluation step, for every configuration the generator writes,
 * with the SIMD kernels on and off. Metric and tolerances: {@link Golden}.
 */
@ExtendWith(KernelSwitches.class)
class BatchNormGoldenTest {
    static Stream<Arguments> fixtures() {
        List<Arguments> out = new ArrayList<>();
        for (String name : Golden.names("core", "bn")) {
            out.add(Arguments.of(name, true));
            out.add(Arguments.of(name, false));
        }
        return out.stream();
    }

    /** The generator's configurations: every combination the issue lists is present. */
    @Test
    void fixturesCoverEveryConfiguration() {
        List<String> names = Golden.names("core", "bn");
        assertEquals(14, names.size(), "bn fixtures: " + names);
        boolean[] seen = new boolean[10];
        for (String name : names) {
            Map<String, String> meta = Golden.load("core", name).metadata();
            String shape = meta.get("shape");
            seen[0] |= meta.get("dims").equals("1");
            seen[1] |= meta.get("dims").equals("2");
            seen[2] |= meta.get("affine").equals("false");
            seen[3] |= meta.get("momentum").equals("none");
            seen[4] |= meta.get("track_running_stats").equals("false");
            seen[5] |= shape.startsWith("[2,");
            seen[6] |= shape.endsWith(", 1, 1]");
            seen[7] |= meta.get("dims").equals("1") && shape.split(",").length == 2;
            seen[8] |= meta.get("dims").equals("1") && shape.split(",").length == 3;
            seen[9] |= name.contains("offset");
        }
        for (int i = 0; i < seen.length; i++) assertTrue(seen[i], "configuration " + i + " not covered by " + names);
    }

    @ParameterizedTest(name = "{0} simd={1}")
    @MethodSource("fixtures")
    void matchesPyTorch(String name, boolean simd) {
        Kernels.setSimd(simd);
        Safetensors.Contents f = Golden.load("core", name);
        Map<String, String> meta = f.metadata();
        Map<String, Tensor> t = f.tensors();
        int c = Integer.parseInt(meta.get("num_features"));
        double eps = Double.parseDouble(meta.get("eps"));
        Double momentum = meta.get("momentum").equals("none") ? null : Double.valueOf(meta.get("momentum"));
        boolean affine = Boolean.parseBoolean(meta.get("affine"));
        boolean track = Boolean.parseBoolean(meta.get("track_running_stats"));
        BatchNorm bn = meta.get("dims").equals("1")
                ? new BatchNorm1d(c, eps, momentum, affine, track)
                : new BatchNorm2d(c, eps, momentum, affine, track);
        if (affine) {
            bn.weight.value.copyFrom(t.get("weight"));
            bn.bias.value.copyFrom(t.get("bias"));
        } else {
            assertNull(bn.weight);
            assertTrue(bn.parameters().isEmpty());
        }
        if (!track) {
            assertEquals(affine ? Set.of("weight", "bias") : Set.of(), bn.stateDict().keySet(), "no buffers without running statistics");
        }

        bn.train();
        for (int k = 0; k < 3; k++) step(name + " step" + k, bn, t, "step" + k + ".", affine, track);
        bn.eval();
        step(name + " eval", bn, t, "eval.", affine, track);
    }

    /**
     * One forward+backward compared with both references: float64 PyTorch (the exact answer) within the tolerance, and
     * float32 PyTorch within the tolerance plus float32 PyTorch's own error against float64 (that term is 0 except where
     * PyTorch's y = α·x + b form loses digits to a large mean, the offset fixture).
     */
    private static void step(String what, BatchNorm bn, Map<String, Tensor> t, String p, boolean affine, boolean track) {
        bn.zeroGrad();
        Tensor dy = t.get(p + "dy");
        Tensor y = bn.forward(t.get(p + "x"));
        Tensor dx = bn.backward(dy);
        check(what + " y", y, t, p, "y", OUT_TOL, 0);
        check(what + " dx", dx, t, p, "dx", GRAD_TOL, Golden.dxScale(bn, dy));
        if (affine) {
            check(what + " dweight", bn.weight.grad, t, p, "dweight", GRAD_TOL, 0);
            check(what + " dbias", bn.bias.grad, t, p, "dbias", GRAD_TOL, 0);
        }
        if (track) {
            check(what + " running_mean", bn.runningMean, t, p, "running_mean", OUT_TOL, 0);
            check(what + " running_var", bn.runningVar, t, p, "running_var", OUT_TOL, 0);
            assertEquals(t.get(p + "num_batches_tracked").data[0], bn.numBatchesTracked.data[0], what + " num_batches_tracked");
        } else {
            assertNull(bn.runningMean);
        }
    }

    private static void check(String what, Tensor actual, Map<String, Tensor> t, String p, String key, double tol, double s) {
        Tensor ref32 = t.get(p + key), ref64 = t.get(p + "f64." + key);
        assertClose(what + " vs float64", actual, ref64, tol, s);
        double torchOwn = Golden.err(ref32, ref64, s);
        assertClose(what + " vs float32 (PyTorch's own error " + torchOwn + ")", actual, ref32, tol + torchOwn, s);
    }
}
