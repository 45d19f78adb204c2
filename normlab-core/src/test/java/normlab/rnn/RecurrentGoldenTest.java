package normlab.rnn;

import static normlab.testing.Golden.GRAD_TOL;
import static normlab.testing.Golden.OUT_TOL;
import static normlab.testing.Golden.assertClose;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import normlab.nn.Parameter;
import normlab.tensor.Tensor;
import normlab.testing.Golden;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * LSTM and GRU against torch.nn.LSTM / torch.nn.GRU (golden/rnn, tools/golden/gen_rnn.py): PyTorch's state dict
 * loaded strictly by key, then the output, final states, dL/dx, dL/dh0 (and dc0) and every parameter gradient of
 * L = Σ y·dy, against the float64 reference (outputs 1e-5, gradients 1e-4, the {@link Golden} metric) and against
 * float32 PyTorch within the tolerance plus PyTorch's own float32 error. Cases: one and two layers, batch-first and
 * time-major, zero and given initial states, a single time step.
 */
class RecurrentGoldenTest {
    static Stream<String> fixtures() {
        return Stream.concat(Golden.names("rnn", "lstm_").stream(), Golden.names("rnn", "gru_").stream());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void matchesPyTorch(String name) {
        var f = Golden.load("rnn", name);
        Map<String, String> meta = f.metadata();
        Map<String, Tensor> t = f.tensors();
        int in = Integer.parseInt(meta.get("input_size")), hs = Integer.parseInt(meta.get("hidden_size"));
        int layers = Integer.parseInt(meta.get("num_layers"));
        boolean bf = Boolean.parseBoolean(meta.get("batch_first")), lstm = meta.get("layer").equals("LSTM");
        Recurrent m = lstm ? new LSTM(in, hs, layers, bf, null) : new GRU(in, hs, layers, bf, null);
        Map<String, Tensor> sd = new java.util.LinkedHashMap<>();
        for (String k : m.stateTensors().keySet()) sd.put(k, t.get(k));
        m.loadStateDict(sd);
        boolean given = meta.get("initial").equals("given");
        if (given) m.setInitialState(t.get("h0"), lstm ? t.get("c0") : null);
        m.zeroGrad();
        Tensor y = m.forward(t.get("x"));
        Tensor dx = m.backward(t.get("dy"));
        check(name + " y", y, t, "y", OUT_TOL);
        check(name + " h_n", m.finalHidden(), t, "h_n", OUT_TOL);
        if (lstm) check(name + " c_n", ((LSTM) m).finalCell(), t, "c_n", OUT_TOL);
        check(name + " dx", dx, t, "dx", GRAD_TOL);
        if (given) {
            check(name + " dh0", m.initialHiddenGrad(), t, "dh0", GRAD_TOL);
            if (lstm) check(name + " dc0", ((LSTM) m).initialCellGrad(), t, "dc0", GRAD_TOL);
        }
        for (Map.Entry<String, Parameter> p : m.namedParameters().entrySet()) {
            check(name + " d" + p.getKey(), p.getValue().grad, t, "d" + p.getKey(), GRAD_TOL);
        }
    }

    static void check(String what, Tensor actual, Map<String, Tensor> t, String key, double tol) {
        Tensor ref32 = t.get(key), ref64 = t.get("f64." + key);
        assertNotNull(ref64, what + ": fixture has no f64." + key);
        assertClose(what + " vs float64", actual, ref64, tol);
        double torchOwn = Golden.err(ref32, ref64);
        assertClose(what + " vs float32 (PyTorch's own error " + torchOwn + ")", actual, ref32, tol + torchOwn);
    }

}
