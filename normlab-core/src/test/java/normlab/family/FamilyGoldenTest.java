package normlab.family;

import static normlab.testing.Golden.GRAD_TOL;
import static normlab.testing.Golden.OUT_TOL;
import static normlab.testing.Golden.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import normlab.io.Safetensors;
import normlab.kernels.Kernels;
import normlab.nn.AvgPool2d;
import normlab.nn.Conv2d;
import normlab.nn.Dropout;
import normlab.nn.GlobalAvgPool;
import normlab.nn.Layout;
import normlab.nn.MaxPool2d;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.norm.BatchNorm;
import normlab.norm.BatchNorm2d;
import normlab.norm.BatchRenorm;
import normlab.norm.FrozenBatchNorm2d;
import normlab.norm.GhostBatchNorm;
import normlab.norm.GroupNorm;
import normlab.norm.InstanceNorm1d;
import normlab.norm.InstanceNorm2d;
import normlab.norm.LayerNorm;
import normlab.norm.RMSNorm;
import normlab.tensor.Tensor;
import normlab.testing.Golden;
import normlab.testing.KernelSwitches;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The normalization family and the convolutional layers against golden/family (tools/golden/gen_family.py): for every
 * fixture, every recorded step (training or evaluation) compares the output, dL/dx, every parameter gradient and the
 * running statistics after the step. Conv2d runs with the SIMD GEMM on and off; GroupNorm fixtures of rank 4 also run
 * channels-last (inputs permuted to NHWC, results permuted back). BatchNorm2d's NHWC layout is checked against the
 * core group's BatchNorm2d fixtures the same way.
 *
 * <p>Metric ({@link Golden}): max|a − r| / max|r|, against the float64 reference within the tolerance (outputs and
 * buffers 1e-5, gradients 1e-4), and against float32 PyTorch within the tolerance plus PyTorch's own float32 error.
 */
@ExtendWith(KernelSwitches.class)
class FamilyGoldenTest {
    static Stream<Arguments> fixtures() {
        List<Arguments> out = new ArrayList<>();
        for (String name : Golden.names("family", "")) {
            String layer = Golden.load("family", name).metadata().get("layer");
            if (layer.equals("Conv2d")) {
                out.add(Arguments.of(name, Layout.NCHW, true));
                out.add(Arguments.of(name, Layout.NCHW, false));
            } else {
                out.add(Arguments.of(name, Layout.NCHW, true));
                if (layer.equals("GroupNorm") && name.startsWith("gn_g") || name.equals("gn_batch1")) {
                    out.add(Arguments.of(name, Layout.NHWC, true));
                }
            }
        }
        return out.stream();
    }

    /** The generator writes every configuration the issue asks for. */
    @Test
    void fixturesCoverTheIssue() {
        List<String> names = Golden.names("family", "");
        for (String must : List.of("gn_g1", "gn_g2", "gn_g8", "gn_gC", "in2d", "in2d_affine_track", "in1d_track",
                "conv_rect_stride_pad", "conv_dilation", "conv_groups", "maxpool_k2", "avgpool_k3_s2_p1",
                "avgpool_k3_s2_p1_exclpad", "dropout_p03", "rms_rows", "ln_rows", "brn_const_nc", "brn_sched_nchw",
                "gbn_short_n10_v4", "frozenbn", "globalavgpool")) {
            assertTrue(names.contains(must), "missing fixture " + must + " in " + names);
        }
        Map<String, String> gc = Golden.load("family", "gn_gC").metadata();
        assertEquals(gc.get("groups"), gc.get("channels"), "gn_gC has G = C");
    }

    @ParameterizedTest(name = "{0} {1} simd={2}")
    @MethodSource("fixtures")
    void matchesReference(String name, Layout layout, boolean simd) {
        Kernels.setSimd(simd);
        Safetensors.Contents f = Golden.load("family", name);
        Map<String, String> meta = f.metadata();
        Map<String, Tensor> t = f.tensors();
        Module m = build(meta, layout);
        Map<String, Tensor> state = m.stateTensors();
        for (String k : List.of("weight", "bias", "running_mean", "running_var")) {
            if (t.containsKey(k)) {
                assertNotNull(state.get(k), name + ": layer has no " + k + " (state " + state.keySet() + ")");
                state.get(k).copyFrom(t.get(k));
            }
        }
        String[] modes = meta.get("modes").split(",");
        for (int k = 0; k < modes.length; k++) {
            String p = "step" + k + ".";
            String what = name + " " + layout + " step" + k + " (" + modes[k] + ")";
            m.setTraining(modes[k].equals("train"));
            m.zeroGrad();
            if (m instanceof Dropout d) d.setMask(t.get(p + "mask"));
            boolean nhwc = layout == Layout.NHWC;
            Tensor x = t.get(p + "x"), dy = t.get(p + "dy");
            Tensor y = m.forward(nhwc ? toNhwc(x) : x);
            Tensor dx = m.backward(nhwc ? toNhwc(dy) : dy);
            check(what + " y", nhwc ? toNchw(y) : y, t, p, "y", OUT_TOL);
            check(what + " dx", nhwc ? toNchw(dx) : dx, t, p, "dx", GRAD_TOL);
            for (Parameter par : m.parameters()) check(what + " d" + par.name, par.grad, t, p, "d" + par.name, GRAD_TOL);
            for (String b : List.of("running_mean", "running_var")) {
                if (t.containsKey(p + b)) check(what + " " + b, state.get(b), t, p, b, OUT_TOL);
            }
        }
    }

    /** Builds the fixture's layer from its metadata. */
    static Module build(Map<String, String> meta, Layout layout) {
        String layer = meta.get("layer");
        boolean affine = "true".equals(meta.get("affine"));
        return switch (layer) {
            case "LayerNorm" -> new LayerNorm(ints(meta.get("normalized_shape")), dbl(meta.get("eps")), affine, "true".equals(meta.get("bias")));
            case "RMSNorm" -> new RMSNorm(ints(meta.get("normalized_shape")), meta.get("eps").equals("none") ? null : dbl(meta.get("eps")), affine);
            case "GroupNorm" -> new GroupNorm(Integer.parseInt(meta.get("groups")), Integer.parseInt(meta.get("channels")),
                    dbl(meta.get("eps")), affine, layout);
            case "InstanceNorm" -> {
                int c = Integer.parseInt(meta.get("num_features"));
                boolean track = "true".equals(meta.get("track_running_stats"));
                yield meta.get("dims").equals("1")
                        ? new InstanceNorm1d(c, dbl(meta.get("eps")), dbl(meta.get("momentum")), affine, track)
                        : new InstanceNorm2d(c, dbl(meta.get("eps")), dbl(meta.get("momentum")), affine, track);
            }
            case "Conv2d" -> new Conv2d(Integer.parseInt(meta.get("in_channels")), Integer.parseInt(meta.get("out_channels")),
                    ints(meta.get("kernel")), ints(meta.get("stride")), ints(meta.get("padding")), ints(meta.get("dilation")),
                    Integer.parseInt(meta.get("groups")), "true".equals(meta.get("bias")), null);
            case "MaxPool2d" -> new MaxPool2d(ints(meta.get("kernel")), ints(meta.get("stride")), ints(meta.get("padding")));
            case "AvgPool2d" -> new AvgPool2d(ints(meta.get("kernel")), ints(meta.get("stride")), ints(meta.get("padding")),
                    "true".equals(meta.get("count_include_pad")));
            case "GlobalAvgPool" -> new GlobalAvgPool();
            case "Dropout" -> new Dropout(dbl(meta.get("p")), null);
            case "FrozenBatchNorm2d" -> new FrozenBatchNorm2d(Integer.parseInt(meta.get("num_features")), dbl(meta.get("eps")));
            case "BatchRenorm" -> new BatchRenorm(Integer.parseInt(meta.get("num_features")), dbl(meta.get("eps")), dbl(meta.get("momentum")), true,
                    new BatchRenorm.Schedule(Long.parseLong(meta.get("warmup")), dbl(meta.get("rmax")), Long.parseLong(meta.get("rmax_steps")),
                            dbl(meta.get("dmax")), Long.parseLong(meta.get("dmax_steps"))));
            case "GhostBatchNorm" -> new GhostBatchNorm(Integer.parseInt(meta.get("num_features")), Integer.parseInt(meta.get("virtual_batch_size")),
                    dbl(meta.get("eps")), meta.get("momentum").equals("none") ? null : dbl(meta.get("momentum")), true);
            default -> throw new AssertionError("unknown layer " + layer);
        };
    }

    /** BatchNorm2d channels-last against the core group's BatchNorm2d fixtures (inputs permuted to NHWC). */
    @ParameterizedTest(name = "{0}")
    @MethodSource("coreBn2d")
    void batchNorm2dChannelsLastMatchesPyTorch(String name) {
        Safetensors.Contents f = Golden.load("core", name);
        Map<String, String> meta = f.metadata();
        Map<String, Tensor> t = f.tensors();
        int c = Integer.parseInt(meta.get("num_features"));
        boolean affine = Boolean.parseBoolean(meta.get("affine")), track = Boolean.parseBoolean(meta.get("track_running_stats"));
        Double momentum = meta.get("momentum").equals("none") ? null : Double.valueOf(meta.get("momentum"));
        BatchNorm2d bn = new BatchNorm2d(c, Double.parseDouble(meta.get("eps")), momentum, affine, track, Layout.NHWC);
        if (affine) {
            bn.weight.value.copyFrom(t.get("weight"));
            bn.bias.value.copyFrom(t.get("bias"));
        }
        for (String p : List.of("step0.", "step1.", "step2.", "eval.")) {
            bn.setTraining(!p.equals("eval."));
            bn.zeroGrad();
            Tensor dy = t.get(p + "dy");
            Tensor y = toNchw(bn.forward(toNhwc(t.get(p + "x"))));
            Tensor dx = toNchw(bn.backward(toNhwc(dy)));
            assertClose(name + " NHWC " + p + "y", y, t.get(p + "f64.y"), OUT_TOL);
            assertClose(name + " NHWC " + p + "dx", dx, t.get(p + "f64.dx"), GRAD_TOL, Golden.dxScale(bn, dy));
            if (affine) {
                assertClose(name + " NHWC " + p + "dweight", bn.weight.grad, t.get(p + "f64.dweight"), GRAD_TOL);
                assertClose(name + " NHWC " + p + "dbias", bn.bias.grad, t.get(p + "f64.dbias"), GRAD_TOL);
            }
            if (track) {
                assertClose(name + " NHWC " + p + "running_mean", bn.runningMean, t.get(p + "f64.running_mean"), OUT_TOL);
                assertClose(name + " NHWC " + p + "running_var", bn.runningVar, t.get(p + "f64.running_var"), OUT_TOL);
            }
        }
    }

    static Stream<String> coreBn2d() {
        return Golden.names("core", "bn2d").stream();
    }

    private static void check(String what, Tensor actual, Map<String, Tensor> t, String p, String key, double tol) {
        Tensor ref32 = t.get(p + key), ref64 = t.get(p + "f64." + key);
        assertNotNull(ref64, what + ": fixture has no " + p + "f64." + key);
        assertClose(what + " vs float64", actual, ref64, tol);
        double torchOwn = Golden.err(ref32, ref64);
        assertClose(what + " vs float32 (PyTorch's own error " + torchOwn + ")", actual, ref32, tol + torchOwn);
    }

    /** (N, C, *spatial) → (N, *spatial, C), copying. */
    static Tensor toNhwc(Tensor x) {
        int n = x.dim(0), c = x.dim(1), s = x.numel() / (n * c);
        int[] shape = x.shape(), out = new int[shape.length];
        out[0] = n;
        System.arraycopy(shape, 2, out, 1, shape.length - 2);
        out[shape.length - 1] = c;
        Tensor y = Tensor.zeros(out);
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++)
                for (int j = 0; j < s; j++) y.data[(i * s + j) * c + ch] = x.data[(i * c + ch) * s + j];
        return y;
    }

    /** (N, *spatial, C) → (N, C, *spatial), copying. */
    static Tensor toNchw(Tensor x) {
        int r = x.rank(), n = x.dim(0), c = x.dim(r - 1), s = x.numel() / (n * c);
        int[] shape = x.shape(), out = new int[r];
        out[0] = n;
        out[1] = c;
        System.arraycopy(shape, 1, out, 2, r - 2);
        Tensor y = Tensor.zeros(out);
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++)
                for (int j = 0; j < s; j++) y.data[(i * c + ch) * s + j] = x.data[(i * s + j) * c + ch];
        return y;
    }

    private static double dbl(String s) {
        return Double.parseDouble(s);
    }

    /** Parses "[3, 2]" or "[3,2]". */
    static int[] ints(String s) {
        String body = s.replaceAll("[\\[\\]\\s]", "");
        if (body.isEmpty()) return new int[0];
        String[] parts = body.split(",");
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) out[i] = Integer.parseInt(parts[i]);
        return out;
    }
}
