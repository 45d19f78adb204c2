package normlab.lab.evidence;

import java.io.PrintStream;
import java.util.List;

/** What every experiment run is told: quick or full, its seeds, how many threads to use, where to log progress. */
public record Settings(boolean quick, List<Long> seeds, int threads, PrintStream log) {
    public Settings {
        if (seeds.isEmpty()) throw new IllegalArgumentException("at least one seed is needed");
        if (threads <= 0) throw new IllegalArgumentException("--threads must be positive, got " + threads);
        seeds = List.copyOf(seeds);
    }

    public void say(String fmt, Object... args) {
        log.printf(java.util.Locale.ROOT, fmt + "%n", args);
        log.flush();
    }
}
