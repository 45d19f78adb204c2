package normlab.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import normlab.norm.BatchNorm1d;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** Module.toString(): PyTorch's module repr, from the layer specs. */
class ModuleToStringTest {
    @Test
    void sequentialPrintsAsPyTorchDoes() {
        Rng rng = new Rng(1);
        Module m = new Sequential(new Linear(784, 100, false, rng), new BatchNorm1d(100), new Activation.Sigmoid(),
                new Sequential(new Linear(100, 10, rng)));
        assertEquals("""
                Sequential(
                  (0): Linear(in_features=784, out_features=100, bias=False)
                  (1): BatchNorm1d(100, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
                  (2): Sigmoid()
                  (3): Sequential(
                    (0): Linear(in_features=100, out_features=10, bias=True)
                  )
                )""", m.toString());
        assertEquals("BatchNorm1d(3, eps=0.001, momentum=None, affine=False, track_running_stats=True)",
                new BatchNorm1d(3, 1e-3, null, false, true).toString());
    }

    /** A module without a registered spec prints its class name. */
    @Test
    void unregisteredModulePrintsItsClassName() {
        class Custom extends Module {
            @Override
            public Tensor forward(Tensor x) {
                return x;
            }

            @Override
            public Tensor backward(Tensor g) {
                return g;
            }
        }
        assertEquals("Custom()", new Custom().toString());
        assertEquals("Sequential(\n  (0): Custom()\n)", new Sequential(new Custom()).toString());
    }
}
