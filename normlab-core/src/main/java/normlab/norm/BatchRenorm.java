package normlab.norm;

import java.util.List;
import java.util.Map;
import normlab.kernels.Kernels;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * Batch Renormalization (Ioffe 2017, Algorithm 1): BatchNorm whose training output is corrected towards the running
 * statistics, so training and inference compute nearly the same function even for small or non-i.i.d. batches.
 * Input (N, C), (N, C, L) or (N, C, H, W); statistics per channel over m = N·S values, as {@link BatchNorm}.
 * <pre>
 * Training, per channel:
 *   μ_B, σ²_B           mini-batch mean and biased variance;   σ_B = √(σ²_B + ε),   σ = √(running_var + ε)
 *   r = clip(σ_B/σ, 1/rmax, rmax),   d = clip((μ_B − running_mean)/σ, −dmax, dmax)    (stop-gradient: constants)
 *   x̂ = (x − μ_B)/σ_B · r + d,   y = γ·x̂ + β
 *   running statistics then updated exactly as BatchNorm (momentum, unbiased variance), and num_batches_tracked += 1
 * Evaluation: y = γ·(x − running_mean)/σ + β, as BatchNorm.
 * Backward (r, d constant):  dx = γ·r/σ_B · (dy − mean(dy) − x̂_B·mean(dy·x̂_B)), x̂_B = (x − μ_B)/σ_B;
 *   dγ = Σ dy·x̂,  dβ = Σ dy.
 * </pre>
 * rmax and dmax follow a {@link Schedule} of the training step (num_batches_tracked before the update). The paper's
 * (section 4): rmax = 1, dmax = 0 for the first 5k steps, then relaxed — linearly here — to rmax = 3 at 40k steps and
 * dmax = 5 at 25k steps. With rmax = 1 and dmax = 0 the layer is exactly BatchNorm. Defaults otherwise as PyTorch's
 * BatchNorm: ε 1e-5, momentum 0.1, affine; running statistics are always tracked (renorm needs them). State keys as
 * BatchNorm: weight, bias, running_mean, running_var, num_batches_tracked.
 *
 * <p>Small batches: training needs m = N·S ≥ 2 and throws otherwise, as BatchNorm. At batch 2 with S = 1 the batch
 * statistics are as noisy as BatchNorm's, but once rmax and dmax are relaxed r and d pull the output towards the
 * running statistics — the setting the method was designed for. Evaluation works at any N ≥ 1.
 */
public final class BatchRenorm extends Module {
    /**
     * rmax and dmax by training step: rmax = 1 and dmax = 0 before {@code warmupSteps}, then each grows linearly to its
     * final value, reached at {@code rmaxSteps} / {@code dmaxSteps} (total steps, counted from 0), and stays there.
     */
    public record Schedule(long warmupSteps, double rmaxFinal, long rmaxSteps, double dmaxFinal, long dmaxSteps) {
        /** The paper's: 1 and 0 for 5k steps, then rmax → 3 by 40k and dmax → 5 by 25k. */
        public static final Schedule PAPER = new Schedule(5000, 3, 40000, 5, 25000);

        public Schedule {
            if (warmupSteps < 0 || !(rmaxFinal >= 1) || !(dmaxFinal >= 0)) {
                throw new IllegalArgumentException("BatchRenorm.Schedule: need warmup >= 0, rmax >= 1, dmax >= 0, got "
                        + warmupSteps + ", " + rmaxFinal + ", " + dmaxFinal);
            }
        }

        /** Fixed rmax and dmax from step 0. */
        public static Schedule constant(double rmax, double dmax) {
            return new Schedule(0, rmax, 0, dmax, 0);
        }

        private static double ramp(long step, long start, long end) {
            if (step < start) return 0;
            if (end <= start || step >= end) return 1;
            return (double) (step - start) / (end - start);
        }

        /** rmax at a training step: 1 + (rmaxFinal − 1)·ramp. */
        public double rmax(long step) {
            return step < warmupSteps ? 1.0 : 1.0 + (rmaxFinal - 1.0) * ramp(step, warmupSteps, rmaxSteps);
        }

        /** dmax at a training step: dmaxFinal·ramp. */
        public double dmax(long step) {
            return step < warmupSteps ? 0.0 : dmaxFinal * ramp(step, warmupSteps, dmaxSteps);
        }
    }

    public final int numFeatures;
    public final double eps;
    public final double momentum;
    public final boolean affine;
    public final Schedule schedule;
    public final Parameter weight; // null unless affine
    public final Parameter bias;
    public final Tensor runningMean;
    public final Tensor runningVar;
    public final Tensor numBatchesTracked;
    private final RunningStats running; // owns the three buffers above

    private Tensor x;
    private final double[] mean, rstd, r, d;
    private boolean usedBatchStats;

    /** PyTorch BatchNorm defaults and the paper's schedule. */
    public BatchRenorm(int numFeatures) {
        this(numFeatures, 1e-5, 0.1, true, Schedule.PAPER);
    }

    public BatchRenorm(int numFeatures, double eps, double momentum, boolean affine, Schedule schedule) {
        RunningStats.checkOptions("BatchRenorm", numFeatures, eps, momentum, false);
        this.numFeatures = numFeatures;
        this.eps = eps;
        this.momentum = momentum;
        this.affine = affine;
        this.schedule = schedule;
        this.weight = affine ? RunningStats.gamma(numFeatures) : null;
        this.bias = affine ? RunningStats.beta(numFeatures) : null;
        this.running = new RunningStats(numFeatures);
        this.runningMean = running.mean;
        this.runningVar = running.var;
        this.numBatchesTracked = running.count;
        this.mean = new double[numFeatures];
        this.rstd = new double[numFeatures];
        this.r = new double[numFeatures];
        this.d = new double[numFeatures];
    }

    @Override
    protected List<Parameter> ownParameters() {
        return affine ? List.of(weight, bias) : List.of();
    }

    @Override
    protected Map<String, Tensor> ownBuffers() {
        return running.buffers();
    }

    @Override
    public Tensor forward(Tensor x) {
        requireRank(x, 2, 3, 4);
        requireDim(x, 1, numFeatures, "channels");
        int n = x.dim(0), c = numFeatures, s = x.numel() / Math.max(1, n * c);
        if (n == 0) throw new ShapeException(label() + ": empty batch, input shape " + x.shapeString());
        long m = (long) n * s;
        usedBatchStats = isTraining();
        if (usedBatchStats) {
            if (m < 2) {
                throw new ShapeException(label() + ": expected more than 1 value per channel when training, got input shape " + x.shapeString());
            }
            double[] var = new double[c];
            Kernels.channel().channelStats(mean, var, x.data, n, c, s);
            long step = (long) numBatchesTracked.data[0];
            double rmax = schedule.rmax(step), dmax = schedule.dmax(step);
            for (int ch = 0; ch < c; ch++) {
                // r = clip(σ_B/σ, 1/rmax, rmax), d = clip((μ_B − μ)/σ, −dmax, dmax)
                double sigmaB = Math.sqrt(var[ch] + eps), sigma = Math.sqrt(runningVar.data[ch] + eps);
                rstd[ch] = 1.0 / sigmaB;
                r[ch] = Math.min(rmax, Math.max(1.0 / rmax, sigmaB / sigma));
                d[ch] = Math.min(dmax, Math.max(-dmax, (mean[ch] - runningMean.data[ch]) / sigma));
            }
            // Running statistics as BatchNorm, after r and d have used the old values.
            running.blend(running.countBatch(momentum), mean, var, (double) m / (m - 1));
        } else {
            for (int ch = 0; ch < c; ch++) {
                mean[ch] = runningMean.data[ch];
                rstd[ch] = 1.0 / Math.sqrt(runningVar.data[ch] + eps);
                r[ch] = 1;
                d[ch] = 0;
            }
        }
        // y = γ·(r·(x − μ)·rstd + d) + β = (x − μ)·k + b with k = γ·r·rstd, b = γ·d + β
        float[] muHi = new float[c], muLo = new float[c], k = new float[c], b = new float[c];
        for (int ch = 0; ch < c; ch++) {
            muHi[ch] = (float) mean[ch];
            muLo[ch] = (float) (mean[ch] - muHi[ch]);
            double g = affine ? weight.value.data[ch] : 1.0;
            k[ch] = (float) (g * r[ch] * rstd[ch]);
            b[ch] = (float) (g * d[ch] + (affine ? bias.value.data[ch] : 0.0));
        }
        Tensor y = outputTensor(0, x.shape()); // every element written below
        Kernels.channel().normalize(y.data, x.data, muHi, muLo, k, b, n, c, s);
        this.x = x;
        return y;
    }

    /** dx = a·dy − q·(x − μ) − p with a = γ·r·rstd, q = a·rstd²·Σdy(x−μ)/m, p = a·Σdy/m (q = p = 0 in evaluation). */
    @Override
    public Tensor backward(Tensor dy) {
        requireForward(x, this);
        Tensor.requireShape(label() + " backward", dy, x.shape());
        int n = x.dim(0), c = numFeatures, s = x.numel() / (n * c);
        double mCount = (double) n * s;
        double[] sumDy = new double[c], sumDyXmu = new double[c];
        float[] muHi = new float[c], muLo = new float[c];
        for (int ch = 0; ch < c; ch++) {
            muHi[ch] = (float) mean[ch];
            muLo[ch] = (float) (mean[ch] - muHi[ch]);
        }
        Kernels.channel().backwardSums(sumDy, sumDyXmu, dy.data, x.data, muHi, muLo, n, c, s);
        float[] a = new float[c], q = new float[c], p = new float[c];
        for (int ch = 0; ch < c; ch++) {
            double g = affine ? weight.value.data[ch] : 1.0;
            double kk = g * r[ch] * rstd[ch];
            a[ch] = (float) kk;
            if (usedBatchStats) {
                q[ch] = (float) (kk * rstd[ch] * rstd[ch] * sumDyXmu[ch] / mCount);
                p[ch] = (float) (kk * sumDy[ch] / mCount);
            }
            if (affine) {
                // dγ = Σ dy·x̂ = r·rstd·Σdy(x−μ) + d·Σdy
                weight.grad.data[ch] += (float) (r[ch] * rstd[ch] * sumDyXmu[ch] + d[ch] * sumDy[ch]);
                bias.grad.data[ch] += (float) sumDy[ch];
            }
        }
        Tensor dx = outputTensor(1, x.shape()); // every element written below
        Kernels.channel().backwardDx(dx.data, dy.data, x.data, muHi, muLo, a, q, p, n, c, s);
        return dx;
    }

    /** r of the last forward, per channel (1 in evaluation). */
    public double[] lastR() {
        return r.clone();
    }

    /** d of the last forward, per channel (0 in evaluation). */
    public double[] lastD() {
        return d.clone();
    }
}
