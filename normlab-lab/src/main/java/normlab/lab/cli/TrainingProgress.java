package normlab.lab.cli;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import normlab.lab.experiments.MnistExperiment;

/**
 * Progress of the two MNIST networks. On a terminal: one status line, redrawn in place ({@code \r}, the line then
 * clear-to-end) and truncated to the terminal's width ({@code COLUMNS}, else {@code stty size}, else 80) so it never
 * wraps; it shows each network's own step out of its steps and its latest test accuracy, the rate, and the ETA once
 * the rate has settled (≥ 5 % done and ≥ 2 s). Without a terminal (a log file, CI): one plain line per network at
 * every tenth of the run. Called from the training threads, hence synchronized.
 */
final class TrainingProgress implements MnistExperiment.Progress, AutoCloseable {
    private static final long REDRAW_NANOS = 250_000_000L;

    private final int steps;
    private final PrintStream log;
    private final boolean terminal;
    private final int width;
    private final Map<String, MnistExperiment.Point> latest = new LinkedHashMap<>();
    private final Map<String, Integer> stepOf = new LinkedHashMap<>();
    private final Map<String, Integer> decile = new LinkedHashMap<>();
    private final long start = System.nanoTime();
    private long lastDraw;
    private boolean drawn;

    TrainingProgress(int steps, PrintStream log) {
        this(steps, log, System.console() != null, terminalWidth());
    }

    TrainingProgress(int steps, PrintStream log, boolean terminal, int width) {
        this.steps = steps;
        this.log = log;
        this.terminal = terminal;
        this.width = width;
        for (String v : new String[] {"baseline", "bn"}) stepOf.put(v, 0);
    }

    /** {@code COLUMNS}, else {@code stty size} on the terminal, else 80. */
    static int terminalWidth() {
        try {
            int c = Integer.parseInt(System.getenv().getOrDefault("COLUMNS", "").trim());
            if (c > 0) return c;
        } catch (NumberFormatException ignored) {
            // try stty
        }
        try {
            Process p = new ProcessBuilder("sh", "-c", "stty size < /dev/tty").redirectErrorStream(true).start();
            String s = new String(p.getInputStream().readAllBytes()).trim();
            if (p.waitFor() == 0) {
                String[] rc = s.split("\\s+");
                if (rc.length == 2 && Integer.parseInt(rc[1]) > 0) return Integer.parseInt(rc[1]);
            }
        } catch (Exception ignored) {
            // no terminal
        }
        return 80;
    }

    @Override
    public synchronized void onStep(String variant, int step) {
        stepOf.put(variant, step);
        if (terminal && System.nanoTime() - lastDraw >= REDRAW_NANOS) draw();
    }

    @Override
    public synchronized void onEval(String variant, MnistExperiment.Point p) {
        latest.put(variant, p);
        if (terminal) {
            draw();
        } else if (p.step() * 10L / steps > decile.getOrDefault(variant, 0)) {
            decile.put(variant, (int) (p.step() * 10L / steps));
            double secs = (System.nanoTime() - start) / 1e9;
            log.printf(Locale.ROOT, "  %-8s step %,7d/%,d  test accuracy %.4f  (%.0f s, %.0f steps/s)%n", variant, p.step(), steps,
                    p.accuracy(), secs, p.step() / p.seconds());
        }
    }

    private void draw() {
        lastDraw = System.nanoTime();
        Map<String, Double> acc = new LinkedHashMap<>();
        for (var e : latest.entrySet()) acc.put(e.getKey(), e.getValue().accuracy());
        log.print("\r" + line(stepOf, acc, steps, (lastDraw - start) / 1e9, width) + "\033[K");
        log.flush();
        drawn = true;
    }

    /**
     * The status line: each network's own step of {@code steps} and accuracy, the rate in steps/s per network, and
     * the ETA of the slowest network once it is ≥ 5 % done and ≥ 2 s have passed; at most {@code width − 1} characters.
     */
    static String line(Map<String, Integer> stepOf, Map<String, Double> accuracy, int steps, double seconds, int width) {
        StringBuilder sb = new StringBuilder("mnist");
        int slowest = Integer.MAX_VALUE;
        for (var e : stepOf.entrySet()) {
            Double a = accuracy.get(e.getKey());
            sb.append(String.format(Locale.ROOT, "  %s %,d/%,d acc %s", e.getKey(), e.getValue(), steps, a == null ? "-" : String.format(Locale.ROOT, "%.4f", a)));
            slowest = Math.min(slowest, e.getValue());
        }
        if (slowest == Integer.MAX_VALUE) slowest = 0;
        if (seconds > 0 && slowest > 0) sb.append(String.format(Locale.ROOT, "  %.0f steps/s", slowest / seconds));
        if (slowest >= 0.05 * steps && seconds >= 2 && slowest > 0) {
            long eta = Math.round((steps - slowest) * seconds / slowest);
            sb.append(String.format(Locale.ROOT, "  ETA %d:%02d", eta / 60, eta % 60));
        }
        int max = Math.max(10, width - 1);
        return sb.length() <= max ? sb.toString() : sb.substring(0, max);
    }

    @Override
    public synchronized void close() {
        if (terminal && drawn) {
            draw();
            log.println();
            drawn = false; // closing twice draws nothing more
        }
    }
}
