package normlab.testing;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.DoubleSupplier;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;

/**
 * Finite-difference gradient checks for modules that compute in float32.
 *
 * <p>Objective: {@code L(x, θ) = Σᵢ rᵢ·yᵢ} with {@code y = m.forward(x)} and a fixed random {@code r} (standard normal,
 * seeded), summed in double. Its exact gradients are what {@code m.backward(r)} returns (dL/dx) and accumulates into
 * every parameter's {@code grad}. Each element of x and of every parameter is perturbed in place and L is
 * differentiated numerically with the central fourth-order stencil
 * <pre>   D = [8·(L(+h) − L(−h)) − (L(+2h) − L(−2h))] / (12h)      (truncation error h⁴·L⁽⁵⁾/30)</pre>
 * h is a power of two near {@link #H_REL}·rms(tensor). The points v ± h, v ± 2h are rounded to float32, which moves
 * each by at most 2⁻²⁴·(|v| + 2h); that shifts D by at most 1.5·2⁻²⁴·(max|v| + 2h)/h times max|D|, added to the
 * allowance below (about 1e-5 relative for values within a few rms of zero).
 *
 * <p>Acceptance, per tensor: {@code max_i |Dᵢ − gᵢ| ≤ tol·max_i |Dᵢ| + noise}, where g is the analytic gradient and
 * {@code noise = 1.5·e/h} (plus the misplacement term above) bounds what rounding of the forward can do to D: each
 * evaluation of L is off by at most {@code e = 8·2⁻²⁴·Σ|rᵢ·yᵢ|} (every yᵢ a few float32 roundings from exact), and the stencil's weights sum to 18/12
 * per unit e. A wrong gradient (missing term, wrong sign, wrong factor) is off by a fraction of max|D|, far above
 * {@code tol = 1e-3} plus noise; {@link Result} reports both so tests can show the margin.
 *
 * <p>Use: {@code GradCheck.check(layer, x, GradCheck.TOL)} after putting the layer in the mode to check; keep x and the
 * parameters O(1) (h follows their rms) and away from kinks (ReLU: |x| ≫ 2h). Losses that are not modules go through
 * {@link #checkScalar}. The forward must be a deterministic function of x and the parameters.
 *
 * <p>The module runs in the mode it is in (train or eval). Buffers (running statistics) are restored before every
 * evaluation and at the end, parameters are restored exactly; the analytic gradients are left in the parameters.
 */
public final class GradCheck {
    /** Step relative to the tensor's rms value (rounded down to a power of two). */
    public static final double H_REL = 1.0 / 32;
    /** Rounding of one output element, in units of 2⁻²⁴·|y| (generous: covers a handful of float32 operations). */
    public static final double ROUNDINGS = 8;
    /** Default relative tolerance. */
    public static final double TOL = 1e-3;

    private GradCheck() {}

    /** Outcome for one tensor: largest |numeric − analytic|, the largest |numeric|, the rounding allowance, h. */
    public record Result(String tensor, double maxErr, double scale, double noise, double h) {
        /** Error in units of the tolerance's scale (should be ≪ tol for a correct gradient). */
        public double relErr() {
            return maxErr / Math.max(scale, 1e-300);
        }

        public boolean passes(double tol) {
            return maxErr <= tol * scale + noise;
        }

        @Override
        public String toString() {
            return tensor + ": max|D−g| = " + maxErr + ", max|D| = " + scale + ", rounding allowance " + noise + ", h = " + h;
        }
    }

    /** {@link #check(Module, Tensor, double, long)} with seed 1. */
    public static List<Result> check(Module m, Tensor x, double tol) {
        return check(m, x, tol, 1);
    }

    /**
     * Checks dL/dx and every parameter gradient of {@code m} at {@code x}; throws an {@link AssertionError} naming the
     * module, tensor and worst element if any fails. Returns the results for every tensor (dx first, then parameters
     * in state-dict order).
     */
    public static List<Result> check(Module m, Tensor x, double tol, long seed) {
        return check(m, x, tol, seed, H_REL);
    }

    /**
     * As {@link #check(Module, Tensor, double, long)} with the step {@code hRel}·rms instead of {@link #H_REL}·rms: for
     * layers whose output is strongly curved on the default step's scale (a recurrence through normalizations of
     * small pre-activations), where the stencil's truncation error h⁴·L⁽⁵⁾/30 would exceed the tolerance. The rounding
     * allowance grows as 1/h accordingly.
     */
    public static List<Result> check(Module m, Tensor x, double tol, long seed, double hRel) {
        Map<String, Tensor> buffers = new LinkedHashMap<>();
        Map<String, Parameter> params = m.namedParameters();
        for (Map.Entry<String, Tensor> e : m.stateTensors().entrySet()) {
            if (!params.containsKey(e.getKey())) buffers.put(e.getKey(), e.getValue());
        }
        Map<String, Tensor> saved = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : buffers.entrySet()) saved.put(e.getKey(), e.getValue().copy());
        Runnable restore = () -> {
            for (Map.Entry<String, Tensor> e : buffers.entrySet()) e.getValue().copyFrom(saved.get(e.getKey()));
        };

        // Analytic gradients: one forward, backward of r.
        m.zeroGrad();
        Tensor y = m.forward(x);
        Rng rng = new Rng(seed);
        Tensor r = Tensor.zeros(y.shape());
        for (int i = 0; i < r.numel(); i++) r.data[i] = (float) rng.nextGaussian();
        Tensor dx = m.backward(r);
        double absSum = 0;
        for (int i = 0; i < y.numel(); i++) absSum += Math.abs((double) r.data[i] * y.data[i]);
        double e = ROUNDINGS * 0x1p-24 * absSum;
        restore.run();

        DoubleSupplier objective = () -> {
            restore.run();
            Tensor out = m.forward(x);
            double s = 0;
            for (int i = 0; i < out.numel(); i++) s += (double) r.data[i] * out.data[i];
            return s;
        };
        List<Result> results = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        results.add(checkTensor(m.label() + " dx", x, dx, objective, e, tol, failures, hRel));
        for (Map.Entry<String, Parameter> p : params.entrySet()) {
            results.add(checkTensor(m.label() + " d" + p.getKey(), p.getValue().value, p.getValue().grad.copy(), objective, e, tol, failures, hRel));
        }
        restore.run();
        if (!failures.isEmpty()) throw new AssertionError("gradient check failed:\n  " + String.join("\n  ", failures));
        return results;
    }

    /**
     * Checks {@code analytic} = d(objective)/d(wrt) by perturbing {@code wrt} in place (restored afterwards).
     * {@code objectiveError} bounds the rounding error of one evaluation of the objective. Throws on failure.
     */
    public static Result checkScalar(String name, Tensor wrt, Tensor analytic, DoubleSupplier objective, double objectiveError,
                                     double tol) {
        List<String> failures = new ArrayList<>();
        Result res = checkTensor(name, wrt, analytic, objective, objectiveError, tol, failures, H_REL);
        if (!failures.isEmpty()) throw new AssertionError("gradient check failed: " + failures.get(0));
        return res;
    }

    private static Result checkTensor(String name, Tensor wrt, Tensor analytic, DoubleSupplier f, double e, double tol,
                                      List<String> failures, double hRel) {
        if (wrt.numel() != analytic.numel()) {
            failures.add(name + ": analytic gradient has shape " + analytic.shapeString() + ", tensor " + wrt.shapeString());
            return new Result(name, Double.NaN, 0, 0, 0);
        }
        double h = step(wrt, hRel);
        double[] num = new double[wrt.numel()];
        float[] v = wrt.data;
        for (int i = 0; i < v.length; i++) {
            float orig = v[i];
            v[i] = (float) (orig + h);
            double p1 = f.getAsDouble();
            v[i] = (float) (orig - h);
            double m1 = f.getAsDouble();
            v[i] = (float) (orig + 2 * h);
            double p2 = f.getAsDouble();
            v[i] = (float) (orig - 2 * h);
            double m2 = f.getAsDouble();
            v[i] = orig;
            // Central fourth-order stencil of the class comment.
            num[i] = (8 * (p1 - m1) - (p2 - m2)) / (12 * h);
        }
        double scale = 0, maxErr = 0;
        int worst = 0;
        for (int i = 0; i < num.length; i++) {
            scale = Math.max(scale, Math.abs(num[i]));
            double d = Math.abs(num[i] - analytic.data[i]);
            if (!(d <= maxErr)) {
                maxErr = d;
                worst = i;
            }
        }
        double maxAbs = 0;
        for (float x : v) maxAbs = Math.max(maxAbs, Math.abs(x));
        double misplaced = 1.5 * 0x1p-24 * (maxAbs + 2 * h) / h * scale;
        Result res = new Result(name, maxErr, scale, 1.5 * e / h + misplaced, h);
        if (!res.passes(tol)) {
            failures.add(res + " (tol " + tol + "); worst at flat index " + worst + ": numeric " + num[worst]
                    + ", analytic " + analytic.data[worst]);
        }
        return res;
    }

    /** A power of two near H_REL·rms(t) (H_REL when t is all zero). */
    static double step(Tensor t) {
        return step(t, H_REL);
    }

    /** A power of two near hRel·rms(t). */
    static double step(Tensor t, double hRel) {
        double ss = 0;
        for (float v : t.data) ss += (double) v * v;
        double rms = Math.sqrt(ss / Math.max(1, t.numel()));
        if (rms == 0) rms = 1;
        return Math.scalb(1.0, Math.getExponent(hRel * rms));
    }
}
