package normlab.lab.evidence;

import java.io.IOException;
import java.util.List;
import java.util.Locale;

/**
 * The contract every experiment of the lab keeps, Figure 1 included: its name (the command and the run directory's
 * prefix), a one-line description, the help of its command, its parameters for a quick or a full run, and a run in
 * two steps, {@link #train} (every model trained and measured; independent runs side by side) and {@link #publish}
 * (tables, charts, headline results and the claims with their verdicts), whose {@link Published} result writes the
 * run directory. The command line, {@code reproduce} and the report are built from the list of experiments
 * ({@link Experiments#ALL}).
 *
 * @param <P> its parameters
 * @param <R> what training and measuring leave for publishing
 */
public interface Experiment<P, R> {
    /** The command and run-directory name, e.g. {@code lr-sweep}. */
    String name();

    /** One line on what it measures, printed as it starts. */
    String description();

    /** The help of its command (paragraphs). */
    List<String> help();

    /**
     * An option of the experiment's own command (beyond --quick, --seeds, …): its name ({@code --chunk}), value label,
     * default and help. Its value reaches {@link #params} through {@link Settings#option}; run.json records it and
     * --resume keeps it.
     */
    record Option(String name, String label, String defaultValue, String description) {}

    /** The experiment's own options (none unless it says otherwise). */
    default List<Option> options() {
        return List.of();
    }

    /**
     * The parameters of a quick run (small data slices, few steps) or a full one, as {@code s} says, with its own options'
     * values; a bad option value is an IllegalArgumentException with a one-line message naming the option.
     */
    P params(Settings s);

    /** Trains and measures every model of the experiment with parameters {@code p}. */
    R train(P p, Settings s) throws IOException, InterruptedException;

    /** What the experiment publishes from its runs: files, headline results, claims with verdicts. */
    Published publish(P p, Settings s, R runs);

    /** {@link #train} then {@link #publish}; the result records the wall time of both. */
    default Published run(P p, Settings s) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        Published out = publish(p, s, train(p, s));
        out.wallSeconds((System.nanoTime() - t0) / 1e9);
        return out;
    }

    /** A run at the parameters {@link #params} gives for {@code s}. */
    default Published run(Settings s) throws IOException, InterruptedException {
        return run(params(s), s);
    }

    /** The experiment's id in summary.json and in the report (its name unless it says otherwise). */
    default String id() {
        return name();
    }

    /** The line printed before a run with {@code s}. */
    default String announce(Settings s) {
        return String.format(Locale.ROOT, "%s%s: %s; seeds %s, %d thread%s", name(), s.quick() ? " (quick)" : "", description(), s.seeds(),
                s.threads(), s.threads() == 1 ? "" : "s");
    }
}
