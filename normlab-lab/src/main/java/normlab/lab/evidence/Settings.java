package normlab.lab.evidence;

import java.io.PrintStream;
import java.util.List;
import java.util.Map;

/**
 * What every experiment run is told: quick or full, its seeds, how many threads to use, where to log progress, and the
 * values given to the experiment's own options ({@link Experiment#options}, by option name, e.g. {@code --chunk}; an
 * option not given is absent and takes its default).
 */
public record Settings(boolean quick, List<Long> seeds, int threads, PrintStream log, Map<String, String> options) {
    public Settings {
        if (seeds.isEmpty()) throw new IllegalArgumentException("at least one seed is needed");
        if (threads <= 0) throw new IllegalArgumentException("--threads must be positive, got " + threads);
        seeds = List.copyOf(seeds);
        options = Map.copyOf(options);
    }

    /** Settings without experiment options (every option at its default). */
    public Settings(boolean quick, List<Long> seeds, int threads, PrintStream log) {
        this(quick, seeds, threads, log, Map.of());
    }

    /** The value given to the experiment option {@code name}, or {@code def} when it was not given. */
    public String option(String name, String def) {
        return options.getOrDefault(name, def);
    }

    public void say(String fmt, Object... args) {
        log.printf(java.util.Locale.ROOT, fmt + "%n", args);
        log.flush();
    }
}
