package normlab.kernels;

/**
 * The reference loops of {@link GroupKernels}, for every {@link GroupView}: contiguous rows and the strided NHWC
 * GroupNorm view alike (which {@link SimdGroupKernels} hands back to these loops, as it does the fixed-statistics
 * backward). Sums in double.
 */
public final class ScalarGroupKernels implements GroupKernels {
    static final ScalarGroupKernels INSTANCE = new ScalarGroupKernels();

    private ScalarGroupKernels() {}

    @Override
    public void moments(double[] mean, double[] var, float[] x, GroupView v) {
        int a = v.a(), p = v.p(), g = v.g(), q = v.q();
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

    @Override
    public void normalize(float[] y, float[] x, double[] mean, double[] rstd, float[] gamma, float[] beta,
                          GroupView v) {
        int a = v.a(), p = v.p(), g = v.g(), q = v.q(), inner = v.inner();
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

    @Override
    public void backward(float[] dx, float[] dgamma, float[] dbeta, float[] dy, float[] x, double[] mean,
                         double[] rstd, float[] gamma, GroupView v) {
        int a = v.a(), p = v.p(), g = v.g(), q = v.q(), inner = v.inner();
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

    /**
     * The loop nest over (a, g, p, run) is {@link #normalize}'s, with another body; a shared iterator would put a call
     * per run (per element for NHWC GroupNorm, which runs here under SIMD too) inside the loop.
     */
    @Override
    public void backwardFixed(float[] dx, float[] dgamma, float[] dbeta, float[] dy, float[] x, double[] mean,
                              double[] rstd, float[] gamma, GroupView v) {
        int a = v.a(), p = v.p(), g = v.g(), q = v.q(), inner = v.inner();
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

    @Override
    public void rms(double[] rrms, float[] x, double eps, int rows, int d) {
        for (int r = 0; r < rows; r++) {
            int o = r * d;
            double sq = 0;
            // mean(x²) = (1/D) Σ x²
            for (int j = 0; j < d; j++) sq += (double) x[o + j] * x[o + j];
            rrms[r] = 1.0 / Math.sqrt(sq / d + eps);
        }
    }

    @Override
    public void rmsNormalize(float[] y, float[] x, double[] rrms, float[] w, int rows, int d) {
        for (int r = 0; r < rows; r++) {
            int o = r * d;
            double rr = rrms[r];
            for (int j = 0; j < d; j++) {
                float xh = (float) (x[o + j] * rr);
                y[o + j] = w == null ? xh : xh * w[j];
            }
        }
    }

    @Override
    public void rmsBackward(float[] dx, float[] dw, float[] dy, float[] x, double[] rrms, float[] w, int rows, int d) {
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
