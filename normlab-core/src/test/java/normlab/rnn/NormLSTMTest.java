package normlab.rnn;

import static normlab.testing.Golden.GRAD_TOL;
import static normlab.testing.Golden.OUT_TOL;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import normlab.nn.Parameter;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.testing.Golden;
import normlab.testing.GradCheck;
import normlab.testing.KernelSwitches;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The normalized LSTM cells against the torch reference of tools/golden/gen_rnn.py ({@code norm_lstm}, autograd
 * gradients): for every recorded step (training and evaluation, with per-step BN evaluated within and beyond T_max)
 * the output, dL/dx, every parameter gradient and the running statistics after the step; then finite differences in
 * both modes for every kind; the state-dict keys and shapes; and what makes per-step and shared statistics differ.
 */
@ExtendWith(KernelSwitches.class)
class NormLSTMTest {
    /** Every fixture on the SIMD kernels and on the scalar reference loops. */
    static Stream<org.junit.jupiter.params.provider.Arguments> fixtures() {
        return Golden.names("rnn", "norm_").stream().flatMap(n -> Stream.of(true, false).map(simd -> org.junit.jupiter.params.provider.Arguments.of(n, simd)));
    }

    @ParameterizedTest(name = "{0} simd={1}")
    @MethodSource("fixtures")
    void matchesTorchReference(String name, boolean simd) {
        normlab.kernels.Kernels.setSimd(simd);
        var f = Golden.load("rnn", name);
        Map<String, String> meta = f.metadata();
        Map<String, Tensor> t = f.tensors();
        NormLSTM m = new NormLSTM(NormLSTM.Kind.of(meta.get("norm")), Integer.parseInt(meta.get("input_size")),
                Integer.parseInt(meta.get("hidden_size")), Integer.parseInt(meta.get("max_length")),
                Boolean.parseBoolean(meta.get("batch_first")), null);
        Map<String, Tensor> sd = new LinkedHashMap<>();
        for (String k : m.stateTensors().keySet()) sd.put(k, t.get(k));
        m.loadStateDict(sd);
        String[] modes = meta.get("modes").split(",");
        for (int k = 0; k < modes.length; k++) {
            String p = "step" + k + ".", what = name + " step" + k + " (" + modes[k] + ")";
            m.setTraining(modes[k].equals("train"));
            m.zeroGrad();
            Tensor y = m.forward(t.get(p + "x"));
            Tensor dx = m.backward(t.get(p + "dy"));
            check(what + " y", y, t, p, "y", OUT_TOL);
            check(what + " dx", dx, t, p, "dx", GRAD_TOL);
            for (Map.Entry<String, Parameter> e : m.namedParameters().entrySet()) {
                check(what + " d" + e.getKey(), e.getValue().grad, t, p, "d" + e.getKey(), GRAD_TOL);
            }
            for (Map.Entry<String, Tensor> b : m.namedBuffers().entrySet()) {
                check(what + " " + b.getKey(), b.getValue(), t, p, b.getKey(), OUT_TOL);
            }
        }
    }

    /** The fixture's step{k}.key (float32 PyTorch) and step{k}.f64.key (float64), as {@link RecurrentGoldenTest#check}. */
    private static void check(String what, Tensor actual, Map<String, Tensor> t, String step, String key, double tol) {
        Map<String, Tensor> sub = new java.util.HashMap<>();
        sub.put(key, t.get(step + key));
        sub.put("f64." + key, t.get(step + "f64." + key));
        RecurrentGoldenTest.check(what, actual, sub, key, tol);
    }

    /**
     * Finite-difference step relative to each tensor's rms: 1/256 instead of GradCheck's 1/32. Normalizing the small
     * recurrent pre-activations W_hh·h (batch variance ~0.02 at the first steps) makes L curved on the default step's
     * scale (a correct dL/dx was off 8% at h = 1/32·rms, 0.02% at 1/256), and the fourth-order stencil's truncation
     * error falls as h⁴.
     */
    private static final double H_REL = 1.0 / 256;

    @ParameterizedTest(name = "{0}")
    @EnumSource(NormLSTM.Kind.class)
    void finiteDifferencesInBothModes(NormLSTM.Kind kind) {
        Rng rng = new Rng(21);
        NormLSTM m = new NormLSTM(kind, 3, 4, 4, true, rng);
        for (Parameter p : m.parameters()) {
            // gains in [0.5, 1.5], shifts ±0.5: away from the 0.1 start, where L is too curved in γ for the stencil's h
            boolean gain = p.name.endsWith("weight");
            if (p.kind == Parameter.Kind.NORM) for (int i = 0; i < p.value.numel(); i++) {
                p.value.data[i] = (float) (gain ? 0.5 + rng.nextDouble() : 0.5 * rng.nextGaussian());
            }
        }
        Tensor x = RecurrentGradCheckTest.randn(rng, 1, 8, 3, 3);
        m.train();
        GradCheck.check(m, x, GradCheck.TOL, 1, H_REL);
        if (kind != NormLSTM.Kind.LAYER) {
            m.forward(x); // give the running statistics values of the data's scale
            m.forward(RecurrentGradCheckTest.randn(rng, 1, 8, 3, 3));
        }
        m.eval();
        GradCheck.check(m, x, GradCheck.TOL, 1, H_REL);
    }

    @Test
    void stateDictKeysAndShapes() {
        NormLSTM bn = new NormLSTM(NormLSTM.Kind.BATCH, 3, 4, 7, true, new Rng(1));
        Map<String, Tensor> s = bn.stateDict();
        assertEquals(java.util.List.of("weight_ih", "weight_hh", "bias", "norm_ih.weight", "norm_hh.weight", "norm_c.weight", "norm_c.bias",
                "norm_ih.running_mean", "norm_ih.running_var", "norm_hh.running_mean", "norm_hh.running_var", "norm_c.running_mean",
                "norm_c.running_var"), java.util.List.copyOf(s.keySet()));
        assertArrayEquals(new int[] {7, 16}, s.get("norm_hh.running_mean").shape());
        assertArrayEquals(new int[] {7, 4}, s.get("norm_c.running_var").shape());
        assertEquals(0.1f, s.get("norm_ih.weight").data[5]);
        assertArrayEquals(new int[] {1, 16}, new NormLSTM(NormLSTM.Kind.BATCH_SHARED, 3, 4, 0, true, null).stateDict().get("norm_ih.running_mean").shape());
        Map<String, Tensor> ln = new NormLSTM(NormLSTM.Kind.LAYER, 3, 4, 0, true, null).stateDict();
        assertTrue(ln.containsKey("norm_hh.bias") && !ln.containsKey("norm_hh.running_mean"), ln.keySet().toString());
        assertEquals(1f, ln.get("norm_c.weight").data[0]);
    }

    /**
     * One training forward: per-step statistics hold each step's own batch moments (W_hh·h_{−1} = 0 at t = 0, so slot 0
     * of norm_hh stays at its mean 0), the shared set ends up nearest the last steps'.
     */
    @Test
    void perStepSlotsFollowTheirStepSharedOnesDoNot() {
        Rng rng = new Rng(5);
        NormLSTM per = new NormLSTM(NormLSTM.Kind.BATCH, 2, 3, 6, true, new Rng(9));
        NormLSTM shared = new NormLSTM(NormLSTM.Kind.BATCH_SHARED, 2, 3, 0, true, new Rng(9));
        Tensor x = RecurrentGradCheckTest.randn(rng, 1, 8, 6, 2);
        per.forward(x);
        shared.forward(x);
        double[][] mom = per.recurrentMoments();
        assertEquals(0, mom[0][1], 1e-12, "h0 = 0: no spread of W_hh·h at t = 0");
        assertTrue(mom[5][1] > 1e-4, "spread at the last step: " + mom[5][1]);
        float[] rv = per.namedBuffers().get("norm_hh.running_var").data;
        assertEquals(0.9f, rv[0], 1e-6f, "slot 0 saw variance 0: (1 − 0.1)·1 + 0.1·0");
        float[] rvs = shared.namedBuffers().get("norm_hh.running_var").data;
        assertTrue(Math.abs(rvs[0] - 0.9f) > 0.1, "the shared set saw six updates: " + rvs[0]);
        NormLSTM bad = new NormLSTM(NormLSTM.Kind.BATCH, 2, 3, 6, true, null);
        var e = assertThrows(normlab.tensor.ShapeException.class, () -> bad.forward(Tensor.zeros(1, 3, 2)));
        assertTrue(e.getMessage().startsWith("NormLSTM(batch): batch normalization in training needs more than 1 sample"), e.getMessage());
        e = assertThrows(normlab.tensor.ShapeException.class, () -> bad.forward(Tensor.zeros(2, 3, 5)));
        assertTrue(e.getMessage().contains("[N, T, 2]") && e.getMessage().contains("[2, 3, 5]"), e.getMessage());
    }
    /**
     * t = 0 of the per-step BN of W_hh·h: h_0 = 0, so W_hh·h_0 = 0 exactly in every batch. Its slot keeps running mean
     * exactly 0 and a running variance that decays toward 0 (0.9^k after k batches), and its normalization outputs
     * exactly 0 in training and in evaluation whatever that variance is — a degenerate slot that cannot amplify
     * anything. Its gradient (γ/√ε-sized) meets only h_0 = 0 in dW_hh and nothing upstream: training gradients are
     * finite.
     */
    @Test
    void firstStepRecurrentNormIsExactlyZeroWhateverItsVariance() {
        Rng rng = new Rng(8);
        NormLSTM m = new NormLSTM(NormLSTM.Kind.BATCH, 3, 4, 5, true, new Rng(2));
        for (int k = 0; k < 30; k++) m.forward(RecurrentGradCheckTest.randn(rng, 1, 6, 5, 3));
        float[] rm = m.namedBuffers().get("norm_hh.running_mean").data, rv = m.namedBuffers().get("norm_hh.running_var").data;
        for (int j = 0; j < 16; j++) {
            assertEquals(0f, rm[j], 0f, "slot 0 mean, unit " + j);
            assertEquals(Math.pow(0.9, 30), rv[j], 1e-6, "slot 0 variance, unit " + j);
        }
        Tensor x = RecurrentGradCheckTest.randn(rng, 1, 6, 5, 3), dy = RecurrentGradCheckTest.randn(rng, 1, 6, 5, 4);
        m.eval();
        java.util.Arrays.fill(rv, 0, 16, 0f); // the limit: variance 0, rstd = 1/√ε
        float[] y0 = m.forward(x).data.clone();
        java.util.Arrays.fill(rv, 0, 16, 1f);
        float[] y1 = m.forward(x).data.clone();
        assertArrayEquals(y1, y0, "evaluation does not depend on slot 0's variance");
        m.train(); // (finite differences through t = 0 in training: finiteDifferencesInBothModes)
        m.zeroGrad();
        m.forward(x);
        Tensor dx = m.backward(dy);
        for (float g : dx.data) assertTrue(Float.isFinite(g));
        for (Parameter p : m.parameters()) for (float g : p.grad.data) assertTrue(Float.isFinite(g), p.name);
    }
}
