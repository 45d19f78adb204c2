package normlab.lab.evidence;

import java.io.IOException;
import java.util.List;
import java.util.function.Function;

/**
 * An evidence experiment: an {@link Experiment} whose parameters depend only on quick or full and whose run is a
 * {@link RunOutput} (CSV tables, charts and summary.json).
 */
public abstract class Evidence<P, R> implements Experiment<P, R> {
    private final String name, title, description;
    private final List<String> help;
    private final ParamsOf<P> params;

    /**
     * @param title  the title of its report section
     * @param params its parameters for a quick (true) or a full run
     */
    protected Evidence(String name, String title, String description, String help, Function<Boolean, P> params) {
        this(name, title, description, help, (ParamsOf<P>) s -> params.apply(s.quick()));
    }

    /** The parameters of a run from its settings: quick or full and the experiment's own options. */
    @FunctionalInterface
    protected interface ParamsOf<P> {
        P of(Settings s);
    }

    /** An experiment with options of its own ({@link #options}): {@code params} reads them from the settings. */
    protected Evidence(String name, String title, String description, String help, ParamsOf<P> params) {
        this.name = name;
        this.title = title;
        this.description = description;
        this.help = List.of(help);
        this.params = params;
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final String description() {
        return description;
    }

    @Override
    public final List<String> help() {
        return help;
    }

    @Override
    public final P params(Settings s) {
        return params.of(s);
    }

    /**
     * The run's output for {@code s}; its parameters in summary.json: the data ({@code data} with the sizes of the runs'
     * slices), then key, value, … ({@link RunOutput#describe}).
     */
    protected final RunOutput output(Settings s, Runs.Results<?> runs, String data, Object... parameters) {
        return new RunOutput(name, title, s.quick(), s.seeds()).describe("data", runs.describe(data)).describe(parameters);
    }

    @Override
    public abstract R train(P p, Settings s) throws IOException;

    @Override
    public abstract RunOutput publish(P p, Settings s, R runs);

    @Override
    public RunOutput run(P p, Settings s) throws IOException, InterruptedException {
        return (RunOutput) Experiment.super.run(p, s);
    }
}
