package normlab.io;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import normlab.nn.Module;
import normlab.tensor.Tensor;

/**
 * Runs a saved model on given inputs, for comparing normlab with another implementation (used by
 * {@code tools/interop/torch_interop.py check}):
 *
 * <pre>
 * java --add-modules jdk.incubator.vector -cp normlab-lab/target/normlab.jar normlab.io.Predict MODEL.safetensors IN OUT
 * </pre>
 *
 * <p>Loads {@code MODEL.safetensors} with its description ({@link ModelFiles#load}, eval mode), reads the tensor
 * {@code inputs} of the safetensors file {@code IN}, and writes {@code OUT} (safetensors) with {@code inputs} and the
 * model's {@code outputs}. Exit status 0 on success, 1 with one line on stderr otherwise.
 */
public final class Predict {
    private Predict() {}

    public static void main(String[] args) {
        if (args.length != 3) {
            System.err.println("usage: normlab.io.Predict MODEL.safetensors INPUTS.safetensors OUTPUTS.safetensors");
            System.exit(2);
        }
        try {
            run(Path.of(args[0]), Path.of(args[1]), Path.of(args[2]));
        } catch (Exception e) {
            System.err.println("normlab.io.Predict: " + e.getMessage());
            System.exit(1);
        }
    }

    /** Writes {@code out} with the tensors {@code inputs} (from {@code in}) and {@code outputs} (the model's, eval mode). */
    public static void run(Path model, Path in, Path out) throws java.io.IOException {
        Module m = ModelFiles.load(model);
        Tensor x = Safetensors.read(in).tensors().get("inputs");
        if (x == null) throw new ModelFileException(in + ": no tensor named 'inputs'");
        Tensor y = m.forward(x).copy();
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("inputs", x);
        t.put("outputs", y);
        Safetensors.write(out, t, Map.of("producer", "normlab.io.Predict"));
    }
}
