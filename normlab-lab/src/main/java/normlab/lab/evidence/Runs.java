package normlab.lab.evidence;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import normlab.data.Dataset;
import normlab.data.Datasets;
import normlab.io.LayerTypes;
import normlab.kernels.Parallel;
import normlab.nn.Init;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.models.SmallCnn;
import normlab.norm.BatchRenorm;
import normlab.optim.Optimizer;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.train.Evaluation;
import normlab.models.MnistMlp;
import normlab.train.Trainer;

/**
 * Pieces every experiment shares: the data (loaded once per process), training runs that detect divergence and end
 * cleanly, the models (the paper's MLP with any initialization, the small CNN with any normalization), and running
 * independent runs on a few threads with results in submission order.
 */
public final class Runs {
    private static final Map<String, Dataset> DATA = new ConcurrentHashMap<>();

    private Runs() {}

    /** {@code mnist} or {@code fashion}, train or test split, first {@code n} images (all if n ≤ 0 or n ≥ size). */
    public static Dataset data(String which, boolean train, int n) throws IOException {
        String key = which + (train ? "/train" : "/test");
        Dataset d = DATA.get(key);
        if (d == null) {
            d = switch (which) {
                case "mnist" -> Datasets.mnist(train);
                case "fashion" -> Datasets.fashionMnist(train);
                default -> throw new IllegalArgumentException("unknown dataset " + which + " (mnist or fashion)");
            };
            DATA.put(key, d);
        }
        return n <= 0 || n >= d.n ? d : d.slice(0, n);
    }

    /** The last {@code n} training images, kept out of every training slice used here (held-out data). */
    public static Dataset heldOut(String which, int n) throws IOException {
        Dataset d = data(which, true, 0);
        return d.slice(d.n - n, d.n);
    }

    /**
     * Runs the tasks on up to {@code threads} threads; results in the order given. Independent runs side by side use
     * the cores better than one run's kernels split across them, so while they run the kernels are kept on their
     * caller's thread ({@link Parallel#setThreads}(1)); results do not depend on it.
     */
    public static <T> List<T> parallel(int threads, List<Callable<T>> tasks) {
        int old = Parallel.setThreads(1);
        try {
            return runAll(threads, tasks);
        } finally {
            Parallel.setThreads(old);
        }
    }

    private static <T> List<T> runAll(int threads, List<Callable<T>> tasks) {
        List<T> out = new ArrayList<>();
        if (threads <= 1 || tasks.size() <= 1) {
            for (Callable<T> t : tasks) out.add(call(t));
            return out;
        }
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(threads, tasks.size()), r -> {
            Thread t = new Thread(r, "normlab-run");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<T>> fs = new ArrayList<>();
            for (Callable<T> t : tasks) fs.add(pool.submit(t));
            RunControl.Stopped stopped = null;
            for (Future<T> f : fs) {
                try {
                    out.add(f.get());
                } catch (ExecutionException e) {
                    Throwable c = e.getCause();
                    // A stop request: every run under way saves its checkpoint first, so wait for all of them.
                    if (c instanceof RunControl.Stopped s) {
                        stopped = s;
                        continue;
                    }
                    if (c instanceof RuntimeException re) throw re;
                    if (c instanceof Error err) throw err;
                    throw new IllegalStateException(c);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted", e);
                }
            }
            if (stopped != null) throw stopped;
        } finally {
            pool.shutdownNow();
        }
        return out;
    }

    private static <T> T call(Callable<T> t) {
        try {
            return t.call();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** How a training run ended. */
    public enum Status {
        OK("ok"), DIVERGED("diverged"), AT_CHANCE("at chance");

        public final String text;

        Status(String text) {
            this.text = text;
        }
    }

    /**
     * The end of one training run: test accuracy and loss, status, the step at which it stopped, the median seconds
     * per training step, and the training loss every {@code curveEvery} steps (for loss curves).
     */
    public record Outcome(double accuracy, double testLoss, Status status, int steps, double secondsPerStep,
                          double[] trainLoss) {
        public boolean diverged() {
            return status == Status.DIVERGED;
        }
    }

    /**
     * Trains with {@link Trainer#fit} for {@code steps} steps and evaluates on {@code test}. A non-finite training loss
     * or parameter stops the run at once (status DIVERGED, accuracy measured anyway, usually chance); a finished run
     * whose test accuracy is within 2 points of chance (1/K) is AT_CHANCE.
     */
    public static Outcome train(Module model, Optimizer opt, Dataset train, Dataset test, int steps, int batch, Rng shuffle,
                                boolean flat) {
        return train(model, opt, train, test, steps, batch, shuffle, flat, null);
    }

    /**
     * As {@link #train(Module, Optimizer, Dataset, Dataset, int, int, Rng, boolean)}, calling {@code beforeStep} with the
     * number of steps done before each step (a learning-rate schedule sets the rate there); null for none.
     */
    public static Outcome train(Module model, Optimizer opt, Dataset train, Dataset test, int steps, int batch, Rng shuffle,
                                boolean flat, java.util.function.IntConsumer beforeStep) {
        return trainWithCurve(model, opt, train, test, steps, batch, shuffle, flat, null, steps, beforeStep).outcome();
    }

    /** Accuracy on a fixed slice of the training set (evaluation mode) after the given steps. */
    public record AccuracyCurve(int[] steps, double[] accuracy) {}

    /** An outcome and its training-set accuracy curve (empty without a curve set). */
    public record Curved(Outcome outcome, AccuracyCurve trainAccuracy) {}

    /**
     * {@link #train(Module, Optimizer, Dataset, Dataset, int, int, Rng, boolean)} that also evaluates on
     * {@code curveSet} (a slice of the training data; null for none) every {@code curveEvery} steps and after the last.
     */
    public static Curved trainWithCurve(Module model, Optimizer opt, Dataset train, Dataset test, int steps, int batch, Rng shuffle,
                                        boolean flat, Dataset curveSet, int curveEvery) {
        return trainWithCurve(model, opt, train, test, steps, batch, shuffle, flat, curveSet, curveEvery, null);
    }

    /** {@link #trainWithCurve} with a before-step hook as {@link #train(Module, Optimizer, Dataset, Dataset, int, int, Rng, boolean, java.util.function.IntConsumer)}. */
    public static Curved trainWithCurve(Module model, Optimizer opt, Dataset train, Dataset test, int steps, int batch, Rng shuffle,
                                        boolean flat, Dataset curveSet, int curveEvery, java.util.function.IntConsumer beforeStep) {
        Watch w = new Watch(model, steps, beforeStep);
        try {
            RunControl.fit(new Trainer(model, opt, train, batch, shuffle, flat), RunControl.key(), steps, curveEvery, curveSet, null, w, w);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot write the checkpoint: " + e.getMessage(), e);
        }
        // The evaluation runs in small batches: experiments keep many trained models alive and each holds what its last
        // forward saved.
        Evaluation ev = Trainer.evaluate(model, test, flat, null, 200);
        Status status = w.status;
        if (status == Status.OK && ev.accuracy() <= 1.0 / test.numClasses() + 0.02) status = Status.AT_CHANCE;
        Outcome o = new Outcome(ev.accuracy(), ev.loss(), status, w.done, w.medianSeconds(), w.curve.stream().mapToDouble(Double::doubleValue).toArray());
        return new Curved(o, new AccuracyCurve(w.evalSteps.stream().mapToInt(Integer::intValue).toArray(),
                w.evalAccuracy.stream().mapToDouble(Double::doubleValue).toArray()));
    }

    /**
     * Watches a run of {@link Trainer#fit}: each step's time (the step alone, not this watch's checks), the training loss
     * averaged over every {@code steps / 50} steps, and divergence, which ends the run: the trainer's non-finite check
     * (its default policy refuses the step and keeps the last good weights) or a non-finite parameter or buffer after it.
     */
    private static final class Watch implements Trainer.Listener, RunControl.State {
        private final Module model;
        private final long[] times;
        private final int every;
        private final java.util.function.IntConsumer before;
        private final List<Double> curve = new ArrayList<>();
        private final List<Integer> evalSteps = new ArrayList<>();
        private final List<Double> evalAccuracy = new ArrayList<>();
        private Status status = Status.OK;
        private int done, timed;
        /** The median step time a checkpoint recorded (NaN if none): a run that ends at once after resuming reports it. */
        private double savedSeconds = Double.NaN;
        private double lossSum;
        private long last = System.nanoTime();

        Watch(Module model, int steps, java.util.function.IntConsumer before) {
            this.model = model;
            this.before = before;
            this.times = new long[steps];
            this.every = Math.max(1, steps / 50);
        }

        @Override
        public void beforeStep(int stepsDone, int[] batch) {
            if (before == null) return;
            long t = System.nanoTime();
            before.accept(stepsDone);
            last += System.nanoTime() - t; // the schedule's own time is not the step's
        }

        @Override
        public void onStep(int step, float loss) {
            times[timed++] = System.nanoTime() - last;
            done++;
            if (!Float.isFinite(loss) || !finiteParameters(model)) {
                diverged();
            } else {
                lossSum += loss;
                if (step % every == 0) {
                    curve.add(lossSum / every);
                    lossSum = 0;
                }
            }
            last = System.nanoTime();
        }

        @Override
        public void onEval(int step, double trainLoss, Evaluation ev) {
            evalSteps.add(step);
            evalAccuracy.add(ev.accuracy());
        }

        @Override
        public void onNonFinite(normlab.train.NonFiniteException e) {
            times[timed++] = System.nanoTime() - last;
            done++;
            diverged();
        }

        private void diverged() {
            status = Status.DIVERGED;
            curve.add(Double.NaN);
        }

        @Override
        public boolean stop() {
            return status == Status.DIVERGED;
        }

        double medianSeconds() {
            if (timed == 0) return savedSeconds; // every step was taken before a resume: as its checkpoint measured
            long[] sorted = java.util.Arrays.copyOf(times, timed);
            java.util.Arrays.sort(sorted);
            return sorted[timed / 2] / 1e9;
        }

        @Override
        public Map<String, String> save() {
            return Map.of("watch.status", status.name(), "watch.done", Integer.toString(done), "watch.loss_sum", RunControl.hex(lossSum),
                    "watch.curve", RunControl.hex(curve), "watch.eval_steps", RunControl.hex(evalSteps.stream().map(Integer::doubleValue).toList()),
                    "watch.eval_accuracy", RunControl.hex(evalAccuracy), "watch.seconds_per_step", RunControl.hex(medianSeconds()));
        }

        @Override
        public void restore(Map<String, String> meta) {
            status = Status.valueOf(meta.get("watch.status"));
            done = Integer.parseInt(meta.get("watch.done"));
            lossSum = RunControl.unhex(meta.get("watch.loss_sum"))[0];
            curve.clear();
            curve.addAll(RunControl.unhexList(meta.get("watch.curve")));
            evalSteps.clear();
            for (double v : RunControl.unhexList(meta.get("watch.eval_steps"))) evalSteps.add((int) v);
            evalAccuracy.clear();
            evalAccuracy.addAll(RunControl.unhexList(meta.get("watch.eval_accuracy")));
            String sec = meta.get("watch.seconds_per_step"); // absent in checkpoints written before it was recorded
            savedSeconds = sec == null ? Double.NaN : RunControl.unhex(sec)[0];
            last = System.nanoTime();
        }
    }

    /** How the experiments train a model: SGD at {@code lr} (momentum 0: plain), {@code steps} batches of {@code batch}, flat or image inputs. */
    public record Recipe(double lr, double momentum, int steps, int batch, boolean flat) {}

    /** A trained model and how its run ended. */
    public record Trained(Sequential model, Outcome outcome) {}

    /**
     * Builds a model and trains it by {@code r}, both from {@code seed}: {@code Rng(seed)} splits into the generator that
     * builds the model and then the one that orders the batches, so every variant of a seed sees the same batches.
     */
    public static Trained train(long seed, java.util.function.Function<Rng, Sequential> build, Recipe r, Dataset train, Dataset test) {
        Rng root = new Rng(seed);
        Rng init = root.split(), shuffle = root.split();
        Sequential model = build.apply(init);
        return new Trained(model, train(model, sgd(model, r.lr(), r.momentum()), train, test, r.steps(), r.batch(), shuffle, r.flat()));
    }

    /** Every pair (a, b) as {@code f(a, b)}, a outer, b inner: the settings of a two-way sweep. */
    public static <A, B, V> List<V> grid(List<A> as, List<B> bs, java.util.function.BiFunction<A, B, V> f) {
        List<V> out = new ArrayList<>();
        for (A a : as) for (B b : bs) out.add(f.apply(a, b));
        return out;
    }

    /** The values as a list. */
    public static List<Double> list(double[] xs) {
        return java.util.Arrays.stream(xs).boxed().toList();
    }

    /** One task of a sweep: a setting and a seed in, one run's result out. */
    @FunctionalInterface
    public interface Task<S, C> {
        C run(S setting, long seed) throws Exception;
    }

    /**
     * Runs {@code task} for every setting and every seed of {@code s} (settings outer, seeds inner) on the threads of
     * {@code s} ({@link #parallel}); the results, in that order, with the data they used. Under a session with
     * {@link RemoteRuns} (--spark) the runs train there first and then resume here from their done checkpoints.
     */
    public static <S, C> Results<C> sweep(Dataset train, Dataset test, List<S> settings, Settings s, Task<S, C> task) {
        return sweep("run", train, test, settings, s, task);
    }

    /**
     * {@link #sweep(Dataset, Dataset, List, Settings, Task)} whose run keys (checkpoint names) start with {@code keyPrefix}:
     * an experiment that sweeps twice (a second sweep that depends on the first's results) gives each its own prefix,
     * so a resumed run never takes one sweep's checkpoint for the other's.
     */
    public static <S, C> Results<C> sweep(String keyPrefix, Dataset train, Dataset test, List<S> settings, Settings s, Task<S, C> task) {
        List<Callable<C>> tasks = new ArrayList<>();
        List<String> keys = new ArrayList<>();
        for (S x : settings) {
            for (long seed : s.seeds()) {
                String key = String.format(java.util.Locale.ROOT, "%s-%03d", keyPrefix, tasks.size());
                keys.add(key);
                tasks.add(() -> RunControl.withKey(key, () -> task.run(x, seed)));
            }
        }
        RunControl.Session session = RunControl.session();
        if (session != null) session.runsTotal.addAndGet(tasks.size());
        if (session != null && session.only() != null) {
            // A worker (SweepWorker): its run alone, then the experiment ends; an earlier sweep's runs resume from the
            // done checkpoints the worker was given.
            int i = keys.indexOf(session.only());
            if (i >= 0) {
                parallel(1, List.of(tasks.get(i)));
                throw new RunControl.WorkerDone();
            }
        } else if (session != null && session.remote() != null) {
            // Trained elsewhere (--spark); each run below then resumes from its done checkpoint and ends at once.
            try {
                session.trainRemotely(keys);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("cannot write the checkpoint: " + e.getMessage(), e);
            }
        }
        return new Results<>(train, test, parallel(s.threads(), tasks));
    }

    /** What an experiment's training step leaves: its data and one result per run, in submission order. */
    public record Results<C>(Dataset train, Dataset test, List<C> runs) {
        /** "name (N training / M test images)", for summary.json. */
        public String describe(String name) {
            return name + " (" + train.n + " training / " + test.n + " test images)";
        }
    }

    /** Whether every parameter and buffer (running statistics) of {@code m} is finite. */
    public static boolean finiteParameters(Module m) {
        for (Tensor t : m.stateTensors().values()) for (float v : t.data) if (!Float.isFinite(v)) return false;
        return true;
    }

    /** How the paper's MLP's weights are drawn: N(0, std²), He (Kaiming) normal, or Xavier (Glorot) normal. */
    public record WeightInit(String name, double std) {
        public static WeightInit normal(double std) {
            return new WeightInit("N(0, " + RunOutput.num(std) + "²)", std);
        }

        public static final WeightInit HE = new WeightInit("He", 0);
        public static final WeightInit XAVIER = new WeightInit("Xavier", 0);

        void apply(Tensor w, Rng rng) {
            switch (name) {
                case "He" -> Init.kaimingNormal(w, rng);
                case "Xavier" -> Init.xavierNormal(w, 1.0, rng);
                default -> Init.normal(w, std, rng);
            }
        }
    }

    /** The paper's MNIST MLP (sigmoid, 784-100-100-100-10), with or without BN, weights drawn as {@code init} says. */
    public static Sequential mlp(boolean bn, WeightInit init, Rng rng) {
        Sequential m = MnistMlp.build(bn, 1.0, rng);
        for (Module l : m.layers()) if (l instanceof Linear lin) init.apply(lin.weight.value, rng);
        return m;
    }

    /**
     * The small CNN ({@link SmallCnn}, 8 and 16 channels) with normalization {@code norm}. BatchRenorm's schedule is the
     * paper's (Ioffe 2017, §4) scaled to a run of {@code steps}: plain BN for the first 10 %, then rmax → 3 by 80 % and
     * dmax → 5 by 50 % (the paper: 5k, 40k, 25k steps of a much longer run), so short runs use renormalization too.
     */
    public static Sequential cnn(SmallCnn.Norm norm, int steps, Rng rng) {
        Sequential m = SmallCnn.build(norm, 8, 16, rng);
        if (norm != SmallCnn.Norm.BATCH_RENORM) return m;
        BatchRenorm.Schedule s = new BatchRenorm.Schedule(steps / 10, 3, steps * 8L / 10, 5, steps / 2);
        return (Sequential) LayerTypes.rebuild(m, x -> x instanceof BatchRenorm b
                ? new BatchRenorm(b.numFeatures, b.eps, b.momentum, b.affine, s) : null);
    }

    /** SGD with momentum 0.9 (the CNN experiments) or plain SGD (the paper's MLP). */
    public static Optimizer sgd(Module m, double lr, double momentum) {
        return momentum == 0 ? new SGD(m.parameters(), lr) : new SGD(m.parameters(), lr, momentum, false, 0, false);
    }

    /** Seeds {@code first, first+1, …} ({@code n} of them). */
    public static List<Long> seeds(long first, int n) {
        List<Long> s = new ArrayList<>();
        for (int i = 0; i < n; i++) s.add(first + i);
        return s;
    }

    /** Mean accuracies of a list of outcomes as a {@link Spread}. */
    public static Spread accuracy(List<Outcome> os) {
        return Spread.of(os.stream().mapToDouble(Outcome::accuracy).toArray());
    }

}
