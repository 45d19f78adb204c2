package normlab.bench;

import normlab.nn.Module;
import normlab.norm.GroupNorm;

/** JMH: GroupNorm(32 groups, 64 channels) on (32, 64, 56, 56). */
public class GroupNormBench extends NormBench {
    @Override
    Module make() {
        return new GroupNorm(32, 64);
    }

    @Override
    int[] shape() {
        return new int[] {32, 64, 56, 56};
    }
}
