import java.nio.file.Files;
import java.nio.file.Path;
import normlab.io.ModelFiles;
import normlab.models.MnistMlp;
import normlab.models.SmallCnn;
import normlab.nn.Module;
import normlab.tensor.Rng;

/**
 * The inference rows' models for tools/peer/compare.sh: DIR/mlp (the paper's 784-100-100-100-10 sigmoid MLP with BN)
 * and DIR/cnn (the small CNN with BN, 32 and 64 channels), untrained weights, running variances drawn from [0.5, 1.5)
 * so that folding BN changes the weights (as tools/infer-ab/MkMlp.java does for docs/inference.md).
 * Usage: java --add-modules jdk.incubator.vector -cp normlab-lab/target/normlab.jar tools/peer/MkInferModels.java DIR
 */
public class MkInferModels {
    public static void main(String[] a) throws Exception {
        Path dir = Path.of(a[0]);
        Files.createDirectories(dir);
        save(MnistMlp.build(true, 1.0, new Rng(1)), dir.resolve("mlp.safetensors"));
        save(SmallCnn.build(SmallCnn.Norm.BN, 32, 64, new Rng(1)), dir.resolve("cnn.safetensors"));
    }

    private static void save(Module m, Path path) throws Exception {
        Rng r = new Rng(2);
        for (var e : m.namedBuffers().entrySet()) {
            if (e.getKey().endsWith("running_var")) {
                for (int i = 0; i < e.getValue().data.length; i++) e.getValue().data[i] = (float) (0.5 + r.nextDouble());
            }
        }
        ModelFiles.save(m, path);
    }
}
