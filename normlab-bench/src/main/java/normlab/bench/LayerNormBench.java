package normlab.bench;

import normlab.norm.LayerNorm;

/** JMH: LayerNorm(768) on (8192, 768). */
public class LayerNormBench extends NormBench {
    public LayerNormBench() {
        super(() -> new LayerNorm(768), 8192, 768);
    }
}
