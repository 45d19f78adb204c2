package normlab.lab.evidence;

import java.util.Locale;

/**
 * The one rule every verdict that compares means over seeds (or over repeated timings) uses: an effect counts only
 * when it stands out of the run-to-run spread.
 * <pre>
 *   between two groups (Welch):   d = mean_a − mean_b,   se = √(s_a²/n_a + s_b²/n_b)
 *   paired (per-seed differences): d = mean(dᵢ),         se = s_d/√n
 *   shows(min)  ⇔  n ≥ 3 in every group  ∧  d > 2·se  ∧  d ≥ min
 * </pre>
 * "Exceeds 2 standard errors" is a one-sided two-sigma rule (roughly p &lt; 0.05 for normal errors with enough runs);
 * the minimum effect keeps a tiny but very repeatable difference from counting as a claim's effect. With fewer than
 * three runs no effect is ever shown, whatever its size: one or two seeds are an anecdote.
 */
public record Effect(double diff, double se, int n) {
    /** Fewest runs per group for an effect to count. */
    public static final int MIN_RUNS = 3;
    /** The rule as every claim states it. */
    public static final String RULE = "an effect counts only if the difference of means over ≥ 3 seeds exceeds 2 standard errors";

    /** mean(a) − mean(b) with Welch's standard error; n is the smaller group's count (non-finite values left out). */
    public static Effect between(Spread a, Spread b) {
        double se = Math.sqrt(var(a) / a.n() + var(b) / b.n());
        return new Effect(a.mean() - b.mean(), se, Math.min(a.n(), b.n()));
    }

    /** Whether mean(a) − mean(b) counts as an effect of at least {@code min}: {@code between(a, b).shows(min)}. */
    public static boolean exceeds(Spread a, Spread b, double min) {
        return between(a, b).shows(min);
    }

    /** mean(a) − mean(b) for the values of a and b (e.g. one per seed). */
    public static Effect between(double[] a, double[] b) {
        return between(Spread.of(a), Spread.of(b));
    }

    /** The mean of paired differences (one per seed, e.g. the same seed under two settings) and its standard error. */
    public static Effect paired(double[] diffs) {
        Spread s = Spread.of(diffs);
        return new Effect(s.mean(), s.n() > 0 ? Math.sqrt(var(s) / s.n()) : Double.NaN, s.n());
    }

    /** Per-seed differences a[i] − b[i] (pairs with a non-finite side are left out), as {@link #paired}. */
    public static Effect paired(double[] a, double[] b) {
        if (a.length != b.length) throw new IllegalArgumentException("Effect.paired: " + a.length + " vs " + b.length + " values");
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i] - b[i];
        return paired(d);
    }

    /** mean(s) − {@code reference} with the standard error of the mean, s.d./√n (a one-sample effect). */
    public static Effect above(Spread s, double reference) {
        return new Effect(s.mean() - reference, s.n() > 0 ? Math.sqrt(var(s) / s.n()) : Double.NaN, s.n());
    }

    /** This difference minus {@code other} (independent): d₁ − d₂ with se = √(se₁² + se₂²), e.g. a gap between two gaps. */
    public Effect minus(Effect other) {
        return new Effect(diff - other.diff, Math.sqrt(se * se + other.se * other.se), Math.min(n, other.n));
    }

    private static double var(Spread s) {
        return s.n() > 1 ? s.sd() * s.sd() : Double.NaN;
    }

    /** Whether the difference is positive and shows: n ≥ 3, d &gt; 2·se and d ≥ {@code min}. */
    public boolean shows(double min) {
        return n >= MIN_RUNS && Double.isFinite(diff) && Double.isFinite(se) && diff > 2 * se && diff >= min;
    }

    /**
     * The mirror rule, for claims of "no difference" (e.g. "both work"): n ≥ 3 and |d| ≤ 2·se. It says the difference
     * does not stand out of the seed spread, not that there is none: with noisy seeds it is easy to meet, so claims
     * that use it pair it with a floor on both sides.
     */
    public boolean withinSpread() {
        return n >= MIN_RUNS && Double.isFinite(diff) && Double.isFinite(se) && Math.abs(diff) <= 2 * se;
    }

    /** The difference with its sign reversed (b − a), same error. */
    public Effect negate() {
        return new Effect(-diff, se, n);
    }

    /** "+3.1 ± 0.8 points (n = 3)": a difference of fractions in percentage points with its standard error. */
    public String points() {
        return String.format(Locale.ROOT, "%+.1f ± %.1f points (s.e., n = %d)", 100 * diff, 100 * se, n);
    }

    /** "+0.123 ± 0.045 (s.e., n = 3)" for any unit. */
    public String text() {
        return String.format(Locale.ROOT, "%+.3g ± %.2g (s.e., n = %d)", diff, se, n);
    }

    /** The rule with the claim's minimum effect, e.g. {@code rule("3 points")}. */
    public static String rule(String minEffect) {
        return RULE + " and is at least " + minEffect;
    }
}
