package normlab.norm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * Every normalization layer, with {@link Module#reuseOutputs} on, gives exactly the outputs, input gradients, parameter
 * gradients and running statistics of the same layer allocating fresh tensors, over three train-mode calls and one
 * eval-mode call with different inputs: a kernel that accumulated into (or skipped part of) a reused buffer would leak
 * the previous call's values and fail here.
 */
class NormBufferReuseTest {
    private static Tensor gaussian(Rng rng, int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) t.data[i] = (float) (2 * rng.nextGaussian() + 0.5);
        return t;
    }

    private static List<float[]> run(Module m, int[] shape, boolean reuse) {
        m.reuseOutputs(reuse);
        Rng rng = new Rng(21);
        List<float[]> out = new ArrayList<>();
        for (int call = 0; call < 4; call++) {
            if (call == 3) m.eval();
            else m.train();
            Tensor x = gaussian(rng, shape), dy = gaussian(rng, shape);
            for (Parameter p : m.parameters()) p.zeroGrad();
            out.add(m.forward(x).data.clone());
            if (call < 3 || !(m instanceof FrozenBatchNorm2d)) out.add(m.backward(dy).data.clone());
            for (Parameter p : m.parameters()) out.add(p.grad.data.clone());
            for (Tensor t : m.stateTensors().values()) out.add(t.data.clone());
        }
        return out;
    }

    @Test
    void everyNormLayerGivesTheFreshResultsWithReusedBuffers() {
        List<Supplier<Module>> layers = List.of(
                () -> new BatchNorm1d(6), () -> new BatchNorm2d(6), () -> new BatchNorm2d(6, normlab.nn.Layout.NHWC),
                () -> new LayerNorm(6), () -> new GroupNorm(3, 6), () -> new InstanceNorm2d(6), () -> new RMSNorm(6),
                () -> new BatchRenorm(6), () -> new GhostBatchNorm(6, 2), () -> new FrozenBatchNorm2d(6));
        for (Supplier<Module> make : layers) {
            Module probe = make.get();
            boolean image = !(probe instanceof BatchNorm1d || probe instanceof LayerNorm || probe instanceof RMSNorm
                    || probe instanceof BatchRenorm || probe instanceof GhostBatchNorm);
            int[] shape = image ? new int[] {4, 6, 3, 5} : new int[] {8, 6};
            if (probe instanceof BatchNorm2d b && b.layout == normlab.nn.Layout.NHWC) shape = new int[] {4, 3, 5, 6};
            List<float[]> fresh = run(make.get(), shape, false), reused = run(make.get(), shape, true);
            for (int i = 0; i < fresh.size(); i++) {
                assertArrayEquals(fresh.get(i), reused.get(i), probe.getClass().getSimpleName() + " array " + i);
            }
        }
    }
}
