package normlab.norm;

import java.util.List;
import java.util.Map;
import normlab.kernels.Kernels;
import normlab.nn.Module;
import normlab.nn.Parameter;
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
 * State keys as BatchNorm.
 *
 * <p>Small batches: each ghost batch needs m_j ≥ 2 values per channel in training and the forward throws otherwise,
 * as BatchNorm (so with S = 1, v = 1 or a ghost of one sample is an error). A batch smaller than v is one ghost batch
 * (plain BatchNorm); batch 1 with S = 1 throws in training, batch 2 normalizes each channel to ±1. Evaluation works
 * at any N ≥ 1.
 */
public final class GhostBatchNorm extends Module {
    public final int numFeatures;
    public final int virtualBatchSize;
    public final double eps;
    /** Null means cumulative moving average. */
    public final Double momentum;
    public final boolean affine;
    public final Parameter weight;
    public final Parameter bias;
    public final Tensor runningMean;
    public final Tensor runningVar;
    public final Tensor numBatchesTracked;
    private final RunningStats running; // owns the three buffers above

    private Tensor x;
    private int[][] ghosts;    // sample indices per ghost batch of the last forward
    private double[][] mean;   // per ghost batch, per channel
    private double[][] rstd;
    private boolean usedBatchStats;

    /** PyTorch BatchNorm defaults (ε 1e-5, momentum 0.1, affine) with the given virtual batch size. */
    public GhostBatchNorm(int numFeatures, int virtualBatchSize) {
        this(numFeatures, virtualBatchSize, 1e-5, 0.1, true);
    }

    public GhostBatchNorm(int numFeatures, int virtualBatchSize, double eps, Double momentum, boolean affine) {
        RunningStats.checkOptions("GhostBatchNorm", numFeatures, eps, momentum, true);
        if (virtualBatchSize <= 0) throw new IllegalArgumentException("GhostBatchNorm: virtualBatchSize must be positive, got " + virtualBatchSize);
        this.numFeatures = numFeatures;
        this.virtualBatchSize = virtualBatchSize;
        this.eps = eps;
        this.momentum = momentum;
        this.affine = affine;
        this.weight = affine ? RunningStats.gamma(numFeatures) : null;
        this.bias = affine ? RunningStats.beta(numFeatures) : null;
        this.running = new RunningStats(numFeatures);
        this.runningMean = running.mean;
        this.runningVar = running.var;
        this.numBatchesTracked = running.count;
    }

    @Override
    protected List<Parameter> ownParameters() {
        return affine ? List.of(weight, bias) : List.of();
    }

    @Override
    protected Map<String, Tensor> ownBuffers() {
        return running.buffers();
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
        requireRank(x, 2, 3, 4);
        requireDim(x, 1, numFeatures, "channels");
        int n = x.dim(0), c = numFeatures, s = x.numel() / Math.max(1, n * c), block = c * s;
        if (n == 0) throw new ShapeException(label() + ": empty batch, input shape " + x.shapeString());
        usedBatchStats = isTraining();
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
                double[] var = new double[c];
                Kernels.channel().channelStats(mean[j], var, xj, idx.length, c, s);
                double w = (double) idx.length / n, unbias = (double) m / (m - 1);
                for (int ch = 0; ch < c; ch++) {
                    rstd[j][ch] = 1.0 / Math.sqrt(var[ch] + eps);
                    newMean[ch] += w * mean[j][ch];
                    newVar[ch] += w * var[ch] * unbias;
                }
            } else {
                for (int ch = 0; ch < c; ch++) {
                    mean[j][ch] = runningMean.data[ch];
                    rstd[j][ch] = 1.0 / Math.sqrt(runningVar.data[ch] + eps);
                }
            }
            // y = (x − μ_j)·γ·rstd_j + β
            float[] muHi = new float[c], muLo = new float[c], k = new float[c], b = new float[c];
            for (int ch = 0; ch < c; ch++) {
                muHi[ch] = (float) mean[j][ch];
                muLo[ch] = (float) (mean[j][ch] - muHi[ch]);
                k[ch] = (float) ((affine ? weight.value.data[ch] : 1.0) * rstd[j][ch]);
                b[ch] = affine ? bias.value.data[ch] : 0f;
            }
            float[] yj = new float[xj.length];
            Kernels.channel().normalize(yj, xj, muHi, muLo, k, b, idx.length, c, s);
            scatter(y.data, yj, idx, block);
        }
        if (usedBatchStats) {
            running.blend(running.countBatch(momentum), newMean, newVar, 1.0); // newVar is already unbiased
        }
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
        requireForward(x, this);
        Tensor.requireShape(label() + " backward", dy, x.shape());
        int n = x.dim(0), c = numFeatures, s = x.numel() / (n * c), block = c * s;
        Tensor dx = outputTensor(1, x.shape()); // every element written below
        for (int j = 0; j < ghosts.length; j++) {
            int[] idx = ghosts[j];
            float[] xj = gather(x.data, idx, block), dyj = gather(dy.data, idx, block);
            double mCount = (double) idx.length * s;
            double[] sumDy = new double[c], sumDyXmu = new double[c];
            float[] muHi = new float[c], muLo = new float[c], a = new float[c], q = new float[c], p = new float[c];
            for (int ch = 0; ch < c; ch++) {
                muHi[ch] = (float) mean[j][ch];
                muLo[ch] = (float) (mean[j][ch] - muHi[ch]);
            }
            Kernels.channel().backwardSums(sumDy, sumDyXmu, dyj, xj, muHi, muLo, idx.length, c, s);
            for (int ch = 0; ch < c; ch++) {
                double rs = rstd[j][ch], kk = (affine ? weight.value.data[ch] : 1.0) * rs;
                a[ch] = (float) kk;
                if (usedBatchStats) {
                    q[ch] = (float) (kk * rs * rs * sumDyXmu[ch] / mCount);
                    p[ch] = (float) (kk * sumDy[ch] / mCount);
                }
                if (affine) {
                    weight.grad.data[ch] += (float) (sumDyXmu[ch] * rs);
                    bias.grad.data[ch] += (float) sumDy[ch];
                }
            }
            float[] dxj = new float[xj.length];
            Kernels.channel().backwardDx(dxj, dyj, xj, muHi, muLo, a, q, p, idx.length, c, s);
            scatter(dx.data, dxj, idx, block);
        }
        return dx;
    }
}
