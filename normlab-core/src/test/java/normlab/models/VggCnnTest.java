package normlab.models;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import normlab.nn.Activation;
import normlab.nn.Conv2d;
import normlab.nn.CrossEntropyLoss;
import normlab.nn.Dropout;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm2d;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** The VGG-like builder: layer counts and widths per configuration, shapes, bias only without BN, errors, and that it learns. */
class VggCnnTest {
    private static long count(Sequential m, Class<?> c) {
        return m.layers().stream().filter(c::isInstance).count();
    }

    @Test
    void layoutFollowsTheConfiguration() {
        for (boolean bn : new boolean[] {false, true}) {
            for (boolean sig : new boolean[] {false, true}) {
                Sequential m = VggCnn.build(new VggCnn.Config(4, bn, sig, bn ? 0 : 0.4), new Rng(1));
                List<Conv2d> convs = m.layers().stream().filter(Conv2d.class::isInstance).map(Conv2d.class::cast).toList();
                assertEquals(VggCnn.CONVS, convs.size());
                assertEquals(List.of(4, 4, 8, 8, 16, 16), convs.stream().map(c -> c.weight.value.dim(0)).toList());
                for (Conv2d c : convs) assertEquals(!bn, c.bias != null, "conv bias only without BN");
                assertEquals(bn ? 6 : 0, count(m, BatchNorm2d.class));
                assertEquals(sig ? 6 : 0, count(m, Activation.Sigmoid.class));
                assertEquals(sig ? 0 : 6, count(m, Activation.ReLU.class));
                assertEquals(bn ? 0 : 1, count(m, Dropout.class));
                Tensor y = m.forward(Tensor.zeros(3, 1, 28, 28));
                assertArrayEquals(new int[] {3, 10}, y.shape());
            }
        }
    }

    @Test
    void badConfigurationsAreRefusedWithTheirValue() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new VggCnn.Config(0, true, false, 0)).getMessage().contains("width"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new VggCnn.Config(4, true, false, 1.0)).getMessage().contains("dropout"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new VggCnn.Config(4, true, false, 0, 0)).getMessage().contains("classes"));
    }

    /** A few SGD steps on one fixed batch lower its loss, with BN and without. */
    @Test
    void fitsAFixedBatch() {
        Rng r = new Rng(3);
        Tensor x = Tensor.zeros(16, 1, 28, 28);
        for (int i = 0; i < x.data.length; i++) x.data[i] = (float) r.nextDouble();
        int[] labels = new int[16];
        for (int i = 0; i < 16; i++) labels[i] = i % 4;
        for (boolean bn : new boolean[] {false, true}) {
            Sequential m = VggCnn.build(new VggCnn.Config(4, bn, false, 0), new Rng(5));
            SGD opt = new SGD(m.parameters(), 0.05, 0.9, false, 0, false);
            CrossEntropyLoss loss = new CrossEntropyLoss();
            m.train();
            float first = Float.NaN, last = Float.NaN;
            for (int s = 0; s < 30; s++) {
                opt.zeroGrad();
                last = loss.forward(m.forward(x), labels);
                if (s == 0) first = last;
                m.backward(loss.backward());
                opt.step();
            }
            assertTrue(last < 0.7 * first, (bn ? "BN" : "no BN") + ": loss " + first + " → " + last);
        }
    }

    /** He normal before ReLU, Xavier normal before sigmoid, zero biases: the sample s.d. of the largest conv's weights. */
    @Test
    void weightsAreDrawnForTheActivation() {
        for (boolean sig : new boolean[] {false, true}) {
            Sequential m = VggCnn.build(new VggCnn.Config(8, false, sig, 0), new Rng(2));
            Conv2d last = m.layers().stream().filter(Conv2d.class::isInstance).map(Conv2d.class::cast).reduce((a, b) -> b).orElseThrow();
            float[] w = last.weight.value.data;
            double ss = 0;
            for (float v : w) ss += v * v;
            double sd = Math.sqrt(ss / w.length), fanIn = 32 * 9, fanOut = 32 * 9;
            double want = sig ? Math.sqrt(2 / (fanIn + fanOut)) : Math.sqrt(2 / fanIn);
            assertEquals(want, sd, 0.05 * want, sig ? "Xavier" : "He");
            for (float b : last.bias.value.data) assertEquals(0f, b);
        }
    }
}
