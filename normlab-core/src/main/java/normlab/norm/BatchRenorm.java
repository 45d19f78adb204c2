package normlab.norm;

import java.util.Arrays;
import normlab.nn.Layout;
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
 * BatchNorm: ε 1e-5, momentum 0.1 (a number: null, the cumulative average, is rejected), affine; running statistics
 * are always tracked (renorm needs them). State keys as BatchNorm: weight, bias, running_mean, running_var,
 * num_batches_tracked. Options, buffers and the folded affine are {@link BatchStatsNorm}'s; r and d enter through
 * its {@link #scale}, {@link #shift} and {@link #gammaGradient}.
 *
 * <p>Small batches: training needs m = N·S ≥ 2 and throws otherwise, as BatchNorm. At batch 2 with S = 1 the batch
 * statistics are as noisy as BatchNorm's, but once rmax and dmax are relaxed r and d pull the output towards the
 * running statistics — the setting the method was designed for. Evaluation works at any N ≥ 1.
 */
public final class BatchRenorm extends BatchStatsNorm implements RunningStatsNorm {
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

    public final Schedule schedule;

    private final double[] mean, rstd, r, d;

    /** PyTorch BatchNorm defaults and the paper's schedule. */
    public BatchRenorm(int numFeatures) {
        this(numFeatures, Schedule.PAPER);
    }

    /** PyTorch BatchNorm defaults (ε 1e-5, momentum 0.1, affine) with the given schedule. */
    public BatchRenorm(int numFeatures, Schedule schedule) {
        this(numFeatures, 1e-5, 0.1, true, schedule);
    }

    /** @param momentum in [0, 1]; null (PyTorch's cumulative average) is rejected */
    public BatchRenorm(int numFeatures, double eps, Double momentum, boolean affine, Schedule schedule) {
        super(numFeatures, eps, momentum, false, affine, true);
        this.schedule = schedule;
        this.mean = new double[numFeatures];
        this.rstd = new double[numFeatures];
        this.r = new double[numFeatures];
        this.d = new double[numFeatures];
    }

    @Override
    public RunningAffine runningAffine() {
        return estimatedAffine(Layout.NCHW);
    }

    @Override
    public Tensor forward(Tensor x) {
        checkInput(x);
        checkBatch(x, 1);
        return forwardWholeBatch(x, x.dim(0), mean, rstd);
    }

    /** Training: r and d from the batch and the old running statistics, then the running update as BatchNorm's. */
    @Override
    protected void batchStatisticsUsed(double[] mean, double[] var, long m) {
        long step = (long) numBatchesTracked.data[0];
        double rmax = schedule.rmax(step), dmax = schedule.dmax(step);
        for (int ch = 0; ch < numFeatures; ch++) {
            // r = clip(σ_B/σ, 1/rmax, rmax), d = clip((μ_B − μ)/σ, −dmax, dmax)
            double sigmaB = Math.sqrt(var[ch] + eps), sigma = Math.sqrt(runningVar.data[ch] + eps);
            r[ch] = Math.min(rmax, Math.max(1.0 / rmax, sigmaB / sigma));
            d[ch] = Math.min(dmax, Math.max(-dmax, (mean[ch] - runningMean.data[ch]) / sigma));
        }
        // Running statistics as BatchNorm, after r and d have used the old values.
        updateRunning(mean, var, (double) m / (m - 1));
    }

    /** k and b use r and d, computed in {@link #batchStatisticsUsed} after all the statistics. */
    @Override
    protected boolean affineFromStatisticsAlone() {
        return false;
    }

    /** Evaluation: r = 1, d = 0 (BatchNorm's affine with the running statistics). */
    @Override
    protected void runningStatisticsUsed() {
        Arrays.fill(r, 1);
        Arrays.fill(d, 0);
    }

    /** y = γ·(r·(x − μ)·rstd + d) + β = (x − μ)·k + b with k = γ·r·rstd (and a = k in the backward) ... */
    @Override
    protected double scale(int ch, double gamma, double rstd) {
        return gamma * r[ch] * rstd;
    }

    /** ... and b = γ·d + β. */
    @Override
    protected float shift(int ch, double gamma) {
        return (float) (gamma * d[ch] + (affine ? bias.value.data[ch] : 0.0));
    }

    /** dγ = Σ dy·x̂ = r·rstd·Σdy(x−μ) + d·Σdy. */
    @Override
    protected double gammaGradient(int ch, double rstd, double sumDy, double sumDyXmu) {
        return r[ch] * rstd * sumDyXmu + d[ch] * sumDy;
    }

    /** dx = a·dy − q·(x − μ) − p with a = γ·r·rstd, q = a·rstd²·Σdy(x−μ)/m, p = a·Σdy/m (q = p = 0 in evaluation). */
    @Override
    public Tensor backward(Tensor dy) {
        return backwardWholeBatch(dy, mean, rstd, 1);
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
