package normlab.lab.evidence;

import java.util.Arrays;
import java.util.List;

/**
 * Interleaved repeated timings: after one warm-up round, every round runs task 0, 1, …, k−1 once and records each
 * time, so all tasks see the same background load round by round (the machine is shared). The fastest round is the
 * least disturbed estimate of a cost; the per-round ratios between two tasks, paired by round, give the spread a
 * timing verdict needs ({@link #saving}, an {@link Effect} over rounds).
 * <pre>
 *   seconds[i][r] = wall time of task i in round r;   saving_r(a → b) = 1 − seconds[b][r] / seconds[a][r]
 * </pre>
 */
public record Timing(double[][] seconds) {
    /** Times {@code tasks} in {@code rounds} interleaved rounds after one warm-up round. */
    public static Timing interleaved(List<Runnable> tasks, int rounds) {
        if (rounds < 1) throw new IllegalArgumentException("timing: rounds must be ≥ 1, got " + rounds);
        double[][] t = new double[tasks.size()][rounds];
        for (Runnable x : tasks) x.run();
        for (int r = 0; r < rounds; r++) {
            for (int i = 0; i < tasks.size(); i++) {
                long t0 = System.nanoTime();
                tasks.get(i).run();
                t[i][r] = (System.nanoTime() - t0) / 1e9;
            }
        }
        return new Timing(t);
    }

    /** The fastest round of task {@code i}, seconds. */
    public double min(int i) {
        return Arrays.stream(seconds[i]).min().orElse(Double.NaN);
    }

    /** Every task's fastest round. */
    public double[] mins() {
        double[] m = new double[seconds.length];
        for (int i = 0; i < m.length; i++) m[i] = min(i);
        return m;
    }

    /** The per-round fractional saving of task b over task a, 1 − t_b/t_a, as a paired effect over the rounds. */
    public Effect saving(int a, int b) {
        return Effect.paired(savings(seconds[a], seconds[b]));
    }

    /** Per-round 1 − b_r/a_r. */
    public static double[] savings(double[] a, double[] b) {
        if (a.length != b.length) throw new IllegalArgumentException("timing: " + a.length + " vs " + b.length + " rounds");
        double[] s = new double[a.length];
        for (int r = 0; r < a.length; r++) s[r] = 1 - b[r] / a[r];
        return s;
    }
}
