package normlab.models;

import java.util.ArrayList;
import java.util.List;
import normlab.nn.Activation;
import normlab.nn.Init;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm1d;
import normlab.tensor.Rng;

/**
 * The network of the Batch Normalization paper's MNIST experiment (§4.1): 784-100-100-100-10, sigmoid hidden units,
 * every weight drawn from N(0, std²), biases zero.
 * <ul>
 *   <li>baseline: (Linear(bias) → Sigmoid) ×3 → Linear;</li>
 *   <li>with BN: (Linear(no bias) → BatchNorm1d → Sigmoid) ×3 → Linear; BN's β replaces the bias.</li>
 * </ul>
 * Layer indices (and so state-dict keys) match the same {@code nn.Sequential} in PyTorch.
 */
public final class MnistMlp {
    /** Layer widths: input, three hidden layers, classes. */
    public static final int[] SIZES = {784, 100, 100, 100, 10};

    private MnistMlp() {}

    /** Builds the baseline ({@code batchNorm} false) or the BN network, weights from {@code rng}. */
    public static Sequential build(boolean batchNorm, double std, Rng rng) {
        if (!(std > 0)) throw new IllegalArgumentException("MnistMlp: weight std must be > 0, got " + std);
        List<Module> layers = new ArrayList<>();
        for (int i = 0; i + 1 < SIZES.length; i++) {
            boolean hidden = i + 2 < SIZES.length;
            Linear lin = new Linear(SIZES[i], SIZES[i + 1], !(batchNorm && hidden), null); // zero-initialized
            Init.normal(lin.weight.value, std, rng);
            layers.add(lin);
            if (hidden) {
                if (batchNorm) layers.add(new BatchNorm1d(SIZES[i + 1]));
                layers.add(new Activation.Sigmoid());
            }
        }
        return new Sequential(layers);
    }

    /** The sigmoid of the last hidden layer, whose input the paper's Figure 1b/c follows. */
    public static Module lastSigmoid(Sequential model) {
        for (int i = model.size() - 1; i >= 0; i--) {
            if (model.get(i) instanceof Activation.Sigmoid) return model.get(i);
        }
        throw new IllegalArgumentException("MnistMlp: model has no Sigmoid layer");
    }
}
