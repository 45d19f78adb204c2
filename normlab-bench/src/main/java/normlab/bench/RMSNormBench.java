package normlab.bench;

import normlab.norm.RMSNorm;

/** JMH: RMSNorm(768) on (8192, 768). */
public class RMSNormBench extends NormBench {
    public RMSNormBench() {
        super(() -> new RMSNorm(768), 8192, 768);
    }
}
