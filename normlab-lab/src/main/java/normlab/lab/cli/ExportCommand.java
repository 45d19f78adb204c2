package normlab.lab.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import normlab.io.ModelFiles;
import normlab.io.onnx.OnnxExport;
import normlab.nn.Module;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code normlab export model.safetensors --input-shape 1,28,28 --out model.onnx}: loads a model file (weights and the
 * description beside them, {@link ModelFiles}) and writes its inference function as ONNX ({@link OnnxExport}). The
 * batch dimension stays symbolic; the input shape is the rest, which the model file does not record.
 */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Export a saved model (.safetensors + .json) to ONNX, with a dynamic batch dimension.")
public final class ExportCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "the model's weights file (its .json description beside it)")
    Path model;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "the ONNX file to write")
    Path out;

    @Option(names = "--input-shape", required = true, split = ",", paramLabel = "D",
            description = "input shape without the batch dimension, e.g. 1,28,28 or 784")
    int[] inputShape;

    @Option(names = "--softmax", description = "append a softmax over dim 1 (output probabilities instead of logits)")
    boolean softmax;

    @Option(names = "--force", description = "overwrite --out if it exists")
    boolean force;

    @Override
    public Integer call() throws Exception {
        for (int d : inputShape) if (d <= 0) throw CliErrors.usage("--input-shape: dimensions must be positive, got " + java.util.Arrays.toString(inputShape));
        CliErrors.requireInputFile(model, "model weights");
        CliErrors.requireOutputFile(out, "--out", force);
        Module m;
        try {
            m = ModelFiles.load(model);
        } catch (java.io.IOException | RuntimeException e) {
            throw CliErrors.input(e instanceof java.io.IOException io ? CliErrors.describe(io) : model + ": " + CliErrors.oneLine(e.getMessage()));
        }
        try {
            OnnxExport.export(m, inputShape, out, softmax);
        } catch (java.io.IOException e) {
            throw CliErrors.output("cannot write " + out + ": " + CliErrors.describe(e));
        } catch (OnnxExport.NotExportableException e) {
            throw CliErrors.input(model + " cannot be exported: " + CliErrors.oneLine(e.getMessage()));
        } catch (RuntimeException e) {
            // a shape that does not fit the model: usage
            throw CliErrors.usage("--input-shape " + java.util.Arrays.toString(inputShape) + " does not fit " + model + ": " + CliErrors.oneLine(e.getMessage()));
        }
        System.out.println("wrote " + out + " (" + java.nio.file.Files.size(out) + " bytes) from " + model);
        return 0;
    }
}
