package normlab.nn;

import static normlab.testing.Golden.GRAD_TOL;
import static normlab.testing.Golden.OUT_TOL;
import static normlab.testing.Golden.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import normlab.kernels.Kernels;
import normlab.tensor.Tensor;
import normlab.testing.Golden;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Linear, Sigmoid, Tanh, ReLU and cross-entropy against PyTorch (golden/core); metric and tolerances in {@link Golden}. */
class LayersGoldenTest {
    private final boolean simdBefore = Kernels.simd();

    @AfterEach
    void restoreSimd() {
        Kernels.setSimd(simdBefore);
    }

    @ParameterizedTest(name = "{0} simd={1}")
    @CsvSource({"linear_bias,true", "linear_bias,false", "linear_nobias,true", "linear_nobias,false"})
    void linear(String name, boolean simd) {
        Kernels.setSimd(simd);
        Map<String, Tensor> t = Golden.load("core", name).tensors();
        boolean bias = t.containsKey("bias");
        Tensor w = t.get("weight");
        Linear lin = new Linear(w.dim(1), w.dim(0), bias, null);
        lin.weight.value.copyFrom(w);
        if (bias) lin.bias.value.copyFrom(t.get("bias"));
        else assertNull(lin.bias);
        assertEquals(bias ? 2 : 1, lin.parameters().size());
        Tensor y = lin.forward(t.get("x"));
        Tensor dx = lin.backward(t.get("dy"));
        assertClose(name + " y", y, t.get("y"), OUT_TOL);
        assertClose(name + " dx", dx, t.get("dx"), GRAD_TOL);
        assertClose(name + " dweight", lin.weight.grad, t.get("dweight"), GRAD_TOL);
        if (bias) assertClose(name + " dbias", lin.bias.grad, t.get("dbias"), GRAD_TOL);
        // Gradients accumulate: a second backward doubles them.
        lin.backward(t.get("dy"));
        Tensor twice = t.get("dweight").copy();
        for (int i = 0; i < twice.numel(); i++) twice.data[i] *= 2;
        assertClose(name + " dweight accumulated", lin.weight.grad, twice, GRAD_TOL);
    }

    @ParameterizedTest
    @ValueSource(strings = {"sigmoid", "tanh", "relu"})
    void activation(String name) {
        Map<String, Tensor> t = Golden.load("core", name).tensors();
        Module m = switch (name) {
            case "sigmoid" -> new Activation.Sigmoid();
            case "tanh" -> new Activation.Tanh();
            default -> new Activation.ReLU();
        };
        Tensor y = m.forward(t.get("x"));
        Tensor dx = m.backward(t.get("dy"));
        assertClose(name + " y", y, t.get("y"), OUT_TOL);
        assertClose(name + " dx", dx, t.get("dx"), GRAD_TOL);
        if (name.equals("relu")) assertEquals(0f, dx.data[0], "ReLU'(0) is 0, as PyTorch");
    }

    /** Both paths: SIMD (one vector exp pass over the batch) and the scalar StrictMath reference. */
    @ParameterizedTest(name = "{0} simd={1}")
    @CsvSource({"ce, true", "ce, false", "ce_huge, true", "ce_huge, false"})
    void crossEntropy(String name, boolean simd) {
        Kernels.setSimd(simd);
        Map<String, Tensor> t = Golden.load("core", name).tensors();
        CrossEntropyLoss ce = new CrossEntropyLoss();
        float loss = ce.forward(t.get("logits"), Golden.labels(t.get("labels")));
        assertTrue(Float.isFinite(loss), name + " loss " + loss);
        assertClose(name + " loss", Tensor.of(new float[] {loss}, 1), t.get("loss"), OUT_TOL);
        Tensor g = ce.backward();
        assertClose(name + " dlogits", g, t.get("dlogits"), GRAD_TOL);
        for (float v : g.data) assertTrue(Float.isFinite(v), name + " gradient not finite");
    }
}
