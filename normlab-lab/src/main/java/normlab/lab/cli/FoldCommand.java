package normlab.lab.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import normlab.infer.Fold;
import normlab.io.ModelFiles;
import normlab.nn.Module;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code normlab fold}: folds every eval-mode BatchNorm of a saved model into the Linear or Conv2d before it and
 * saves the result, a model with the same outputs and no BatchNorm left ({@link Fold}).
 */
@Command(name = "fold", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Folds each BatchNorm of a saved model into the Linear or Conv2d before it: W' = W·γ/√(rv+ε), "
                + "b' = (b − rm)·γ/√(rv+ε) + β. The folded model computes the same outputs as the original in eval mode.",
            "A BatchNorm that cannot be folded (something between it and the layer before, or no running statistics) "
                + "is an error naming both layers, unless --skip-unfoldable keeps it in place."})
public final class FoldCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "The model's weights (x.safetensors, with x.json beside it).")
    Path model;

    @Option(names = "--out", required = true, paramLabel = "MODEL", description = "Where to write the folded model (and its .json).")
    Path out;

    @Option(names = "--skip-unfoldable", description = "Leave BatchNorms that cannot be folded in place instead of failing.")
    boolean skipUnfoldable;

    @Override
    public Integer call() {
        CliErrors.requireInputFile(model, "model weights");
        CliErrors.requireOutputFile(out, "--out", true);
        Module m;
        try {
            m = ModelFiles.load(model);
        } catch (IOException e) {
            System.err.println("normlab fold: " + CliErrors.describe(e));
            return CliErrors.INPUT;
        }
        Fold.Result r;
        try {
            r = Fold.foldWhereAllowed(m);
        } catch (IllegalArgumentException e) {
            System.err.println("normlab fold: " + e.getMessage());
            return 2;
        }
        if (!skipUnfoldable && !r.refused().isEmpty()) {
            // Fold.fold's strict rule: every BatchNorm must fold.
            System.err.println("normlab fold: " + String.join("; ", r.refused()) + "; nothing written (--skip-unfoldable keeps such layers in place)");
            return 2;
        }
        for (Fold.Pair p : r.folded()) System.out.println("folded " + p.norm() + " into " + p.producer());
        for (String s : r.refused()) System.out.println("kept: " + s);
        try {
            ModelFiles.save(r.model(), out);
        } catch (IOException e) {
            System.err.println("normlab fold: cannot write " + out + ": " + CliErrors.describe(e));
            return CliErrors.OUTPUT;
        }
        System.out.println(r.folded().size() + " BatchNorm layer(s) folded; wrote " + out + " and " + ModelFiles.descriptionPath(out).getFileName());
        return 0;
    }
}
