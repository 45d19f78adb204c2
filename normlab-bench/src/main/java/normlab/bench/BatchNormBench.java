package normlab.bench;

import normlab.nn.Module;
import normlab.norm.BatchNorm;
import org.openjdk.jmh.annotations.Param;

/** JMH: BatchNorm on (32, 64, 56, 56) (NCHW kernels) and (256, 1024) (channels-last kernels). */
public class BatchNormBench extends NormBench {
    @Param({"32x64x56x56", "256x1024"})
    public String shape;

    @Override
    Module make() {
        return new BatchNorm(shape()[1]);
    }

    @Override
    int[] shape() {
        return Shapes.parse(shape);
    }
}
