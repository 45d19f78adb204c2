package normlab.io;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import normlab.infer.Fold;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.models.SmallCnn;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every normalization of the family's SmallCnn saves and reloads with identical outputs; the BN-like ones also fold.
 * Fold metric: max|folded − unfolded| / max|unfolded| ≤ 1e-5, eval mode.
 */
class SmallCnnFilesTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @MethodSource("normlab.models.SmallCnn$Norm#values")
    void savesLoadsAndFolds(SmallCnn.Norm norm) throws Exception {
        Rng r = new Rng(norm.ordinal() + 1);
        Module m = SmallCnn.build(norm, 4, 8, r);
        // Non-trivial running statistics and normalization affines.
        for (var e : m.stateTensors().entrySet()) {
            float[] d = e.getValue().data;
            if (e.getKey().endsWith("running_var")) for (int i = 0; i < d.length; i++) d[i] = (float) (0.5 + r.nextDouble());
            if (e.getKey().endsWith("running_mean")) for (int i = 0; i < d.length; i++) d[i] = (float) (0.3 * r.nextGaussian());
        }
        for (Parameter p : m.parameters()) {
            if (p.kind != Parameter.Kind.NORM) continue;
            float[] d = p.value.data;
            for (int i = 0; i < d.length; i++) d[i] = (float) ((p.name.equals("weight") ? 1 : 0) + 0.3 * r.nextGaussian());
        }
        m.eval();
        Path f = tmp.resolve("cnn.safetensors");
        ModelFiles.save(m, f);
        Module back = ModelFiles.load(f);
        Tensor x = Tensor.zeros(3, 1, 28, 28);
        for (int i = 0; i < x.data.length; i++) x.data[i] = r.nextFloat();
        Tensor ref = m.forward(x);
        assertArrayEquals(ref.data, back.forward(x).data, norm.name());
        Module sample = norm.make(4, 28, 28);
        if (sample != null && Fold.isFoldableNorm(sample)) {
            Tensor got = Fold.fold(m).forward(x);
            double maxRef = 0, maxDiff = 0;
            for (int i = 0; i < ref.data.length; i++) {
                maxRef = Math.max(maxRef, Math.abs(ref.data[i]));
                maxDiff = Math.max(maxDiff, Math.abs(got.data[i] - ref.data[i]));
            }
            assertTrue(maxDiff <= 1e-5 * maxRef, norm + " fold rel err " + maxDiff / maxRef);
        }
    }
}
