package normlab.norm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.Map;
import normlab.io.Safetensors;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.testing.KernelSwitches;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * BatchNorm on numerically hostile inputs against float64 references (golden group 'edge', tools/golden/gen_edge.py):
 * channel means 1e4..1e7 with tiny spread, zero-variance channels, variances near eps, subnormal inputs; plus a
 * 10⁷-values-per-channel accumulation test whose float64 two-pass reference is computed here.
 *
 * <p>Metric, per tensor: max over elements of |normlab − ref| / max(1, max|ref|). Tolerances: outputs (y, y_eval)
 * 1e-5, gradients (dx, dγ, dβ) 1e-4, running statistics 1e-6 relative per element. Every output must be finite.
 */
class BatchNormEdgeCaseTest {
    static final double OUT_TOL = 1e-5, GRAD_TOL = 1e-4, STAT_TOL = 1e-6;

    static Map<String, Tensor> fixture(String name) throws Exception {
        var url = BatchNormEdgeCaseTest.class.getResource("/golden/edge/" + name + ".safetensors");
        if (url == null) fail("missing fixture golden/edge/" + name + " (run /usr/bin/python3 tools/golden/generate.py edge)");
        try {
            return Safetensors.read(Path.of(url.toURI())).tensors();
        } catch (URISyntaxException e) {
            throw new AssertionError(e);
        }
    }

    /** max |a − ref| / max(1, max|ref|), failing on any non-finite value in {@code a}. */
    static double relErr(String what, Tensor a, Tensor ref) {
        assertEquals(ref.shapeString(), a.shapeString(), what + " shape");
        double maxRef = 0, maxDiff = 0;
        for (int i = 0; i < a.numel(); i++) {
            if (!Float.isFinite(a.data[i])) fail(what + ": non-finite value " + a.data[i] + " at flat index " + i);
            maxRef = Math.max(maxRef, Math.abs(ref.data[i]));
            maxDiff = Math.max(maxDiff, Math.abs((double) a.data[i] - ref.data[i]));
        }
        return maxDiff / Math.max(1, maxRef);
    }

    static void assertClose(String what, Tensor a, Tensor ref, double tol) {
        double e = relErr(what, a, ref);
        assertTrue(e <= tol, what + ": max rel err " + e + " > " + tol);
    }

    static BatchNorm layer(Tensor x, Map<String, Tensor> f) {
        int c = x.dim(1);
        BatchNorm bn = x.rank() == 2 ? new BatchNorm1d(c) : new BatchNorm2d(c);
        bn.weight.value.copyFrom(f.get("weight"));
        bn.bias.value.copyFrom(f.get("bias"));
        return bn;
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"offset, nc", "offset, nchw", "constant, nc", "constant, nchw",
                "tinyvar, nc", "tinyvar, nchw", "subnormal, nc", "subnormal, nchw"})
    void matchesFloat64Reference(String kase, String layout) throws Exception {
        KernelSwitches.onBothPaths(simd -> check(kase, layout, simd)); // the Vector API kernels and the scalar reference loops
    }

    private void check(String kase, String layout, boolean simd) throws Exception {
        Map<String, Tensor> f = fixture("bn_" + kase + "_" + layout);
        Tensor x = f.get("x");
        String id = kase + "/" + layout + (simd ? " simd " : " scalar ");

        BatchNorm bn = layer(x, f);
        Tensor y = bn.forward(x);
        assertClose(id + "y", y, f.get("y"), OUT_TOL);
        Tensor dx = bn.backward(f.get("dy"));
        assertClose(id + "dx", dx, f.get("dx"), GRAD_TOL);
        assertClose(id + "dweight", bn.weight.grad, f.get("dweight"), GRAD_TOL);
        assertClose(id + "dbias", bn.bias.grad, f.get("dbias"), GRAD_TOL);
        for (String k : new String[] {"running_mean", "running_var"}) {
            Tensor got = k.equals("running_mean") ? bn.runningMean : bn.runningVar, ref = f.get(k);
            for (int ch = 0; ch < ref.numel(); ch++) {
                double err = Math.abs(got.data[ch] - (double) ref.data[ch]) / Math.max(1, Math.abs(ref.data[ch]));
                assertTrue(err <= STAT_TOL, id + k + "[" + ch + "] = " + got.data[ch] + ", reference " + ref.data[ch]);
            }
        }

        BatchNorm ev = layer(x, f);
        ev.runningMean.copyFrom(f.get("rm_eval"));
        ev.runningVar.copyFrom(f.get("rv_eval"));
        ev.eval();
        assertClose(id + "y_eval", ev.forward(x), f.get("y_eval"), OUT_TOL);
    }

    /** Constant channels: x̂ is exactly 0, so y is exactly β (no NaN from 0/0, no noise from a large constant). */
    @Test
    void constantChannelsGiveExactlyBeta() throws Exception {
        for (String layout : new String[] {"nc", "nchw"}) {
            Map<String, Tensor> f = fixture("bn_constant_" + layout);
            Tensor x = f.get("x");
            BatchNorm bn = layer(x, f);
            Tensor y = bn.forward(x);
            int c = x.dim(1), s = x.numel() / (x.dim(0) * c);
            for (int i = 0; i < y.numel(); i++) {
                int ch = (i / s) % c;
                assertEquals(f.get("bias").data[ch], y.data[i], 0f, layout + " channel " + ch + " at " + i);
            }
        }
    }

    /**
     * 10⁷ values per channel (uniform), channel means 1e4 and 0 with std 1 and 1e-3: the reference mean and variance are
     * two-pass float64 sums here. Same metric; y within 1e-5, mean within 1e-9 relative, 1/√(σ²+ε) within 1e-6.
     */
    @ParameterizedTest(name = "layout {0}")
    @CsvSource({"nc", "nchw"})
    void tenMillionValuesPerChannel(String layout) {
        int c = 2, m = 10_000_000;
        double[] means = {1e4, 0}, stds = {1, 1e-3};
        boolean planar = layout.equals("nchw");
        Tensor x = planar ? Tensor.zeros(10, c, 1000, 1000) : Tensor.zeros(m, c);
        int n = x.dim(0), s = m / n;
        Rng rng = new Rng(20260515L);
        for (int i = 0; i < x.numel(); i++) {
            int ch = planar ? (i / s) % c : i % c;
            x.data[i] = (float) (means[ch] + stds[ch] * Math.sqrt(12) * (rng.nextDouble() - 0.5)); // uniform, std = stds[ch]
        }
        // Two-pass float64 reference.
        double[] mu = new double[c], var = new double[c];
        for (int i = 0; i < x.numel(); i++) mu[planar ? (i / s) % c : i % c] += x.data[i];
        for (int ch = 0; ch < c; ch++) mu[ch] /= m;
        for (int i = 0; i < x.numel(); i++) {
            int ch = planar ? (i / s) % c : i % c;
            double d = x.data[i] - mu[ch];
            var[ch] += d * d;
        }
        for (int ch = 0; ch < c; ch++) var[ch] /= m;

        BatchNorm bn = planar ? new BatchNorm2d(c) : new BatchNorm1d(c);
        Tensor y = bn.forward(x);
        double[] gotMu = bn.lastMean(), gotRstd = bn.lastRstd();
        for (int ch = 0; ch < c; ch++) {
            double rstd = 1 / Math.sqrt(var[ch] + bn.eps);
            assertEquals(mu[ch], gotMu[ch], 1e-9 * Math.max(1, Math.abs(mu[ch])), "mean of channel " + ch);
            assertEquals(rstd, gotRstd[ch], 1e-6 * rstd, "1/sqrt(var+eps) of channel " + ch);
        }
        double maxDiff = 0;
        for (int i = 0; i < y.numel(); i++) {
            int ch = planar ? (i / s) % c : i % c;
            double ref = (x.data[i] - mu[ch]) / Math.sqrt(var[ch] + bn.eps);
            if (!Float.isFinite(y.data[i])) fail("non-finite output at " + i);
            maxDiff = Math.max(maxDiff, Math.abs(y.data[i] - ref));
        }
        // Normalized values are O(1) (max |ref| ≈ 5.5), so max(1, max|ref|) ≤ 6: 1e-5 absolute is the stricter bound.
        assertTrue(maxDiff <= OUT_TOL, "max |y − ref| = " + maxDiff);
    }
}
