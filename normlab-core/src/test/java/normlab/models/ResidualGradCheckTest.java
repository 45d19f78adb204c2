package normlab.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.function.IntFunction;
import normlab.nn.BasicBlock;
import normlab.nn.Conv2d;
import normlab.nn.Module;
import normlab.nn.PreActBlock;
import normlab.norm.BatchNorm2d;
import normlab.norm.GroupNorm;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.testing.GradCheck;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Finite-difference checks ({@link GradCheck}: fourth-order central differences of Σ r·y accumulated in double,
 * tolerance 1e-3 of max|numeric| plus the rounding allowance) of dL/dx and every parameter gradient of both residual
 * blocks, with BN (training mode, batch statistics), GroupNorm and no norm, identity and projection shortcuts, and of
 * a whole ResNet-8 in training mode.
 *
 * <p>ReLU's kink would spoil the differences wherever a perturbation moves a pre-activation across 0, and a residual
 * stack has many. So the parameters are set where no pre-activation is near 0 yet both sides of every ReLU occur
 * ({@link #awayFromKinks}): every norm has γ ≈ 0.2 and β = ±2 by channel parity (so its output stays within ±(2 ± 0.6)),
 * without norms conv biases are ±2 and weights small; inputs are small, or bounded away from 0 where a ReLU reads
 * them directly (pre-activation without norm). Half the channels are then cut by each ReLU and half pass.
 */
class ResidualGradCheckTest {
    private static IntFunction<Module> norm(String n) {
        return switch (n) {
            case "bn" -> BatchNorm2d::new;
            case "gn" -> c -> new GroupNorm(2, c);
            default -> null;
        };
    }

    /** +1 for even channels, −1 for odd ones. */
    private static float sign(int c) {
        return c % 2 == 0 ? 1f : -1f;
    }

    /** The parameterization of the class comment, applied to every norm and conv under {@code m}. */
    static void awayFromKinks(Module m, boolean normalized, Rng rng) {
        for (Module c : m.children().values()) awayFromKinks(c, normalized, rng);
        if (m instanceof BatchNorm2d || m instanceof GroupNorm) {
            Tensor g = m.namedParameters().get("weight").value, b = m.namedParameters().get("bias").value;
            for (int i = 0; i < g.numel(); i++) {
                g.data[i] = (float) (0.2 + 0.05 * rng.nextDouble());
                b.data[i] = 2 * sign(i);
            }
        } else if (m instanceof Conv2d conv) {
            if (!normalized) for (int i = 0; i < conv.weight.value.numel(); i++) conv.weight.value.data[i] *= 0.1f;
            if (conv.bias != null) for (int i = 0; i < conv.outChannels; i++) conv.bias.value.data[i] = 2 * sign(i);
        }
    }

    /** Small inputs, or ±[0.5, 1] when a ReLU reads the input directly. */
    private static Tensor input(Rng rng, boolean boundedAway, int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) {
            t.data[i] = boundedAway ? (float) ((rng.nextDouble() < 0.5 ? -1 : 1) * (0.5 + 0.5 * rng.nextDouble())) : (float) (0.2 * rng.nextGaussian());
        }
        return t;
    }

    @ParameterizedTest
    @CsvSource({"post,bn,4,4,1", "post,bn,2,4,2", "post,gn,4,4,1", "post,gn,2,4,2", "post,none,2,4,2",
            "pre,bn,4,4,1", "pre,bn,2,4,2", "pre,gn,4,4,1", "pre,gn,2,4,2", "pre,none,4,4,1"})
    void blockGradients(String kind, String n, int in, int out, int stride) {
        Rng rng = new Rng(31 + in * 7 + stride);
        Module b = kind.equals("post") ? new BasicBlock(in, out, stride, norm(n), rng) : new PreActBlock(in, out, stride, norm(n), rng);
        awayFromKinks(b, !n.equals("none"), rng);
        b.train();
        List<GradCheck.Result> r = GradCheck.check(b, input(rng, kind.equals("pre") && n.equals("none"), 3, in, 5, 5), GradCheck.TOL);
        assertEquals(1 + b.namedParameters().size(), r.size());
        for (GradCheck.Result res : r) assertTrue(res.scale() > 0, res + ": a gradient that is identically zero checks nothing");
    }

    @ParameterizedTest
    @CsvSource({"POST,BN", "PRE,GN"})
    void resnet8Gradients(ResNet.Block block, String n) {
        ResNet.Norm norm = n.equals("BN") ? ResNet.BN : ResNet.gn(2);
        Rng rng = new Rng(77);
        Module m = ResNet.build(ResNet.Config.of(8, block, norm).withWidths(2, 2, 2).withStrides(1, 2, 2), rng);
        awayFromKinks(m, true, rng);
        m.train();
        GradCheck.check(m, input(rng, false, 2, 1, 5, 5), GradCheck.TOL);
    }
}
