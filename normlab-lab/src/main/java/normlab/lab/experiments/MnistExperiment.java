package normlab.lab.experiments;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import normlab.lab.evidence.RunControl;
import normlab.train.NonFiniteException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import normlab.data.Dataset;
import normlab.kernels.Parallel;
import normlab.lab.evidence.EvidenceReport;
import normlab.lab.evidence.Experiment;
import normlab.lab.evidence.Runs;
import normlab.lab.evidence.Settings;
import normlab.lab.report.MnistReport;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.train.ColumnRecorder;
import normlab.train.Evaluation;
import normlab.train.Hooks;
import normlab.models.MnistMlp;
import normlab.train.Trainer;

/**
 * The Batch Normalization paper's MNIST experiment (§4.1, Figure 1): the same 784-100-100-100-10 sigmoid network
 * trained with and without BN from the same initial weights and the same batch order, plain SGD, cross-entropy.
 * Every {@code evalEvery} steps it records the test accuracy (Fig. 1a) and the 15th, 50th and 85th percentiles over
 * the test set of the input to one fixed sigmoid of the last hidden layer (Fig. 1b without BN, Fig. 1c with BN).
 *
 * <p>The two variants are independent, so with two threads they run concurrently (each on one thread).
 */
public final class MnistExperiment implements Experiment<MnistExperiment.Setup, MnistExperiment.Result> {
    /** The percentiles of Figure 1b/c. */
    public static final double[] PERCENTILES = {15, 50, 85};

    /** Settings of one run; defaults are the paper's. */
    public record Params(int steps, int batch, double lr, double std, long seed, int threads, int evalEvery, int unit) {
        public Params {
            if (steps <= 0) throw new IllegalArgumentException("--steps must be positive, got " + steps);
            if (batch < 2) throw new IllegalArgumentException("--batch must be at least 2 (BatchNorm needs 2 values per unit), got " + batch);
            if (!(lr > 0)) throw new IllegalArgumentException("--lr must be positive, got " + lr);
            if (!(std > 0)) throw new IllegalArgumentException("--std must be positive, got " + std);
            if (threads <= 0) throw new IllegalArgumentException("--threads must be positive, got " + threads);
            if (evalEvery <= 0) throw new IllegalArgumentException("--eval-every must be positive, got " + evalEvery);
            if (unit < 0 || unit >= MnistMlp.SIZES[3]) {
                throw new IllegalArgumentException("--unit must be in [0, " + MnistMlp.SIZES[3] + "), got " + unit);
            }
        }

        /** The paper's protocol: 50,000 steps of 60, lr 0.1, weights N(0, 0.01²), evaluated every 500 steps. */
        public static Params defaults() {
            return new Params(50_000, 60, 0.1, 0.01, 1, Math.min(2, Runtime.getRuntime().availableProcessors()), 500, 0);
        }
    }

    /**
     * One evaluation: step, losses, accuracy, percentiles of the followed sigmoid's input, time since start.
     * {@code trainLoss} is the mean training loss since the previous point (NaN at step 0).
     */
    public record Point(int step, double trainLoss, double testLoss, double accuracy, double p15, double p50, double p85,
                        double seconds) {}

    /** A variant's record: its points, the time spent in training steps and in evaluation, and its trainer (model). */
    public record VariantResult(String name, boolean batchNorm, List<Point> points, double trainSeconds, double evalSeconds,
                                Trainer trainer, Map<String, String> resumeState) {
        public Point last() {
            return points.get(points.size() - 1);
        }

        /** Training steps per second (evaluation excluded). */
        public double stepsPerSecond() {
            return last().step() / trainSeconds;
        }

        public double wallSeconds() {
            return trainSeconds + evalSeconds;
        }
    }

    /** Both variants and the derived figures of the acceptance criteria. */
    public record Result(Params params, VariantResult baseline, VariantResult bn, double wallSeconds) {
        public double baselineFinalAccuracy() {
            return baseline.last().accuracy();
        }

        public double bnFinalAccuracy() {
            return bn.last().accuracy();
        }

        /**
         * First recorded step (after step 0) at which BN's test accuracy reaches the baseline's final accuracy; null if
         * never.
         */
        public Integer bnStepsToBaselineFinal() {
            double target = baselineFinalAccuracy();
            for (Point p : bn.points()) if (p.step() > 0 && p.accuracy() >= target) return p.step();
            return null;
        }

        /** Whether the baseline never left chance: its test accuracy stayed ≤ 0.2 (chance is 0.1 for 10 classes). */
        public boolean baselineAtChance() {
            double best = 0;
            for (Point p : baseline.points()) best = Math.max(best, p.accuracy());
            return best <= 0.2;
        }

        /**
         * steps / {@link #bnStepsToBaselineFinal()}: how many times fewer steps BN needs; null if never, and null
         * (undefined) while the baseline is still at chance ({@link #baselineAtChance()}).
         */
        public Double speedup() {
            if (baselineAtChance()) return null;
            Integer s = bnStepsToBaselineFinal();
            return s == null ? null : (double) params.steps() / s;
        }
    }

    /** Receives progress from the running variants (called from their threads). */
    public interface Progress {
        void onStep(String variant, int step);

        void onEval(String variant, Point point);

        /** A resumed variant's points so far (from its checkpoint), before it goes on. */
        default void restored(String variant, List<Point> points) {}
    }

    /** The run as an experiment of the lab: its parameters and the first {@code testSize} test images (all if 0). */
    public record Setup(Params params, int testSize) {}

    @Override
    public String name() {
        return "mnist";
    }

    @Override
    public String id() {
        return EvidenceReport.FIG1;
    }

    @Override
    public String description() {
        return "Figure 1";
    }

    @Override
    public List<String> help() {
        return List.of("Reproduces the MNIST experiment of Ioffe & Szegedy (2015), Figure 1: a 784-100-100-100-10 sigmoid network "
                        + "trained with plain SGD, without and with Batch Normalization.",
                "Writes metrics.csv, the Figure 1 charts (PNG, SVG), report.html, summary.json, each network's weights "
                        + "(bn.safetensors, a PyTorch state dict) and training checkpoint (bn.checkpoint.safetensors) into "
                        + "the run directory, and prints a summary table.");
    }

    /** The paper's protocol at the first seed; quick: 5,000 steps evaluated every 250 on the first 2,000 test images. */
    @Override
    public Setup params(Settings s) {
        Params d = Params.defaults();
        long seed = s.seeds().get(0);
        return s.quick() ? new Setup(new Params(5_000, d.batch(), d.lr(), d.std(), seed, s.threads(), 250, d.unit()), 2_000)
                : new Setup(new Params(d.steps(), d.batch(), d.lr(), d.std(), seed, s.threads(), d.evalEvery(), d.unit()), 0);
    }

    @Override
    public String announce(Settings s) {
        Params p = params(s).params();
        return String.format(Locale.ROOT, "mnist%s: Figure 1, %,d steps, seed %d", s.quick() ? " (quick)" : "", p.steps(), p.seed());
    }

    @Override
    public Result train(Setup setup, Settings s) throws IOException, InterruptedException {
        Dataset train = Runs.data("mnist", true, 0), test = Runs.data("mnist", false, setup.testSize());
        return run(setup.params(), train, test, new Progress() {
            public void onStep(String variant, int step) {}

            public void onEval(String variant, Point pt) {}
        });
    }

    @Override
    public MnistReport.Output publish(Setup setup, Settings s, Result r) {
        return new MnistReport.Output(r, setup.testSize() > 0 ? "mnist (first " + setup.testSize() + " test images)" : "mnist");
    }

    /**
     * Runs both variants on {@code train}, evaluating on {@code test}. Under a {@link RunControl} session each variant
     * checkpoints as it goes (key: its name) and resumes from its checkpoint; a stop request ends both at their next
     * step boundary with their checkpoints saved ({@link RunControl.Stopped}). When one variant fails (e.g. diverges),
     * the other is stopped too, and the first failure is thrown once both have ended.
     */
    public static Result run(Params p, Dataset train, Dataset test, Progress progress) throws InterruptedException {
        long t0 = System.nanoTime();
        VariantResult base, bn;
        AtomicBoolean abort = new AtomicBoolean();
        if (p.threads() >= 2) {
            ExecutorService pool = Executors.newFixedThreadPool(2, r -> {
                Thread t = new Thread(r, "mnist-variant");
                t.setDaemon(true);
                return t;
            });
            try {
                // One core per variant: each variant's kernels run serially on its own thread.
                Future<VariantResult> fb = pool.submit(() -> Parallel.serially(() -> runVariant(p, false, train, test, progress, abort)));
                Future<VariantResult> fn = pool.submit(() -> Parallel.serially(() -> runVariant(p, true, train, test, progress, abort)));
                RuntimeException failed = null;
                VariantResult[] got = new VariantResult[2];
                int i = 0;
                for (Future<VariantResult> f : List.of(fb, fn)) {
                    try {
                        got[i] = get(f);
                    } catch (RuntimeException e) {
                        abort.set(true); // the other variant ends at its next step
                        // A real failure wins over a stop; the first failure over later ones.
                        if (failed == null || failed instanceof RunControl.Stopped && !(e instanceof RunControl.Stopped)) failed = e;
                    }
                    i++;
                }
                if (failed != null) throw failed;
                base = got[0];
                bn = got[1];
            } finally {
                pool.shutdownNow();
            }
        } else {
            int old = Parallel.setThreads(1); // --threads 1: one core in all
            try {
                base = runVariant(p, false, train, test, progress, abort);
                bn = runVariant(p, true, train, test, progress, abort);
            } finally {
                Parallel.setThreads(old);
            }
        }
        return new Result(p, base, bn, (System.nanoTime() - t0) / 1e9);
    }

    private static VariantResult get(Future<VariantResult> f) throws InterruptedException {
        try {
            return f.get();
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException re) throw re;
            if (c instanceof Error err) throw err;
            throw new IllegalStateException(c);
        }
    }

    /** Name of a variant in files and tables. */
    public static String variantName(boolean batchNorm) {
        return batchNorm ? "bn" : "baseline";
    }

    /**
     * Trains one variant. Both variants draw their initial weights and their batch order from generators split off
     * {@code Rng(seed)} in the same order, so they start from the same weights and see the same batches.
     */
    public static VariantResult runVariant(Params p, boolean batchNorm, Dataset train, Dataset test, Progress progress) {
        return runVariant(p, batchNorm, train, test, progress, new AtomicBoolean());
    }

    /**
     * {@link #runVariant(Params, boolean, Dataset, Dataset, Progress)}, ending early (as {@link RunControl.Stopped}) when
     * {@code abort} is set. Its records — the points, the training-loss accumulator, the time spent — go into its
     * checkpoints, so a resumed variant's points are exactly those of an uninterrupted run (times aside).
     */
    static VariantResult runVariant(Params p, boolean batchNorm, Dataset train, Dataset test, Progress progress, AtomicBoolean abort) {
        String name = variantName(batchNorm);
        Rng root = new Rng(p.seed());
        Rng init = root.split(), shuffle = root.split();
        Sequential model = MnistMlp.build(batchNorm, p.std(), init);
        Trainer trainer = new Trainer(model, new SGD(model.parameters(), p.lr()), train, p.batch(), shuffle, true);
        Module probe = MnistMlp.lastSigmoid(model);
        ColumnRecorder recorder = new ColumnRecorder(p.unit());
        Hooks hooks = new Hooks().onInput(probe, recorder);
        List<Point> points = new ArrayList<>();
        // The training loss since the last evaluation, summed as Trainer.fit sums it; times: before this session.
        double[] lossSum = {0};
        int[] lossCount = {0};
        long[] before = {0, 0}; // elapsed, evaluation nanoseconds of earlier sessions
        long start = System.nanoTime();
        long[] evalNanos = {0};
        long[] lastStepEnd = {start};
        RunControl.State state = new RunControl.State() {
            @Override
            public Map<String, String> save() {
                Map<String, String> m = new LinkedHashMap<>();
                m.put("mnist.points", Integer.toString(points.size()));
                for (int i = 0; i < points.size(); i++) {
                    Point q = points.get(i);
                    m.put("mnist.point." + i, q.step() + ";" + RunControl.hex(q.trainLoss(), q.testLoss(), q.accuracy(), q.p15(), q.p50(), q.p85(), q.seconds()));
                }
                m.put("mnist.loss_sum", RunControl.hex(lossSum[0]));
                m.put("mnist.loss_count", Integer.toString(lossCount[0]));
                // Wall-clock time only (never in metrics.csv or summary.json): the run's timing goes on across sessions.
                m.put("mnist.elapsed_nanos", Long.toString(before[0] + System.nanoTime() - start));
                m.put("mnist.eval_nanos", Long.toString(before[1] + evalNanos[0]));
                return m;
            }

            @Override
            public void restore(Map<String, String> m) {
                points.clear();
                int n = Integer.parseInt(m.get("mnist.points"));
                for (int i = 0; i < n; i++) {
                    String[] f = m.get("mnist.point." + i).split(";");
                    double[] v = RunControl.unhex(f[1]);
                    points.add(new Point(Integer.parseInt(f[0]), v[0], v[1], v[2], v[3], v[4], v[5], v[6]));
                }
                lossSum[0] = RunControl.unhex(m.get("mnist.loss_sum"))[0];
                lossCount[0] = Integer.parseInt(m.get("mnist.loss_count"));
                before[0] = Long.parseLong(m.get("mnist.elapsed_nanos"));
                before[1] = Long.parseLong(m.get("mnist.eval_nanos"));
            }
        };
        Map<String, String> resumed;
        try {
            resumed = RunControl.resume(trainer, name, state);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (resumed == null) {
            // Step 0: the untrained network, so the curves start where training does.
            Evaluation ev0 = Trainer.evaluate(model, test, true, hooks);
            double[] q0 = recorder.percentiles(PERCENTILES);
            recorder.clear();
            points.add(new Point(0, Double.NaN, ev0.loss(), ev0.accuracy(), q0[0], q0[1], q0[2], (System.nanoTime() - start) / 1e9));
            progress.onEval(name, points.get(0));
            evalNanos[0] = System.nanoTime() - start;
        } else {
            progress.restored(name, List.copyOf(points));
            progress.onStep(name, trainer.steps());
        }
        lastStepEnd[0] = System.nanoTime();
        Trainer.Listener listener = new Trainer.Listener() {
            @Override
            public void onStep(int step, float loss) {
                lastStepEnd[0] = System.nanoTime();
                lossSum[0] += loss;
                lossCount[0]++;
                progress.onStep(name, step);
            }

            @Override
            public void onEval(int step, double trainLoss, Evaluation ev) {
                long now = System.nanoTime();
                evalNanos[0] += now - lastStepEnd[0];
                double[] q = recorder.percentiles(PERCENTILES);
                recorder.clear();
                // The mean training loss since the previous evaluation, across sessions (fit's own covers this one).
                double mean = lossSum[0] / lossCount[0];
                lossSum[0] = 0;
                lossCount[0] = 0;
                Point pt = new Point(step, mean, ev.loss(), ev.accuracy(), q[0], q[1], q[2], (before[0] + now - start) / 1e9);
                points.add(pt);
                progress.onEval(name, pt);
            }

            @Override
            public boolean stop() {
                return abort.get();
            }
        };
        try {
            RunControl.fit(trainer, name, p.steps(), p.evalEvery(), test, hooks, listener, state, resumed);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NonFiniteException e) {
            throw new Diverged(name, e);
        }
        if (trainer.steps() < p.steps()) throw new RunControl.Stopped(); // aborted: the other variant failed
        double total = (before[0] + System.nanoTime() - start) / 1e9;
        double eval = (before[1] + evalNanos[0]) / 1e9;
        return new VariantResult(name, batchNorm, List.copyOf(points), total - eval, eval, trainer, state.save());
    }

    /** A variant's training met a non-finite value: names the variant and the step. */
    public static final class Diverged extends RuntimeException {
        public final String variant;
        public final int step;

        Diverged(String variant, NonFiniteException e) {
            super("the " + variant + " network diverged at step " + e.step + " (" + e.where + " is not finite)", e, false, false);
            this.variant = variant;
            this.step = e.step;
        }
    }
}
