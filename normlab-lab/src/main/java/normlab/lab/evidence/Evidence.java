package normlab.lab.evidence;

import java.io.IOException;
import java.util.List;

/**
 * An evidence experiment: an {@link Experiment} whose parameters depend only on quick or full and whose run is a
 * {@link RunOutput} (CSV tables, charts and summary.json).
 */
public abstract class Evidence<P, R> implements Experiment<P, R> {
    private final String name, description;
    private final List<String> help;

    protected Evidence(String name, String description, String help) {
        this.name = name;
        this.description = description;
        this.help = List.of(help);
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
    public abstract P params(boolean quick);

    @Override
    public final P params(Settings s) {
        return params(s.quick());
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
