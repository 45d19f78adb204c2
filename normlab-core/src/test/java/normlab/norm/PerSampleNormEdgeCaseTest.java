package normlab.norm;

import static normlab.norm.BatchNormEdgeCaseTest.GRAD_TOL;
import static normlab.norm.BatchNormEdgeCaseTest.OUT_TOL;
import static normlab.norm.BatchNormEdgeCaseTest.assertClose;
import static normlab.norm.BatchNormEdgeCaseTest.fixture;

import java.util.Map;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.tensor.Tensor;
import normlab.testing.KernelSwitches;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * LayerNorm and GroupNorm on the edge cases of {@link BatchNormEdgeCaseTest} (rows or groups with means 1e4..1e7 and
 * tiny spread, constant, variance near eps, subnormal), against float64 two-pass references
 * (golden/edge/ln_*, gn_*, from tools/golden/gen_edge.py). Same metric and tolerances: outputs 1e-5, gradients 1e-4,
 * relative to max(1, max|ref|); no non-finite value.
 */
class PerSampleNormEdgeCaseTest {
    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"ln, offset", "ln, constant", "ln, tinyvar", "ln, subnormal",
                "gn, offset", "gn, constant", "gn, tinyvar", "gn, subnormal"})
    void matchesFloat64Reference(String kind, String kase) throws Exception {
        KernelSwitches.onBothPaths(simd -> check(kind, kase, simd)); // the Vector API kernels and the scalar reference loops
    }

    private void check(String kind, String kase, boolean simd) throws Exception {
        Map<String, Tensor> f = fixture(kind + "_" + kase);
        Tensor x = f.get("x");
        Module layer;
        Parameter w, b;
        if (kind.equals("ln")) {
            LayerNorm ln = new LayerNorm(x.dim(1));
            layer = ln;
            w = ln.weight;
            b = ln.bias;
        } else {
            GroupNorm gn = new GroupNorm(2, x.dim(1));
            layer = gn;
            w = gn.weight;
            b = gn.bias;
        }
        w.value.copyFrom(f.get("weight"));
        b.value.copyFrom(f.get("bias"));
        String id = kind + "/" + kase + (simd ? " simd " : " scalar ");
        assertClose(id + "y", layer.forward(x), f.get("y"), OUT_TOL);
        assertClose(id + "dx", layer.backward(f.get("dy")), f.get("dx"), GRAD_TOL);
        assertClose(id + "dweight", w.grad, f.get("dweight"), GRAD_TOL);
        assertClose(id + "dbias", b.grad, f.get("dbias"), GRAD_TOL);
    }
}
