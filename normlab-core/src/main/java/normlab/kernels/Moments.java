package normlab.kernels;

/**
 * The one statistics kernel behind LayerNorm, GroupNorm and InstanceNorm (and, without centring, RMSNorm): mean and
 * variance of groups of values, the normalization with a per-channel affine, and the matching backward.
 *
 * <p>Data is viewed as (A, P, G, Q) row-major; each (a, g) is one group of M = P·Q values (p ∈ P, q ∈ Q), at offset
 * ((a·P + p)·G + g)·Q + q. Every layer is a reshape of this view:
 * <pre>
 *   LayerNorm over the last D values      A = rows, P = 1,   G = 1,  Q = D
 *   GroupNorm, NCHW (N, C, S)             A = N,    P = 1,   G = G,  Q = (C/G)·S      (contiguous rows)
 *   GroupNorm, NHWC (N, S, C)             A = N,    P = S,   G = G,  Q = C/G          (strided, no copy)
 *   InstanceNorm (N, C, S)                A = N,    P = 1,   G = C,  Q = S
 * </pre>
 * The affine index of element (g, q) is {@code g·(Q/inner) + q/inner}: {@code inner} consecutive values share one
 * coefficient (S for NCHW GroupNorm, 1 for NHWC GroupNorm, Q for InstanceNorm, 1 for LayerNorm's elementwise affine).
 *
 * <p>Numerics: sums run in double around a shift K (the group's first value), μ = K + Σ(x−K)/M and
 * σ² = Σ(x−K)²/M − (Σ(x−K)/M)², so a group with mean 1e4 and spread 1e-2 keeps its digits. Kernels take outputs, then
 * inputs, then parameters, then sizes.
 *
 * <p>The loops here are the scalar reference. With {@link Kernels#simd()} on, contiguous groups (P == 1: LayerNorm,
 * GroupNorm NCHW, InstanceNorm) and RMSNorm run {@link NormKernels}' vector-lane, multi-threaded versions of the same
 * formulas; the strided NHWC GroupNorm view stays on these loops.
 */
public final class Moments {
    private Moments() {}

    /** Mean and biased variance of each (a, g) group; results indexed a·G + g. */
    public static void moments(double[] mean, double[] var, float[] x, int a, int p, int g, int q) {
        if (Kernels.simd() && p == 1) { // contiguous groups: SIMD rows on the pool (NormKernels)
            NormKernels.rowMoments(mean, var, x, a * g, q);
            return;
        }
        double m = (double) p * q;
        for (int ia = 0; ia < a; ia++) {
            for (int ig = 0; ig < g; ig++) {
                int base = (ia * p * g + ig) * q;
                double shift = x[base];
                double sum = 0, sq = 0;
                // σ² = Σ(x−K)²/M − (Σ(x−K)/M)², μ = K + Σ(x−K)/M
                for (int ip = 0; ip < p; ip++) {
                    int o = base + ip * g * q;
                    for (int iq = 0; iq < q; iq++) {
                        double d = x[o + iq] - shift;
                        sum += d;
                        sq += d * d;
                    }
                }
                double dm = sum / m;
                mean[ia * g + ig] = shift + dm;
                var[ia * g + ig] = Math.max(0, sq / m - dm * dm);
            }
        }
    }

    /** rstd = 1/√(σ² + ε), elementwise. */
    public static void rstd(double[] rstd, double[] var, double eps, int count) {
        for (int i = 0; i < count; i++) rstd[i] = 1.0 / Math.sqrt(var[i] + eps);
    }

    /**
     * y = x̂·γ + β with x̂ = (x − μ)·rstd per group; γ and β per affine index (either may be null: 1 and 0).
     * x̂ is formed in double so a large μ cancels exactly before rounding.
     */
    public static void normalize(float[] y, float[] x, double[] mean, double[] rstd, float[] gamma, float[] beta,
                                 int a, int p, int g, int q, int inner) {
        if (Kernels.simd() && p == 1) {
            NormKernels.groupNormalize(y, x, mean, rstd, gamma, beta, a * g, g, q, inner);
            return;
        }
        int perGroup = q / inner;
        for (int ia = 0; ia < a; ia++) {
            for (int ig = 0; ig < g; ig++) {
                int base = (ia * p * g + ig) * q;
                double mu = mean[ia * g + ig], rs = rstd[ia * g + ig];
                int aff = ig * perGroup;
                // y = (x − μ)·rstd·γ_c + β_c, one run of `inner` values per affine index c
                for (int ip = 0; ip < p; ip++) {
                    for (int cb = 0; cb < perGroup; cb++) {
                        int c = aff + cb, o = base + ip * g * q + cb * inner;
                        float gm = gamma == null ? 1f : gamma[c];
                        float bt = beta == null ? 0f : beta[c];
                        for (int t = 0; t < inner; t++) y[o + t] = (float) ((x[o + t] - mu) * rs) * gm + bt;
                    }
                }
            }
        }
    }

    /**
     * Backward of {@link #normalize} with batch statistics. Per group, with x̂ = (x − μ)·rstd and ĝ = dy·γ:
     * <pre>
     *   dx  = rstd · (ĝ − (1/M)Σĝ − x̂·(1/M)Σ ĝ·x̂)
     *   dγ += Σ dy·x̂,   dβ += Σ dy     (per affine index; skipped when dgamma / dbeta is null)
     * </pre>
     */
    public static void backward(float[] dx, float[] dgamma, float[] dbeta, float[] dy, float[] x, double[] mean,
                                double[] rstd, float[] gamma, int a, int p, int g, int q, int inner) {
        if (Kernels.simd() && p == 1) {
            NormKernels.groupBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, a * g, g, q, inner);
            return;
        }
        int perGroup = q / inner;
        double m = (double) p * q;
        double[] dg = dgamma == null ? null : new double[g * perGroup];
        double[] db = dbeta == null ? null : new double[g * perGroup];
        for (int ia = 0; ia < a; ia++) {
            for (int ig = 0; ig < g; ig++) {
                int base = (ia * p * g + ig) * q;
                double mu = mean[ia * g + ig], rs = rstd[ia * g + ig];
                int aff = ig * perGroup;
                double sg = 0, sgx = 0;
                // Σĝ and Σĝ·x̂; parameter gradients Σdy·x̂ and Σdy on the same pass.
                for (int ip = 0; ip < p; ip++) {
                    for (int cb = 0; cb < perGroup; cb++) {
                        int c = aff + cb, o = base + ip * g * q + cb * inner;
                        double sd = 0, sdx = 0;
                        for (int t = 0; t < inner; t++) {
                            double d = dy[o + t];
                            sd += d;
                            sdx += d * (x[o + t] - mu);
                        }
                        // Σĝ = γ_c·Σdy, Σĝ·x̂ = γ_c·rstd·Σdy(x−μ) over the channel's run; dγ_c += rstd·Σdy(x−μ), dβ_c += Σdy
                        double gm = gamma == null ? 1.0 : gamma[c];
                        sg += gm * sd;
                        sgx += gm * rs * sdx;
                        if (dg != null) dg[c] += rs * sdx;
                        if (db != null) db[c] += sd;
                    }
                }
                double mg = sg / m, mgx = sgx / m;
                // dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))
                for (int ip = 0; ip < p; ip++) {
                    for (int cb = 0; cb < perGroup; cb++) {
                        int c = aff + cb, o = base + ip * g * q + cb * inner;
                        double gm = gamma == null ? 1.0 : gamma[c];
                        for (int t = 0; t < inner; t++) {
                            double xh = (x[o + t] - mu) * rs;
                            dx[o + t] = (float) (rs * (gm * dy[o + t] - mg - xh * mgx));
                        }
                    }
                }
            }
        }
        addInto(dgamma, dg);
        addInto(dbeta, db);
    }

    private static void addInto(float[] dst, double[] acc) {
        if (dst == null) return;
        for (int i = 0; i < acc.length; i++) dst[i] += (float) acc[i];
    }

    /** Backward of {@link #normalize} with fixed statistics (a per-group affine): dx = rstd·γ·dy, dγ += Σdy·x̂, dβ += Σdy. */
    public static void backwardFixed(float[] dx, float[] dgamma, float[] dbeta, float[] dy, float[] x, double[] mean,
                                     double[] rstd, float[] gamma, int a, int p, int g, int q, int inner) {
        int perGroup = q / inner;
        double[] dg = dgamma == null ? null : new double[g * perGroup];
        double[] db = dbeta == null ? null : new double[g * perGroup];
        for (int ia = 0; ia < a; ia++) {
            for (int ig = 0; ig < g; ig++) {
                int base = (ia * p * g + ig) * q;
                double mu = mean[ia * g + ig], rs = rstd[ia * g + ig];
                int aff = ig * perGroup;
                // dx = rstd·γ_c·dy, dγ_c += Σ dy·x̂, dβ_c += Σ dy
                for (int ip = 0; ip < p; ip++) {
                    for (int cb = 0; cb < perGroup; cb++) {
                        int c = aff + cb, o = base + ip * g * q + cb * inner;
                        double gm = gamma == null ? 1.0 : gamma[c];
                        for (int t = 0; t < inner; t++) {
                            double d = dy[o + t];
                            dx[o + t] = (float) (rs * gm * d);
                            if (dg != null) dg[c] += d * (x[o + t] - mu) * rs;
                            if (db != null) db[c] += d;
                        }
                    }
                }
            }
        }
        addInto(dgamma, dg);
        addInto(dbeta, db);
    }

    // --- RMSNorm: the same rows without centring. ---------------------------------------------------------------

    /** Per row of D values: rrms = 1/√(mean(x²) + ε), mean(x²) accumulated in double. */
    public static void rms(double[] rrms, float[] x, double eps, int rows, int d) {
        if (Kernels.simd()) {
            NormKernels.rms(rrms, x, eps, rows, d);
            return;
        }
        for (int r = 0; r < rows; r++) {
            int o = r * d;
            double sq = 0;
            // mean(x²) = (1/D) Σ x²
            for (int j = 0; j < d; j++) sq += (double) x[o + j] * x[o + j];
            rrms[r] = 1.0 / Math.sqrt(sq / d + eps);
        }
    }

    /** y = x·rrms·w (w per position in the row; null means 1). */
    public static void rmsNormalize(float[] y, float[] x, double[] rrms, float[] w, int rows, int d) {
        if (Kernels.simd()) {
            NormKernels.rmsNormalize(y, x, rrms, w, rows, d);
            return;
        }
        for (int r = 0; r < rows; r++) {
            int o = r * d;
            double rr = rrms[r];
            for (int j = 0; j < d; j++) {
                float xh = (float) (x[o + j] * rr);
                y[o + j] = w == null ? xh : xh * w[j];
            }
        }
    }

    /**
     * RMSNorm backward, per row with x̂ = x·rrms and ĝ = dy·w:
     * <pre>
     *   dx  = rrms · (ĝ − x̂·(1/D)Σ ĝ·x̂),   dw += Σ_rows dy·x̂
     * </pre>
     */
    public static void rmsBackward(float[] dx, float[] dw, float[] dy, float[] x, double[] rrms, float[] w, int rows, int d) {
        if (Kernels.simd()) {
            NormKernels.rmsBackward(dx, dw, dy, x, rrms, w, rows, d);
            return;
        }
        double[] acc = dw == null ? null : new double[d];
        for (int r = 0; r < rows; r++) {
            int o = r * d;
            double rr = rrms[r];
            double sgx = 0;
            for (int j = 0; j < d; j++) {
                double xh = x[o + j] * rr;
                double dd = dy[o + j];
                sgx += (w == null ? dd : dd * w[j]) * xh;
                if (acc != null) acc[j] += dd * xh;
            }
            double mgx = sgx / d;
            for (int j = 0; j < d; j++) {
                double xh = x[o + j] * rr;
                double gh = w == null ? dy[o + j] : (double) dy[o + j] * w[j];
                dx[o + j] = (float) (rr * (gh - xh * mgx));
            }
        }
        addInto(dw, acc);
    }
}
