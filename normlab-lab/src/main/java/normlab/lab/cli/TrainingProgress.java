package normlab.lab.cli;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import normlab.lab.experiments.MnistExperiment;

/**
 * Progress of the two MNIST networks. On a terminal: one progress bar over both networks' steps (with its steps/s),
 * its message showing each network's step and latest test accuracy. Without a terminal (a log file, CI): one plain
 * line per network at every tenth of the run. Called from the training threads, hence synchronized.
 */
final class TrainingProgress implements MnistExperiment.Progress, AutoCloseable {
    private final int steps;
    private final PrintStream log;
    private final ProgressBar bar; // null without a terminal
    private final Map<String, MnistExperiment.Point> latest = new LinkedHashMap<>();
    private final Map<String, Integer> stepOf = new LinkedHashMap<>();
    private final Map<String, Integer> decile = new LinkedHashMap<>();
    private final long start = System.nanoTime();
    private int pending;

    TrainingProgress(int steps, PrintStream log) {
        this.steps = steps;
        this.log = log;
        for (String v : new String[] {"baseline", "bn"}) stepOf.put(v, 0);
        this.bar = System.console() == null ? null : new ProgressBarBuilder().setTaskName("mnist")
                .setInitialMax(2L * steps).setStyle(ProgressBarStyle.COLORFUL_UNICODE_BLOCK).setUnit(" steps", 1)
                .showSpeed().setUpdateIntervalMillis(250).setMaxRenderedLength(140).build();
    }

    @Override
    public synchronized void onStep(String variant, int step) {
        stepOf.put(variant, step);
        if (bar != null && ++pending >= 20) {
            bar.stepBy(pending);
            pending = 0;
        }
    }

    @Override
    public synchronized void onEval(String variant, MnistExperiment.Point p) {
        latest.put(variant, p);
        if (bar != null) {
            StringBuilder sb = new StringBuilder();
            for (Map.Entry<String, Integer> e : stepOf.entrySet()) {
                MnistExperiment.Point q = latest.get(e.getKey());
                if (sb.length() > 0) sb.append(" · ");
                sb.append(String.format(Locale.ROOT, "%s %,d acc %s", e.getKey(), e.getValue(),
                        q == null ? "-" : String.format(Locale.ROOT, "%.4f", q.accuracy())));
            }
            bar.setExtraMessage(" " + sb);
        } else if (p.step() * 10L / steps > decile.getOrDefault(variant, 0)) {
            decile.put(variant, (int) (p.step() * 10L / steps));
            double secs = (System.nanoTime() - start) / 1e9;
            log.printf(Locale.ROOT, "  %-8s step %,7d/%,d  test accuracy %.4f  (%.0f s, %.0f steps/s)%n", variant, p.step(), steps,
                    p.accuracy(), secs, p.step() / p.seconds());
        }
    }

    @Override
    public synchronized void close() {
        if (bar != null) {
            bar.stepBy(pending);
            pending = 0;
            bar.close();
        }
    }
}
