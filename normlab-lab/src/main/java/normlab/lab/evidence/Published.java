package normlab.lab.evidence;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** What an experiment's run publishes: its claims with their verdicts, a console summary, and its run directory's files. */
public interface Published {
    /** The claims from the literature with our measurement and verdict. */
    List<Claim> claims();

    /** Writes every file of the run into {@code dir} (created if needed). */
    void write(Path dir) throws IOException;

    /** Records the run's wall time (for outputs that keep it). */
    default void wallSeconds(double seconds) {}

    /** What the console shows after the run: each verdict with its claim and measurement. */
    default String console() {
        StringBuilder sb = new StringBuilder();
        for (Claim c : claims()) {
            sb.append(String.format(java.util.Locale.ROOT, "  [%s] %s%n    %s%n", c.verdict().text, c.claim(), c.measurement()));
        }
        return sb.toString();
    }
}
