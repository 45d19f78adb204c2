package normlab.lab.evidence;

import java.util.List;
import normlab.lab.experiments.MnistExperiment;

/**
 * Every experiment of the lab in report order, Figure 1 first; each runnable from {@link Settings} alone with its
 * default parameters. The command line has one subcommand per entry, {@code reproduce --all} runs them all, and the
 * report has one section per entry.
 */
public final class Experiments {
    public static final List<Experiment<?, ?>> ALL = List.of(new MnistExperiment(), new LrSweep(), new InitSweep(), new BatchSweep(), new BatchStats(),
            new Shift(), new DropoutBn(), new Depth(), new Placement(), new Landscape(), new Zoo(), new ResNetDepth(), new RnnNorm(), new TransformerNorms(),
            new Paper42(), new Regularization(), new Contrast());

    private Experiments() {}

    /** The experiment whose command is {@code name}. */
    public static Experiment<?, ?> byName(String name) {
        for (Experiment<?, ?> e : ALL) if (e.name().equals(name)) return e;
        throw new IllegalArgumentException("unknown experiment " + name);
    }

    /** The experiment whose id (in summary.json and the report) is {@code id}. */
    public static Experiment<?, ?> byId(String id) {
        for (Experiment<?, ?> e : ALL) if (e.id().equals(id)) return e;
        throw new IllegalArgumentException("unknown experiment " + id);
    }
}
