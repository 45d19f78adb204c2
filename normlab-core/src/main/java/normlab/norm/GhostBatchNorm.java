package normlab.norm;

import normlab.nn.Layout;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * Ghost Batch Normalization (Hoffer, Hubara &amp; Soudry 2017) with the semantics of Keras's
 * {@code BatchNormalization(virtual_batch_size=v)}: in training a batch of N samples is split into virtual ("ghost")
 * batches that are each normalized with their own statistics; γ and β are shared. Input (N, C), (N, C, L) or
 * (N, C, H, W); statistics per channel over the ghost batch's samples and positions.
 *
 * <p>Which samples form a ghost batch is Keras's: the batch is reshaped to (v, N/v, …) and statistics are taken over
 * axis 0, so with G = N/v ghost batches, sample i belongs to ghost batch {@code i mod G} (interleaved, not
 * contiguous chunks). When v does not divide N (Keras raises), G = ⌈N/v⌉ and the same rule is kept: the samples
 * fill the (·, G) grid row by row and its last row is short, so the short ghost batches are the last ones and each is
 * at most one sample short: the first N mod G have ⌈N/G⌉ samples, the rest ⌊N/G⌋ (e.g. N = 10, v = 4: ghosts
 * {0,3,6,9}, {1,4,7}, {2,5,8}).
 * <pre>
 * Training, per ghost batch j of m_j values per channel:
 *   μ_j, σ²_j (biased),  y = γ·(x − μ_j)/√(σ²_j + ε) + β
 *   running_mean ← (1−f)·running_mean + f·Σ_j w_j·μ_j
 *   running_var  ← (1−f)·running_var  + f·Σ_j w_j·σ²_j·m_j/(m_j − 1)       w_j = n_j/N (= 1/G when v divides N)
 * Evaluation: BatchNorm's fixed affine with the running statistics.
 * Backward: BatchNorm's backward within each ghost batch; dγ, dβ summed over ghost batches.
 * </pre>
 * One running update per forward from the average of the ghost-batch statistics, as Keras does (rather than one
 * sequential update per ghost batch). Deliberate differences from Keras, to stay PyTorch's BatchNorm when v ≥ N:
 * PyTorch's momentum convention (f = 0.1 by default; Keras's 0.99 is f = 0.01), the unbiased variance in the
 * running average (Keras averages biased ones), ε 1e-5 (Keras 1e-3), and momentum null = cumulative average.
 * State keys as BatchNorm; options, buffers and the per-channel affine and backward are {@link BatchStatsNorm}'s,
 * applied to each ghost batch.
 *
 * <p>Small batches: each ghost batch needs m_j ≥ 2 values per channel in training and the forward throws otherwise,
 * as BatchNorm (so with S = 1, v = 1 or a ghost of one sample is an error). A batch smaller than v is one ghost batch
 * (plain BatchNorm); batch 1 with S = 1 throws in training, batch 2 normalizes each channel to ±1. Evaluation works
 * at any N ≥ 1.
 */
public final class GhostBatchNorm extends BatchStatsNorm implements RunningStatsNorm {
    public final int virtualBatchSize;

    private Tensor x;
    private int[][] ghosts;    // sample indices per ghost batch of the last forward
    private double[][] mean;   // per ghost batch, per channel
    private double[][] rstd;
    private boolean usedBatchStats;

    /** PyTorch BatchNorm defaults (ε 1e-5, momentum 0.1, affine) with the given virtual batch size. */
    public GhostBatchNorm(int numFeatures, int virtualBatchSize) {
        this(numFeatures, virtualBatchSize, 1e-5, 0.1, true);
    }

    /** @param momentum in [0, 1], or null for the cumulative average */
    public GhostBatchNorm(int numFeatures, int virtualBatchSize, double eps, Double momentum, boolean affine) {
        super(numFeatures, eps, momentum, true, affine, true);
        if (virtualBatchSize <= 0) throw new IllegalArgumentException("GhostBatchNorm: virtualBatchSize must be positive, got " + virtualBatchSize);
        this.virtualBatchSize = virtualBatchSize;
    }

    @Override
    public RunningAffine runningAffine() {
        return estimatedAffine(Layout.NCHW);
    }

    /** Sample indices of each ghost batch for a batch of n: G = ⌈n/v⌉ ghosts, sample i in ghost i mod G. */
    public static int[][] ghostBatches(int n, int virtualBatchSize) {
        int g = (n + virtualBatchSize - 1) / virtualBatchSize;
        int[][] out = new int[g][];
        for (int j = 0; j < g; j++) {
            int size = (n - j + g - 1) / g; // count of i in [0, n) with i ≡ j (mod g)
            out[j] = new int[size];
            for (int t = 0; t < size; t++) out[j][t] = j + t * g;
        }
        return out;
    }

    private static float[] gather(float[] src, int[] samples, int block) {
        float[] out = new float[samples.length * block];
        for (int t = 0; t < samples.length; t++) System.arraycopy(src, samples[t] * block, out, t * block, block);
        return out;
    }

    private static void scatter(float[] dst, float[] part, int[] samples, int block) {
        for (int t = 0; t < samples.length; t++) System.arraycopy(part, t * block, dst, samples[t] * block, block);
    }

    @Override
    public Tensor forward(Tensor x) {
        checkInput(x);
        checkBatch(x, 1);
        int n = x.dim(0), c = numFeatures, s = x.numel() / Math.max(1, n * c), block = c * s;
        usedBatchStats = usesBatchStats();
        int[][] ghosts = usedBatchStats ? ghostBatches(n, virtualBatchSize) : new int[][] {allSamples(n)};
        double[][] mean = new double[ghosts.length][c], rstd = new double[ghosts.length][c];
        Tensor y = outputTensor(0, x.shape()); // every element written below
        double[] newMean = new double[c], newVar = new double[c];
        for (int j = 0; j < ghosts.length; j++) {
            int[] idx = ghosts[j];
            long m = (long) idx.length * s;
            float[] xj = gather(x.data, idx, block);
            if (usedBatchStats) {
                if (m < 2) {
                    throw new ShapeException(label() + ": ghost batch " + j + " of " + ghosts.length + " has " + idx.length
                            + " sample(s) of input shape " + x.shapeString() + " (virtual batch size " + virtualBatchSize
                            + "), expected more than 1 value per channel when training");
                }
                // μ_j, σ²_j per channel; accumulate Σ w_j μ_j and Σ w_j σ²_j m_j/(m_j−1) with w_j = n_j/N
                double[] var = batchStatistics(mean[j], rstd[j], xj, idx.length, s);
                double w = (double) idx.length / n, unbias = (double) m / (m - 1);
                for (int ch = 0; ch < c; ch++) {
                    newMean[ch] += w * mean[j][ch];
                    newVar[ch] += w * var[ch] * unbias;
                }
            } else {
                runningStatistics(mean[j], rstd[j]);
            }
            // y = (x − μ_j)·γ·rstd_j + β
            float[] yj = new float[xj.length];
            normalizeChannels(yj, xj, mean[j], rstd[j], idx.length, s);
            scatter(y.data, yj, idx, block);
        }
        if (usedBatchStats) updateRunning(newMean, newVar, 1.0); // newVar is already unbiased
        // Saved for backward only after y is computed from locals: concurrent eval forwards share no scratch.
        this.ghosts = ghosts;
        this.mean = mean;
        this.rstd = rstd;
        this.x = x;
        return y;
    }

    private static int[] allSamples(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = i;
        return a;
    }

    /** Per ghost batch j: dx = a·dy − q·(x − μ_j) − p, BatchNorm's backward; dγ += rstd_j·Σdy(x−μ_j), dβ += Σdy. */
    @Override
    public Tensor backward(Tensor dy) {
        checkBackward(x, dy);
        int n = x.dim(0), s = x.numel() / (n * numFeatures), block = numFeatures * s;
        Tensor dx = outputTensor(1, x.shape()); // every element written below
        for (int j = 0; j < ghosts.length; j++) {
            int[] idx = ghosts[j];
            float[] xj = gather(x.data, idx, block), dyj = gather(dy.data, idx, block);
            ChannelGradient g = channelGradient(dyj, xj, mean[j], rstd[j], usedBatchStats, idx.length, s);
            float[] dxj = new float[xj.length];
            g.writeDx(dxj);
            scatter(dx.data, dxj, idx, block);
        }
        return dx;
    }
}
