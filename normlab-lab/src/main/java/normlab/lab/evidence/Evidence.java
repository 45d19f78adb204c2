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
    private final Function<Boolean, P> params;

    /**
     * @param title  the title of its report section
     * @param params its parameters for a quick (true) or a full run
     */
    protected Evidence(String name, String title, String description, String help, Function<Boolean, P> params) {
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

    /** The parameters of a quick or a full run. */
    public final P params(boolean quick) {
        return params.apply(quick);
    }

    @Override
    public final P params(Settings s) {
        return params(s.quick());
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
