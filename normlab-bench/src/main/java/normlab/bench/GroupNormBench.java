package normlab.bench;

import normlab.norm.GroupNorm;

/** JMH: GroupNorm(32 groups, 64 channels) on (32, 64, 56, 56). */
public class GroupNormBench extends NormBench {
    public GroupNormBench() {
        super(() -> new GroupNorm(32, 64), 32, 64, 56, 56);
    }
}
