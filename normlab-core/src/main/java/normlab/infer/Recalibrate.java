package normlab.infer;

import java.util.ArrayList;
import java.util.List;
import normlab.io.LayerTypes;
import normlab.nn.Module;
import normlab.nn.Layout;
import normlab.norm.RunningStatsNorm;
import normlab.norm.RunningStatsNorm.RunningAffine;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * PreciseBN: replaces every BatchNorm's running statistics by the exact population statistics of its inputs over K
 * given batches, instead of the exponential moving average left by training (which lags the weights and is biased
 * toward the last batches). For each channel, over all M = Σ_batches N·S values x it sees:
 * <pre>
 *   running_mean = (1/M) Σ x                    (= the count-weighted mean of the per-batch means)
 *   running_var  = (1/(M−1)) Σ (x − mean)²      (pooled sums, unbiased as PyTorch's running_var)
 * </pre>
 * accumulated in double around a per-channel shift (the first value seen), Σ(x−K) and Σ(x−K)².
 *
 * <p>Order: layer by layer, in forward (registration) order, with the whole model in eval mode. While layer j is
 * measured, every BN before it already holds its recalibrated statistics, so layer j sees exactly the inputs it will
 * see at test time. (Measuring all layers in one training-mode pass, as a moving-average update does, would feed
 * layer j inputs normalized with batch statistics instead.) Cost: for L BN layers, L passes over the K batches; each
 * pass stops at the layer measured, so about K·L/2 full forwards for a plain stack, and no activations are stored.
 *
 * <p>Layers: every {@link RunningStatsNorm} whose running statistics are estimates: BatchNorm1d/2d (NCHW or NHWC),
 * BatchRenorm and GhostBatchNorm (whose evaluation uses the same running statistics). {@code num_batches_tracked},
 * parameters and every module's mode are left as they were. BNs without running statistics
 * (track_running_stats=false) have nothing to recalibrate and are skipped; FrozenBatchNorm2d is frozen by definition
 * and left alone.
 */
public final class Recalibrate {
    private Recalibrate() {}

    /** What one layer got: its label, the number of values per channel, and the old and new statistics. */
    public record LayerStats(String layer, long count, float[] oldMean, float[] oldVar, float[] mean, float[] var) {
        /** Largest |new − old| of the mean over channels. */
        public double maxMeanChange() {
            double m = 0;
            for (int i = 0; i < mean.length; i++) m = Math.max(m, Math.abs(mean[i] - oldMean[i]));
            return m;
        }
    }

    /** Recalibrates every BN of {@code model} in place from {@code batches} (each a model input); returns per-layer stats. */
    public static List<LayerStats> run(Module model, List<Tensor> batches) {
        if (batches.isEmpty()) throw new IllegalArgumentException("Recalibrate: no batches given");
        List<LayerStats> out = new ArrayList<>();
        for (String path : layers(model)) out.add(apply(model, path, moments(model, path, batches)));
        return out;
    }

    /**
     * Per-channel moments of the values one layer sees: the count n, the mean and M2 = Σ(x − mean)², mergeable across
     * disjoint parts of the data (a distributed PreciseBN computes one per partition and merges them).
     */
    public record Moments(long count, double[] mean, double[] m2) implements java.io.Serializable {
        /** Nothing seen yet, for {@code channels} channels. */
        public static Moments empty(int channels) {
            return new Moments(0, new double[channels], new double[channels]);
        }

        /**
         * The moments of both parts together (Chan et al.'s parallel update, never raw Σx and Σx²):
         * <pre>   δ = μ_b − μ_a,  n = n_a + n_b,  μ = μ_a + δ·n_b/n,  M2 = M2_a + M2_b + δ²·n_a·n_b/n</pre>
         */
        public Moments merge(Moments b) {
            if (b.mean.length != mean.length) {
                throw new IllegalArgumentException("Recalibrate: cannot merge moments of " + mean.length + " and " + b.mean.length + " channels");
            }
            if (b.count == 0) return this;
            if (count == 0) return b;
            double na = count, nb = b.count, n = na + nb;
            double[] mu = new double[mean.length], q = new double[mean.length];
            for (int ch = 0; ch < mu.length; ch++) {
                double delta = b.mean[ch] - mean[ch];
                mu[ch] = mean[ch] + delta * nb / n;
                q[ch] = m2[ch] + b.m2[ch] + delta * delta * na * nb / n;
            }
            return new Moments(count + b.count, mu, q);
        }
    }

    /** The paths of the layers to recalibrate, in forward (registration) order. */
    public static List<String> layers(Module model) {
        List<Target> targets = new ArrayList<>();
        collect(model, targets);
        List<String> out = new ArrayList<>();
        for (Target t : targets) out.add(t.layer().path());
        return out;
    }

    /** A layer with running statistics to recalibrate: its statistics buffers and where its channels are. */
    private record Target(Module layer, Tensor runningMean, Tensor runningVar, boolean channelsLast) {
        int channels() {
            return runningMean.numel();
        }
    }

    /** The BN layers with running statistics, in registration (= forward, for Sequential and Residual) order. */
    private static void collect(Module m, List<Target> out) {
        if (m instanceof RunningStatsNorm r && r.runningAffine() != null && r.runningAffine().estimated()) {
            RunningAffine a = r.runningAffine();
            out.add(new Target(m, a.runningMean(), a.runningVar(), a.layout() == Layout.NHWC));
        }
        for (Module c : m.children().values()) collect(c, out);
    }

    private static Target target(Module model, String path) {
        List<Target> targets = new ArrayList<>();
        collect(model, targets);
        for (Target t : targets) if (t.layer().path().equals(path)) return t;
        throw new IllegalArgumentException("Recalibrate: no layer with running statistics at path '" + path + "'");
    }

    /**
     * The moments of the inputs the layer at {@code path} sees over {@code batches}, with {@code model} in eval mode
     * (so every earlier BN uses the running statistics it holds now): mean = K + Σ(x−K)/n and M2 = Σ(x−K)² − (Σ(x−K))²/n
     * around a per-channel shift K (the first value seen), in double. The model is not changed.
     */
    public static Moments moments(Module model, String path, Iterable<Tensor> batches) {
        Target target = target(model, path);
        Module bn = target.layer();
        Class<?> cls = bn.getClass();
        // A copy of the model (with every earlier BN already recalibrated) in which this BN is replaced by a probe; the
        // copy runs in eval mode, the model itself is only touched to store the result.
        Module copy = LayerTypes.copy(model);
        Probe probe = new Probe(bn.label(), target.channels(), target.channelsLast());
        Module probed = LayerTypes.rebuild(copy, m -> m.path().equals(path) && m.getClass() == cls ? probe : null);
        probed.eval();
        for (Tensor x : batches) {
            int before = probe.batches;
            try {
                probed.forward(x);
            } catch (Probe.Reached r) {
                // expected: the forward stops at the probe
            }
            if (probe.batches == before) {
                throw new IllegalStateException(bn.label() + ": the forward pass never reached this layer, so it cannot be recalibrated");
            }
        }
        int c = target.channels();
        double m = probe.count;
        double[] mean = new double[c], m2 = new double[c];
        for (int ch = 0; ch < c; ch++) {
            double s = probe.sum[ch], q = probe.sq[ch];
            mean[ch] = m == 0 ? 0 : probe.shift[ch] + s / m;
            m2[ch] = m == 0 ? 0 : Math.max(0, q - s * s / m);
        }
        return new Moments(probe.count, mean, m2);
    }

    /**
     * Stores population statistics from {@code moments} in the layer at {@code path}: running_mean = mean,
     * running_var = M2/(n − 1) (unbiased, as PyTorch's running_var); throws if n &lt; 2.
     */
    public static LayerStats apply(Module model, String path, Moments moments) {
        Target target = target(model, path);
        String label = target.layer().label();
        if (moments.mean().length != target.channels()) {
            throw new IllegalArgumentException(label + ": moments of " + moments.mean().length + " channels for a layer of " + target.channels());
        }
        if (moments.count() < 2) {
            throw new IllegalArgumentException(label + ": " + moments.count() + " value(s) per channel; recalibration needs at least 2");
        }
        Tensor rm = target.runningMean(), rv = target.runningVar();
        float[] oldMean = rm.data.clone(), oldVar = rv.data.clone();
        double m = moments.count();
        for (int ch = 0; ch < target.channels(); ch++) {
            rm.data[ch] = (float) moments.mean()[ch];
            rv.data[ch] = (float) (moments.m2()[ch] / (m - 1));
        }
        return new LayerStats(label, moments.count(), oldMean, oldVar, rm.data.clone(), rv.data.clone());
    }

    /** Stands in for the BN being measured: accumulates its input's per-channel sums, then stops the forward pass. */
    private static final class Probe extends Module {
        static final class Reached extends RuntimeException {
            Reached() {
                super(null, null, false, false);
            }
        }

        private final String layer;
        private final int c;
        private final boolean channelsLast;
        final double[] shift, sum, sq;
        boolean shifted;
        long count;
        int batches;

        Probe(String layer, int c, boolean channelsLast) {
            this.layer = layer;
            this.c = c;
            this.channelsLast = channelsLast;
            shift = new double[c];
            sum = new double[c];
            sq = new double[c];
        }

        @Override
        public Tensor forward(Tensor x) {
            if (x.rank() < 2 || x.dim(channelsLast ? x.rank() - 1 : 1) != c) {
                throw new ShapeException(layer + ": expected input " + (channelsLast ? "(N, ..., " + c + ")" : "(N, " + c + ", ...)")
                        + ", got " + x.shapeString());
            }
            // Channels-last input is read as (N·H·W, C, 1).
            int n = channelsLast ? x.numel() / c : x.dim(0), s = x.numel() / Math.max(1, n * c);
            if (n > 0 && !shifted) {
                for (int ch = 0; ch < c; ch++) shift[ch] = x.data[ch * s];
                shifted = true;
            }
            accumulate(sum, sq, x.data, shift, n, c, s);
            count += (long) n * s;
            batches++;
            throw new Reached();
        }

        @Override
        public Tensor backward(Tensor dy) {
            throw new UnsupportedOperationException("Recalibrate probe has no backward");
        }
    }

    /** Σ(x−K) and Σ(x−K)² per channel of (N, C, S) input, in double. */
    static void accumulate(double[] sum, double[] sq, float[] x, double[] shift, int n, int c, int s) {
        for (int i = 0; i < n; i++) {
            for (int ch = 0; ch < c; ch++) {
                int o = (i * c + ch) * s;
                double k = shift[ch], a = 0, b = 0;
                for (int j = 0; j < s; j++) {
                    double d = x[o + j] - k;
                    a += d;
                    b += d * d;
                }
                sum[ch] += a;
                sq[ch] += b;
            }
        }
    }
}
