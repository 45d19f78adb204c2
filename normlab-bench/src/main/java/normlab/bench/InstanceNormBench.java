package normlab.bench;

import normlab.norm.InstanceNorm2d;

/** JMH: InstanceNorm2d(64) on (32, 64, 56, 56). */
public class InstanceNormBench extends NormBench {
    public InstanceNormBench() {
        super(() -> new InstanceNorm2d(64), 32, 64, 56, 56);
    }
}
