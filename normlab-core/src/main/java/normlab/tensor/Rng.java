package normlab.tensor;

/**
 * A seeded random source (SplitMix64) whose stream is fixed by this code, not by the JDK, so the same seed gives the
 * same weights, shuffles and dropout masks bit for bit on every machine. Not thread-safe: one per consumer.
 */
public final class Rng {
    private long state;
    private double spareGaussian;
    private boolean hasSpare;

    public Rng(long seed) {
        this.state = seed;
    }

    /** Next 64 random bits (SplitMix64: Steele, Lea and Flood 2014). */
    public long nextLong() {
        long z = (state += 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Uniform in [0, 1) with 53 random bits. */
    public double nextDouble() {
        return (nextLong() >>> 11) * 0x1.0p-53;
    }

    /** Uniform in [0, 1) with 24 random bits. */
    public float nextFloat() {
        return (nextLong() >>> 40) * 0x1.0p-24f;
    }

    /** Uniform integer in [0, bound), without modulo bias (Lemire's method with rejection). */
    public int nextInt(int bound) {
        if (bound <= 0) throw new IllegalArgumentException("nextInt: bound must be positive, got " + bound);
        long threshold = (0x1_0000_0000L - bound) % bound; // 2^32 mod bound
        while (true) {
            long r = nextLong() >>> 32;
            long m = r * bound;
            if ((m & 0xFFFF_FFFFL) >= threshold) return (int) (m >>> 32);
        }
    }

    /** Standard normal deviate (Marsaglia's polar method; caches the second value). */
    public double nextGaussian() {
        if (hasSpare) {
            hasSpare = false;
            return spareGaussian;
        }
        double u, v, s;
        do {
            u = 2 * nextDouble() - 1;
            v = 2 * nextDouble() - 1;
            s = u * u + v * v;
        } while (s >= 1 || s == 0);
        double f = Math.sqrt(-2 * StrictMath.log(s) / s);
        spareGaussian = v * f;
        hasSpare = true;
        return u * f;
    }

    /** Fisher–Yates shuffle of {@code a} in place. */
    public void shuffle(int[] a) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    /** The generator's complete state (for checkpoints): the SplitMix64 counter, the cached Gaussian, whether it is cached. */
    public long[] state() {
        return new long[] {state, Double.doubleToRawLongBits(spareGaussian), hasSpare ? 1 : 0};
    }

    /** Restores a {@link #state()}, so the stream continues exactly where it was saved. */
    public void setState(long[] s) {
        if (s.length != 3) throw new IllegalArgumentException("Rng.setState: expected 3 values, got " + s.length);
        state = s[0];
        spareGaussian = Double.longBitsToDouble(s[1]);
        hasSpare = s[2] != 0;
    }

    /** An independent generator derived from this one (for a sub-consumer such as a dropout layer). */
    public Rng split() {
        return new Rng(nextLong());
    }
}
