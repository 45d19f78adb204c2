package normlab.kernels;

/**
 * Per-sample (per-group) statistics over a {@link GroupView} and the normalization built on them: the kernels behind
 * LayerNorm, GroupNorm and InstanceNorm, and, without centring, RMSNorm's rows. Two implementations compute the same
 * formulas: {@link ScalarGroupKernels}, the reference loops, and {@link SimdGroupKernels}, Vector API lanes on
 * {@link Parallel}'s pool for contiguous groups; {@link Kernels#group()} is the one in use.
 *
 * <p>Numerics: sums run in double around a shift K (the group's first value), μ = K + Σ(x−K)/M and
 * σ² = Σ(x−K)²/M − (Σ(x−K)/M)², so a group with mean 1e4 and spread 1e-2 keeps its digits. Kernels take outputs, then
 * inputs, then parameters, then sizes. Statistics arrays are indexed a·G + g.
 */
public interface GroupKernels {
    /** Mean and biased variance of each (a, g) group. */
    void moments(double[] mean, double[] var, float[] x, GroupView v);

    /**
     * y = x̂·γ + β with x̂ = (x − μ)·rstd per group; γ and β per affine index (either may be null: 1 and 0).
     * x̂ is formed before the affine so a large μ cancels exactly before rounding.
     */
    void normalize(float[] y, float[] x, double[] mean, double[] rstd, float[] gamma, float[] beta, GroupView v);

    /**
     * {@link #moments}, {@link #rstd} and {@link #normalize} in one call, with the same results: μ, σ² and
     * rstd = 1/√(σ² + ε) of each group into {@code mean}, {@code var}, {@code rstd}, and y. A kernel may do it group by
     * group (statistics of a group, then its normalization while it is still in cache), so x is read from memory once
     * instead of twice.
     */
    default void momentsNormalize(float[] y, double[] mean, double[] var, double[] rstd, float[] x, double eps,
                                  float[] gamma, float[] beta, GroupView v) {
        moments(mean, var, x, v);
        rstd(rstd, var, eps, v.groups());
        normalize(y, x, mean, rstd, gamma, beta, v);
    }

    /**
     * Backward of {@link #normalize} with batch statistics. Per group, with x̂ = (x − μ)·rstd and ĝ = dy·γ:
     * <pre>
     *   dx  = rstd · (ĝ − (1/M)Σĝ − x̂·(1/M)Σ ĝ·x̂)
     *   dγ += Σ dy·x̂,   dβ += Σ dy     (per affine index; skipped when dgamma / dbeta is null)
     * </pre>
     */
    void backward(float[] dx, float[] dgamma, float[] dbeta, float[] dy, float[] x, double[] mean, double[] rstd,
                  float[] gamma, GroupView v);

    /** Backward of {@link #normalize} with fixed statistics (a per-group affine): dx = rstd·γ·dy, dγ += Σdy·x̂, dβ += Σdy. */
    void backwardFixed(float[] dx, float[] dgamma, float[] dbeta, float[] dy, float[] x, double[] mean, double[] rstd,
                       float[] gamma, GroupView v);

    /** RMSNorm, per row of D values: rrms = 1/√(mean(x²) + ε), mean(x²) accumulated in double. */
    void rms(double[] rrms, float[] x, double eps, int rows, int d);

    /** RMSNorm: y = x·rrms·w (w per position in the row; null means 1). */
    void rmsNormalize(float[] y, float[] x, double[] rrms, float[] w, int rows, int d);

    /** {@link #rms} and {@link #rmsNormalize} in one call, same results; a kernel may do it row by row (x read once). */
    default void rmsForward(float[] y, double[] rrms, float[] x, double eps, float[] w, int rows, int d) {
        rms(rrms, x, eps, rows, d);
        rmsNormalize(y, x, rrms, w, rows, d);
    }

    /**
     * RMSNorm backward, per row with x̂ = x·rrms and ĝ = dy·w:
     * <pre>
     *   dx  = rrms · (ĝ − x̂·(1/D)Σ ĝ·x̂),   dw += Σ_rows dy·x̂
     * </pre>
     */
    void rmsBackward(float[] dx, float[] dw, float[] dy, float[] x, double[] rrms, float[] w, int rows, int d);

    /** rstd = 1/√(σ² + ε), elementwise (the same on every path). */
    static void rstd(double[] rstd, double[] var, double eps, int count) {
        for (int i = 0; i < count; i++) rstd[i] = 1.0 / Math.sqrt(var[i] + eps);
    }
}
