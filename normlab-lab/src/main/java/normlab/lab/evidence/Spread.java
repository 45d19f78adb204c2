package normlab.lab.evidence;

import java.util.Arrays;
import java.util.List;

/**
 * Summary of one quantity over repeated runs (seeds): n, mean, sample standard deviation, min and max. Non-finite
 * values (a diverged run's loss) are kept out of the mean and counted in {@code nonFinite}.
 * <pre>
 *   mean = (1/n) Σ xᵢ,   sd = √( Σ (xᵢ − mean)² / (n − 1) )   (0 when n = 1)
 * </pre>
 */
public record Spread(int n, double mean, double sd, double min, double max, int nonFinite) {
    public static Spread of(double... xs) {
        double[] f = Arrays.stream(xs).filter(Double::isFinite).toArray();
        int bad = xs.length - f.length;
        if (f.length == 0) return new Spread(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN, bad);
        double mean = Arrays.stream(f).sum() / f.length;
        double ss = 0;
        for (double x : f) ss += (x - mean) * (x - mean);
        double sd = f.length > 1 ? Math.sqrt(ss / (f.length - 1)) : 0;
        return new Spread(f.length, mean, sd, Arrays.stream(f).min().getAsDouble(), Arrays.stream(f).max().getAsDouble(), bad);
    }

    public static Spread of(List<Double> xs) {
        return of(xs.stream().mapToDouble(Double::doubleValue).toArray());
    }
}
