package normlab.bench;

import normlab.nn.Module;
import normlab.norm.RMSNorm;

/** JMH: RMSNorm(768) on (8192, 768). */
public class RMSNormBench extends NormBench {
    @Override
    Module make() {
        return new RMSNorm(768);
    }

    @Override
    int[] shape() {
        return new int[] {8192, 768};
    }
}
