package normlab.optim;

import static normlab.testing.Golden.OUT_TOL;
import static normlab.testing.Golden.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import normlab.io.Safetensors;
import normlab.nn.Activation;
import normlab.nn.CrossEntropyLoss;
import normlab.nn.Linear;
import normlab.nn.Parameter;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm1d;
import normlab.tensor.Tensor;
import normlab.testing.Golden;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * End-to-end training against PyTorch: Linear(6→5, no bias) → BatchNorm1d(5) → Sigmoid → Linear(5→3) with mean
 * cross-entropy, batch 8, three steps from PyTorch's initial state (golden/core/train_*). After each step the loss and
 * every parameter and buffer of the state dict are compared (err ≤ 1e-5, metric in {@link Golden}); optimizers: plain
 * SGD, SGD with momentum and weight decay, Nesterov with decay exempting norm parameters and biases, Adam, AdamW.
 *
 * <p>Also: optimizers alone (golden/core/optim_*), fed the same gradients as PyTorch for four steps, so their update
 * rules are compared without the network's rounding in between.
 */
class TrainingGoldenTest {
    static List<String> runs() {
        return Golden.names("core", "train_");
    }

    static List<String> optimCases() {
        return Golden.names("core", "optim_");
    }

    @Test
    void fixturesPresent() {
        assertEquals(5, runs().size(), "train fixtures " + runs());
        assertEquals(6, optimCases().size(), "optim fixtures " + optimCases());
    }

    @ParameterizedTest
    @MethodSource("runs")
    void trainsLikePyTorch(String name) {
        Safetensors.Contents f = Golden.load("core", name);
        Map<String, Tensor> t = f.tensors();
        Map<String, String> meta = f.metadata();
        Sequential net = new Sequential(new Linear(6, 5, false, null), new BatchNorm1d(5), new Activation.Sigmoid(),
                new Linear(5, 3, true, null));
        Map<String, Tensor> init = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : t.entrySet()) {
            if (e.getKey().startsWith("init.")) init.put(e.getKey().substring(5), e.getValue());
        }
        net.loadStateDict(init);
        Optimizer opt = optimizer(net.parameters(), meta);
        CrossEntropyLoss ce = new CrossEntropyLoss();
        net.train();
        for (int k = 0; k < 3; k++) {
            String p = "step" + k + ".";
            opt.zeroGrad();
            float loss = ce.forward(net.forward(t.get(p + "x")), Golden.labels(t.get(p + "labels")));
            net.backward(ce.backward());
            opt.step();
            assertClose(name + " " + p + "loss", Tensor.of(new float[] {loss}, 1), t.get(p + "loss"), OUT_TOL);
            for (Map.Entry<String, Tensor> e : net.stateDict().entrySet()) {
                assertClose(name + " " + p + e.getKey(), e.getValue(), t.get(p + e.getKey()), OUT_TOL);
            }
        }
    }

    private static Optimizer optimizer(List<Parameter> params, Map<String, String> meta) {
        double lr = Double.parseDouble(meta.get("lr"));
        double wd = Double.parseDouble(meta.get("weight_decay"));
        boolean exempt = Boolean.parseBoolean(meta.get("exempt"));
        return switch (meta.get("optimizer")) {
            case "sgd" -> new SGD(params, lr, Double.parseDouble(meta.get("momentum")), Boolean.parseBoolean(meta.get("nesterov")),
                    wd, exempt);
            case "adam" -> wd == 0 && !exempt ? new Adam(params, lr) : new Adam(params, lr, 0.9, 0.999, 1e-8, wd, false, false, exempt);
            case "adamw" -> Adam.adamW(params, lr, wd, exempt);
            default -> throw new IllegalArgumentException("unknown optimizer " + meta.get("optimizer"));
        };
    }

    @ParameterizedTest
    @MethodSource("optimCases")
    void optimizerStepsLikePyTorch(String name) {
        Safetensors.Contents f = Golden.load("core", name);
        Map<String, Tensor> t = f.tensors();
        Map<String, String> meta = f.metadata();
        Parameter w = new Parameter("weight", t.get("init.w").copy(), Parameter.Kind.WEIGHT);
        Parameter b = new Parameter("bias", t.get("init.b").copy(), Parameter.Kind.BIAS);
        Parameter g = new Parameter("weight", t.get("init.g").copy(), Parameter.Kind.NORM);
        List<Parameter> params = List.of(w, b, g);
        double lr = Double.parseDouble(meta.get("lr"));
        double wd = Double.parseDouble(meta.get("weight_decay"));
        boolean exempt = Boolean.parseBoolean(meta.get("exempt"));
        boolean amsgrad = Boolean.parseBoolean(meta.getOrDefault("amsgrad", "False"));
        Optimizer opt = switch (meta.get("optimizer")) {
            case "sgd" -> new SGD(params, lr, Double.parseDouble(meta.get("momentum")),
                    Boolean.parseBoolean(meta.getOrDefault("nesterov", "False")), wd, exempt);
            case "adam", "adamw" -> {
                String[] betas = meta.get("betas").replaceAll("[() ]", "").split(",");
                yield new Adam(params, lr, Double.parseDouble(betas[0]), Double.parseDouble(betas[1]),
                        Double.parseDouble(meta.get("eps")), wd, meta.get("optimizer").equals("adamw"), amsgrad, exempt);
            }
            default -> throw new IllegalArgumentException("unknown optimizer " + meta.get("optimizer"));
        };
        String[] keys = {"w", "b", "g"};
        for (int k = 0; k < 4; k++) {
            for (int i = 0; i < 3; i++) params.get(i).grad.copyFrom(t.get("step" + k + ".grad." + keys[i]));
            opt.step();
            for (int i = 0; i < 3; i++) {
                String key = "step" + k + "." + keys[i];
                assertClose(name + " " + key, params.get(i).value, t.get(key), OUT_TOL);
            }
        }
    }
}
