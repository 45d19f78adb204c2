package normlab.bench;

import normlab.nn.Module;
import normlab.norm.InstanceNorm2d;

/** JMH: InstanceNorm2d(64) on (32, 64, 56, 56). */
public class InstanceNormBench extends NormBench {
    @Override
    Module make() {
        return new InstanceNorm2d(64);
    }

    @Override
    int[] shape() {
        return new int[] {32, 64, 56, 56};
    }
}
