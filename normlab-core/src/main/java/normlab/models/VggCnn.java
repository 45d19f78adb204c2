package normlab.models;

import java.util.ArrayList;
import java.util.List;
import normlab.nn.Activation;
import normlab.nn.Conv2d;
import normlab.nn.Dropout;
import normlab.nn.GlobalAvgPool;
import normlab.nn.Init;
import normlab.nn.Linear;
import normlab.nn.MaxPool2d;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm2d;
import normlab.tensor.Rng;

/**
 * A VGG-like CNN of six 3×3 convolutions for 1×28×28 images, the deeper network of the lab's reduced-scale
 * reproduction of Ioffe &amp; Szegedy 2015, §4.2 (their Inception is 22 layers deep; this keeps its ingredients — a
 * conv stack with BN after every convolution, global average pooling, dropout before the classifier — at a size two
 * shared cores can train):
 * <pre>
 *   [conv3×3(→w) → (BN) → act] ×2 at 28×28 → maxpool 2
 *   [conv3×3(→2w) → (BN) → act] ×2 at 14×14 → maxpool 2
 *   [conv3×3(→4w) → (BN) → act] ×2 at 7×7 → global average pool → (dropout p) → Linear(4w → classes)
 * </pre>
 * act is ReLU or sigmoid (the paper's BN-x5-Sigmoid and its sigmoid baseline). The convolutions carry a bias only
 * without BN (BN's β makes it redundant). Convolution weights are drawn for the activation, so that the network without
 * BN can train at all: He normal N(0, 2/fan_in) before ReLU, Xavier normal N(0, 2/(fan_in + fan_out)) before sigmoid,
 * biases 0 (PyTorch's default, U(±1/√fan_in)·…, shrinks the signal by about 2/3 in variance per ReLU layer: after six
 * layers and global average pooling the network without BN stayed at chance for 400 steps at every rate tried). As a
 * Sequential, its state-dict keys are PyTorch's.
 */
public final class VggCnn {
    private VggCnn() {}

    /**
     * @param width   channels of the first stage (the others have 2× and 4×)
     * @param bn      BatchNorm2d after every convolution
     * @param sigmoid sigmoid activations instead of ReLU
     * @param dropout dropout rate before the classifier (0: no dropout layer)
     */
    public record Config(int width, boolean bn, boolean sigmoid, double dropout, int classes) {
        public Config {
            if (width <= 0) throw new IllegalArgumentException("VggCnn: width must be positive, got " + width);
            if (classes <= 0) throw new IllegalArgumentException("VggCnn: classes must be positive, got " + classes);
            if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("VggCnn: dropout must be in [0, 1), got " + dropout);
        }

        public Config(int width, boolean bn, boolean sigmoid, double dropout) {
            this(width, bn, sigmoid, dropout, 10);
        }
    }

    /** Number of convolutions in the network. */
    public static final int CONVS = 6;

    public static Sequential build(Config c, Rng rng) {
        List<Module> l = new ArrayList<>();
        int in = 1;
        for (int stage = 0; stage < 3; stage++) {
            int out = c.width() << stage;
            for (int k = 0; k < 2; k++) {
                Conv2d conv = new Conv2d(in, out, 3, 1, 1, 1, 1, !c.bn(), rng);
                if (c.sigmoid()) Init.xavierNormal(conv.weight.value, 1.0, rng);
                else Init.kaimingNormal(conv.weight.value, rng);
                if (conv.bias != null) Init.constant(conv.bias.value, 0f);
                l.add(conv);
                if (c.bn()) l.add(new BatchNorm2d(out));
                l.add(c.sigmoid() ? new Activation.Sigmoid() : new Activation.ReLU());
                in = out;
            }
            if (stage < 2) l.add(new MaxPool2d(2));
        }
        l.add(new GlobalAvgPool());
        if (c.dropout() > 0) l.add(new Dropout(c.dropout(), rng.split()));
        l.add(new Linear(in, c.classes(), rng));
        return new Sequential(l);
    }
}
