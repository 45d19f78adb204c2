package normlab.kernels;

/**
 * Per-channel statistics over (N, C, S) and the normalization built on them: the kernels of the batch-statistics
 * family (BatchNorm, BatchRenorm, GhostBatchNorm). Two implementations compute the same formulas:
 * {@link ScalarChannelKernels}, the reference loops, and {@link SimdChannelKernels}, Vector API lanes on
 * {@link Parallel}'s pool; {@link Kernels#channel()} is the one in use.
 *
 * <p>Flat arrays, (N, C, S) row-major: N samples, C channels, S spatial positions; each statistic is over the m = N·S
 * values of a channel. When S == 1 the channels are contiguous in each row ("channels last", also how NHWC input is
 * read, as (N·H·W, C, 1)); otherwise each (n, c) is a contiguous block of S values. Outputs first, then inputs, then
 * sizes (llm.c's order). The mean travels as a float pair μ_hi + μ_lo that is subtracted before scaling, so a large
 * offset cancels exactly.
 */
public interface ChannelKernels {
    /**
     * Per-channel mean and biased variance, shifted by K = the channel's first value:
     * μ = K + Σ(x−K)/m, σ² = Σ(x−K)²/m − (Σ(x−K)/m)², summed in double (exact in the limit, nothing lost to a large mean).
     */
    void channelStats(double[] mean, double[] var, float[] x, int n, int c, int s);

    /** y = ((x − μ_hi) − μ_lo)·k + b per channel. */
    void normalize(float[] y, float[] x, float[] muHi, float[] muLo, float[] k, float[] b, int n, int c, int s);

    /** What a layer makes of one channel's batch statistics (μ, biased σ²): its μ_hi, μ_lo, k and b. */
    @FunctionalInterface
    interface Affine {
        void of(int ch, double mean, double var);
    }

    /**
     * The training forward in one call, with the results of {@link #channelStats} (into {@code mean}, {@code var}),
     * then {@code f} for every channel (which fills μ_hi, μ_lo, k, b), then {@link #normalize}. f may be called from
     * several pool threads at once, for different channels. A kernel may go channel by channel, so that a channel's x
     * is still in cache when it is normalized: x is then read from memory once, not twice.
     */
    default void statsNormalize(float[] y, double[] mean, double[] var, float[] x, Affine f, float[] muHi, float[] muLo,
                                float[] k, float[] b, int n, int c, int s) {
        channelStats(mean, var, x, n, c, s);
        for (int ch = 0; ch < c; ch++) f.of(ch, mean[ch], var[ch]);
        normalize(y, x, muHi, muLo, k, b, n, c, s);
    }

    /** Σdy and Σdy·((x − μ_hi) − μ_lo) per channel, in double; {@code sumDy} and {@code sumDyXmu} come in zeroed. */
    void backwardSums(double[] sumDy, double[] sumDyXmu, float[] dy, float[] x, float[] muHi, float[] muLo,
                      int n, int c, int s);

    /** dx = a·dy − q·((x − μ_hi) − μ_lo) − p per channel. */
    void backwardDx(float[] dx, float[] dy, float[] x, float[] muHi, float[] muLo, float[] a, float[] q, float[] p,
                    int n, int c, int s);

    /** What a layer makes of one channel's backward sums: its a[ch], q[ch], p[ch] (and its dγ, dβ). */
    @FunctionalInterface
    interface Coefficients {
        void of(int ch, double sumDy, double sumDyXmu);
    }

    /**
     * The whole backward in one call, with the results of {@link #backwardSums} (into {@code sumDy}, {@code sumDyXmu}),
     * then {@code f} for every channel (which fills a, q, p), then {@link #backwardDx}. f may be called from several
     * pool threads at once, for different channels. A kernel may go channel by channel (sums, f, dx), so that a
     * channel's dy and x are still in cache when its dx is written: dy and x are then read from memory once, not twice.
     */
    default void backward(float[] dx, double[] sumDy, double[] sumDyXmu, float[] dy, float[] x, float[] muHi,
                          float[] muLo, Coefficients f, float[] a, float[] q, float[] p, int n, int c, int s) {
        backwardSums(sumDy, sumDyXmu, dy, x, muHi, muLo, n, c, s);
        for (int ch = 0; ch < c; ch++) f.of(ch, sumDy[ch], sumDyXmu[ch]);
        backwardDx(dx, dy, x, muHi, muLo, a, q, p, n, c, s);
    }
}
