package normlab.lab.evidence;

import java.io.IOException;
import java.util.List;

/** The evidence experiments in report order, each runnable from {@link Settings} alone with its default parameters. */
public final class Experiments {
    /** An experiment: its command name, a one-line description, and how to run it at its defaults (quick or full). */
    public record Entry(String name, String description, Runner runner) {}

    @FunctionalInterface
    public interface Runner {
        RunOutput run(Settings s) throws IOException;
    }

    public static final List<Entry> ALL = List.of(
            new Entry(LrSweep.NAME, "learning rate ×{1,3,10,30}: baseline vs BN (the paper's MLP)",
                    s -> LrSweep.run(LrSweep.Params.of(s.quick()), s)),
            new Entry(InitSweep.NAME, "weight init N(0,s²), He, Xavier: baseline vs BN",
                    s -> InitSweep.run(InitSweep.Params.of(s.quick()), s)),
            new Entry(BatchSweep.NAME, "batch 64…2, every normalization on the CNN (Fashion-MNIST)",
                    s -> BatchSweep.run(BatchSweep.Params.of(s.quick()), s)),
            new Entry(Shift.NAME, "batch vs running statistics; domain shift and recalibration",
                    s -> Shift.run(Shift.Params.of(s.quick()), s)),
            new Entry(DropoutBn.NAME, "dropout before BN vs after the last BN: variance shift",
                    s -> DropoutBn.run(DropoutBn.Params.of(s.quick()), s)),
            new Entry(Landscape.NAME, "loss landscape smoothness, noisy BN, internal covariate shift",
                    s -> Landscape.run(Landscape.Params.of(s.quick()), s)),
            new Entry(Zoo.NAME, "every normalization on the CNN: accuracy, step and inference time, folding",
                    s -> Zoo.run(Zoo.Params.of(s.quick()), s)));

    private Experiments() {}

    public static Entry byName(String name) {
        for (Entry e : ALL) if (e.name().equals(name)) return e;
        throw new IllegalArgumentException("unknown experiment " + name);
    }
}
