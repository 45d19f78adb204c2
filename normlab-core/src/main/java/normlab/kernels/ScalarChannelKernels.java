package normlab.kernels;

/**
 * The reference loops of {@link ChannelKernels}, in double where they sum. When S == 1 they run over rows with the
 * channel innermost; otherwise over each (n, c) block of S values.
 */
public final class ScalarChannelKernels implements ChannelKernels {
    static final ScalarChannelKernels INSTANCE = new ScalarChannelKernels();

    private ScalarChannelKernels() {}

    @Override
    public void channelStats(double[] mean, double[] var, float[] x, int n, int c, int s) {
        double m = (double) n * s;
        if (s == 1) {
            double[] sum = new double[c], sq = new double[c];
            // with K = x[0, ch]: Σ(x − K), Σ(x − K)² per channel, rows in order
            for (int i = 0; i < n; i++) {
                int o = i * c;
                for (int ch = 0; ch < c; ch++) {
                    double d = x[o + ch] - (double) x[ch];
                    sum[ch] += d;
                    sq[ch] += d * d;
                }
            }
            for (int ch = 0; ch < c; ch++) {
                double dm = sum[ch] / m;
                mean[ch] = x[ch] + dm;
                var[ch] = Math.max(0, sq[ch] / m - dm * dm);
            }
            return;
        }
        for (int ch = 0; ch < c; ch++) {
            double shift = x[ch * s];
            double sum = 0, sq = 0;
            // μ = K + Σ(x−K)/m, σ² = Σ(x−K)²/m − (Σ(x−K)/m)²
            for (int i = 0; i < n; i++) {
                int o = (i * c + ch) * s;
                for (int j = 0; j < s; j++) {
                    double d = x[o + j] - shift;
                    sum += d;
                    sq += d * d;
                }
            }
            double dm = sum / m;
            mean[ch] = shift + dm;
            var[ch] = Math.max(0, sq / m - dm * dm);
        }
    }

    @Override
    public void normalize(float[] y, float[] x, float[] muHi, float[] muLo, float[] k, float[] b, int n, int c, int s) {
        if (s == 1) {
            // y = ((x − μ_hi) − μ_lo)·k + b, channels innermost
            for (int i = 0; i < n; i++) {
                int o = i * c;
                for (int ch = 0; ch < c; ch++) y[o + ch] = ((x[o + ch] - muHi[ch]) - muLo[ch]) * k[ch] + b[ch];
            }
            return;
        }
        for (int i = 0; i < n; i++) {
            for (int ch = 0; ch < c; ch++) {
                int o = (i * c + ch) * s;
                float mh = muHi[ch], ml = muLo[ch], kk = k[ch], bb = b[ch];
                // y = ((x − μ_hi) − μ_lo)·k + b over the (n, ch) block
                for (int j = 0; j < s; j++) y[o + j] = ((x[o + j] - mh) - ml) * kk + bb;
            }
        }
    }

    @Override
    public void backwardSums(double[] sumDy, double[] sumDyXmu, float[] dy, float[] x, float[] muHi, float[] muLo,
                             int n, int c, int s) {
        if (s == 1) {
            // Σdy, Σdy·((x − μ_hi) − μ_lo), channels innermost
            for (int i = 0; i < n; i++) {
                int o = i * c;
                for (int ch = 0; ch < c; ch++) {
                    double g = dy[o + ch];
                    sumDy[ch] += g;
                    sumDyXmu[ch] += g * ((x[o + ch] - muHi[ch]) - muLo[ch]);
                }
            }
            return;
        }
        for (int ch = 0; ch < c; ch++) {
            double sd = 0, sdx = 0;
            float mh = muHi[ch], ml = muLo[ch];
            // Σdy, Σdy·((x − μ_hi) − μ_lo) over the channel's blocks
            for (int i = 0; i < n; i++) {
                int o = (i * c + ch) * s;
                for (int j = 0; j < s; j++) {
                    double g = dy[o + j];
                    sd += g;
                    sdx += g * ((x[o + j] - mh) - ml);
                }
            }
            sumDy[ch] = sd;
            sumDyXmu[ch] = sdx;
        }
    }

    @Override
    public void backwardDx(float[] dx, float[] dy, float[] x, float[] muHi, float[] muLo, float[] a, float[] q, float[] p,
                           int n, int c, int s) {
        if (s == 1) {
            // dx = a·dy − q·((x − μ_hi) − μ_lo) − p, channels innermost
            for (int i = 0; i < n; i++) {
                int o = i * c;
                for (int ch = 0; ch < c; ch++) {
                    dx[o + ch] = a[ch] * dy[o + ch] - q[ch] * ((x[o + ch] - muHi[ch]) - muLo[ch]) - p[ch];
                }
            }
            return;
        }
        for (int i = 0; i < n; i++) {
            for (int ch = 0; ch < c; ch++) {
                int o = (i * c + ch) * s;
                float aa = a[ch], qq = q[ch], pp = p[ch], mh = muHi[ch], ml = muLo[ch];
                // dx = a·dy − q·((x − μ_hi) − μ_lo) − p over the (n, ch) block
                for (int j = 0; j < s; j++) dx[o + j] = aa * dy[o + j] - qq * ((x[o + j] - mh) - ml) - pp;
            }
        }
    }
}
