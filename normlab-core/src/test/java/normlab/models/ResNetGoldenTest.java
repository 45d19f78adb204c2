package normlab.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;
import normlab.io.Safetensors;
import normlab.nn.BasicBlock;
import normlab.nn.CrossEntropyLoss;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.nn.PreActBlock;
import normlab.norm.BatchNorm2d;
import normlab.norm.GroupNorm;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.testing.Golden;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The residual blocks and ResNet against PyTorch (tools/golden/gen_resnet.py: its BasicBlock, PreActBlock and resnet()
 * are the reference definitions). Each fixture's state dict, written by PyTorch, is loaded strictly
 * ({@link Module#loadStateDict}: every key present, none extra, same shapes), which checks the layout and names; then
 * one training-mode forward and backward is compared: outputs ≤ 1e-5, dx and every parameter gradient ≤ 1e-4, BN
 * running statistics after the step ≤ 1e-5 (metric of {@link Golden}). Blocks: post/pre-activation × BN/GN/none ×
 * identity/projection shortcut. Networks: ResNet-8 (widths 4/8/8 on 12×12) post/pre × BN/GN/none, cross-entropy loss,
 * then eval-mode logits with the updated running statistics.
 */
class ResNetGoldenTest {
    static List<String> blocks() {
        List<String> n = Golden.names("resnet", "block_");
        assertEquals(12, n.size(), "block fixtures: " + n);
        return n;
    }

    static List<String> nets() {
        List<String> n = Golden.names("resnet", "net_");
        assertEquals(6, n.size(), "network fixtures: " + n);
        return n;
    }

    private static IntFunction<Module> norm(String kind, int groups) {
        return switch (kind) {
            case "bn" -> BatchNorm2d::new;
            case "gn" -> c -> new GroupNorm(groups, c);
            case "none" -> null;
            default -> throw new IllegalArgumentException("norm " + kind);
        };
    }

    private static Map<String, Tensor> prefixed(Map<String, Tensor> t, String prefix) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        t.forEach((k, v) -> {
            if (k.startsWith(prefix)) out.put(k.substring(prefix.length()), v);
        });
        return out;
    }

    /** Gradients of every parameter and the buffers after the step. */
    private static void compareState(String name, Module m, Map<String, Tensor> t) {
        int grads = 0;
        for (Map.Entry<String, Parameter> p : m.namedParameters().entrySet()) {
            Golden.assertClose(name + " grad " + p.getKey(), p.getValue().grad, t.get("grad." + p.getKey()), Golden.GRAD_TOL);
            grads++;
        }
        assertEquals(prefixed(t, "grad.").size(), grads, name + ": parameter count");
        for (Map.Entry<String, Tensor> b : m.namedBuffers().entrySet()) {
            Golden.assertClose(name + " buffer " + b.getKey(), b.getValue(), t.get("after." + b.getKey()), Golden.OUT_TOL);
        }
    }

    @ParameterizedTest
    @MethodSource("blocks")
    void blockMatchesPytorch(String name) {
        Safetensors.Contents c = Golden.load("resnet", name);
        Map<String, String> meta = c.metadata();
        Map<String, Tensor> t = c.tensors();
        int in = Integer.parseInt(meta.get("in")), out = Integer.parseInt(meta.get("out")), stride = Integer.parseInt(meta.get("stride"));
        IntFunction<Module> norm = norm(meta.get("norm"), Integer.parseInt(meta.get("groups")));
        Module b = meta.get("kind").equals("post") ? new BasicBlock(in, out, stride, norm, new Rng(1)) : new PreActBlock(in, out, stride, norm, new Rng(1));
        b.loadStateDict(prefixed(t, "init."));
        b.train();
        Tensor y = b.forward(t.get("x"));
        Golden.assertClose(name + " y", y, t.get("y"), Golden.OUT_TOL);
        Tensor dx = b.backward(t.get("dy"));
        Golden.assertClose(name + " dx", dx, t.get("dx"), Golden.GRAD_TOL);
        compareState(name, b, t);
    }

    @ParameterizedTest
    @MethodSource("nets")
    void resnet8MatchesPytorch(String name) {
        Safetensors.Contents c = Golden.load("resnet", name);
        Map<String, String> meta = c.metadata();
        Map<String, Tensor> t = c.tensors();
        int groups = Integer.parseInt(meta.get("groups"));
        ResNet.Norm norm = switch (meta.get("norm")) {
            case "bn" -> ResNet.BN;
            case "gn" -> ResNet.gn(groups);
            default -> ResNet.NONE;
        };
        ResNet.Config cfg = new ResNet.Config(Integer.parseInt(meta.get("depth")), meta.get("kind").equals("post") ? ResNet.Block.POST : ResNet.Block.PRE,
                norm, 1, 10, ints(meta.get("widths")), ints(meta.get("strides")), false);
        Module m = ResNet.build(cfg, new Rng(5));
        m.loadStateDict(prefixed(t, "init."));
        m.train();
        CrossEntropyLoss loss = new CrossEntropyLoss();
        Tensor logits = m.forward(t.get("x"));
        Golden.assertClose(name + " logits", logits, t.get("logits"), Golden.OUT_TOL);
        float l = loss.forward(logits, Golden.labels(t.get("labels")));
        assertEquals(t.get("loss").data[0], l, 1e-5 * Math.abs(t.get("loss").data[0]), name + " loss");
        Tensor dx = m.backward(loss.backward());
        Golden.assertClose(name + " dx", dx, t.get("dx"), Golden.GRAD_TOL);
        compareState(name, m, t);
        m.eval();
        Golden.assertClose(name + " eval logits", m.forward(t.get("x")), t.get("eval_logits"), Golden.OUT_TOL);
    }

    private static int[] ints(String csv) {
        String[] p = csv.split(",");
        int[] out = new int[p.length];
        for (int i = 0; i < p.length; i++) out[i] = Integer.parseInt(p[i].trim());
        return out;
    }

    /** The fixture's keys are exactly the layout the Java model has: a wrong name or a missing downsample fails the strict load. */
    @Test
    void strictLoadRejectsAMismatchedLayout() {
        Map<String, Tensor> t = prefixed(Golden.load("resnet", "block_post_bn_proj").tensors(), "init.");
        Module identityBlock = new BasicBlock(4, 6, 1, BatchNorm2d::new, new Rng(1)); // stride 1 but 4 → 6: still projects
        identityBlock.loadStateDict(t);
        Module noProjection = new BasicBlock(6, 6, 1, BatchNorm2d::new, new Rng(1));
        var e = org.junit.jupiter.api.Assertions.assertThrows(normlab.nn.StateDictException.class, () -> noProjection.loadStateDict(t));
        assertTrue(e.getMessage().contains("downsample.0.weight"), e.getMessage());
    }
}
