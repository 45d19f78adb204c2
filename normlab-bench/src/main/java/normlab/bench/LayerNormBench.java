package normlab.bench;

import normlab.nn.Module;
import normlab.norm.LayerNorm;

/** JMH: LayerNorm(768) on (8192, 768). */
public class LayerNormBench extends NormBench {
    @Override
    Module make() {
        return new LayerNorm(768);
    }

    @Override
    int[] shape() {
        return new int[] {8192, 768};
    }
}
