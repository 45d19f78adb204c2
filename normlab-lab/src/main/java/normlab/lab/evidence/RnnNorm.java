package normlab.lab.evidence;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import normlab.data.Dataset;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.optim.Adam;
import normlab.rnn.LSTM;
import normlab.rnn.LastStep;
import normlab.rnn.NormLSTM;
import normlab.rnn.Unflatten;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.train.Evaluation;
import normlab.train.Trainer;
import org.knowm.xchart.XYChart;

/**
 * Normalized LSTMs on sequential MNIST: each image is a sequence of T = 784 / chunk steps of {@code chunk} pixels
 * (chunk 28: T = 28; chunk 4: T = 196), classified from the last hidden state (Unflatten → cell → LastStep → Linear).
 * The pixels are read in a fixed random order ({@code --order permuted}, the default: permuted sequential MNIST as in
 * Cooijmans et al. 2017, one permutation drawn from seed {@value #PERMUTATION_SEED} for every cell and seed) or row by
 * row ({@code --order rows}). The permuted order is the one where the BN claim can show: row by row, MNIST's blank
 * top and bottom rows give steps whose inputs have no spread over the batch, so their per-step running variances are
 * ≈ 0 and evaluation divides any ink there by ≈ √ε (measured in the first full run); permuted, every step carries
 * about 28·19 % ink pixels with spread (the per-step running variances are recorded in running_variances.csv). At
 * t = 0 the recurrent term W_hh·h_0 is exactly 0 (h_0 = 0) in training and evaluation alike, so its normalization
 * outputs exactly 0 whatever its statistics, and the gradient it receives reaches nothing (h_0 is a constant). Cells: a plain LSTM (none), LayerNorm-LSTM (Ba et al. 2016), BatchNorm-LSTM
 * with statistics per time step (Cooijmans et al. 2017) and the naive BatchNorm-LSTM with one set of statistics shared
 * by all steps. Adam, the same batches for every cell of a seed. Measured: test accuracy every {@code evalEvery} steps
 * (curves), and on a test batch in evaluation mode the per-step mean and variance of the recurrent pre-activations
 * W_hh·h_{t−1} (the quantity whose statistics the shared set has to stand in for at every step).
 *
 * <p>The two BN cells train identically (both normalize each step by its own batch statistics; only the running
 * averages they keep for evaluation differ), so for a seed their test accuracies are a paired comparison of per-step
 * against shared inference statistics. That is the contrast the claim allows in a recurrent cell: the batch statistics
 * of W_hh·h_{t−1} over (batch, time) jointly do not exist before step t is normalized (h_t depends on them), so any
 * BN-LSTM that trains step by step normalizes with per-step batch statistics, and what "shared statistics" can change
 * is the population statistics used at inference (the naive BN-LSTM: one BatchNorm1d reused at every step).
 *
 * <p>Small batches ({@link Params#smallBatches}): LN-LSTM and per-step BN-LSTM are trained again at smaller batches
 * on the images of the main runs' first {@code sweepSteps} steps, with lr ∝ batch (as batch-sweep does), and tested at the end. LN's
 * statistics are per sample, so the batch changes only the gradient noise; per-step BN's are estimated from the b
 * values of each step's batch, so at b = 4 training normalizes with noisy statistics and evaluation uses running
 * averages of them. The BN cells are also tested with every test batch normalized by its own statistics, which tells
 * whether a loss sits in the weights or in the running statistics.
 *
 * <p>A run whose loss or gradient turns non-finite is stopped and measured as it is (runs.csv says where). This is what
 * BN-LSTMs do with {@code --order rows --chunk 4} (196 steps): MNIST's blank top rows make the first ~50–100 steps
 * identical across the batch, and BN of a pre-activation with no spread over the batch has derivative γ/√ε (31.6 at
 * γ = 0.1, ε = 1e-5) per step, which backpropagation through that prefix multiplies until it overflows at the first
 * step. Permuted, the 196-step variant trains, but a step whose 4 pixels are blank in every training image still has
 * no spread (its running variance decays toward 0).
 */
public final class RnnNorm extends Evidence<RnnNorm.Params, Runs.Results<RnnNorm.Cell>> {
    public static final String NAME = "rnn";
    /** Seed of the fixed pixel permutation of {@code --order permuted} (the same for every cell and seed). */
    public static final long PERMUTATION_SEED = 2017;

    /** The order in which the 784 pixels are fed. */
    public enum Order {
        ROWS("rows"), PERMUTED("permuted");

        public final String id;

        Order(String id) {
            this.id = id;
        }

        static Order of(String id) {
            for (Order o : values()) if (o.id.equals(id)) return o;
            throw new IllegalArgumentException("--order must be rows or permuted, got '" + id + "'");
        }
    }

    /** The cells compared, in chart order. */
    public enum Variant {
        NONE("LSTM"), LN("LN-LSTM"), BN("BN-LSTM per-step"), BN_SHARED("BN-LSTM shared");

        public final String label;

        Variant(String label) {
            this.label = label;
        }
    }

    /**
     * {@code smallBatches}: the batches below {@code batch} at which LN-LSTM and per-step BN-LSTM are trained again for the
     * small-batch claim, on the images of {@code sweepSteps} steps of {@code batch} ({@code sweepSteps·batch/b} steps of
     * b) with the learning rate scaled with the batch, lr·b/batch (as batch-sweep does), and tested once at the end. Their
     * reference at {@code batch} is the main runs' test accuracy at step {@code sweepSteps} (an evaluation step): Adam
     * at a constant rate has no schedule, so that is exactly the accuracy of a run of {@code sweepSteps} steps.
     */
    public record Params(Order order, int chunk, int hidden, int steps, int batch, double lr, int trainSize, int testSize, int evalEvery,
                         int[] smallBatches, int sweepSteps) {
        public Params {
            smallBatches = smallBatches.clone();
            if (smallBatches.length > 0 && (sweepSteps <= 0 || sweepSteps > steps || sweepSteps % evalEvery != 0)) {
                throw new IllegalArgumentException("rnn: the small-batch sweep's budget must be a multiple of " + evalEvery + " steps up to " + steps
                        + ", got " + sweepSteps);
            }
            for (int b : smallBatches) {
                if (b <= 0 || b >= batch) throw new IllegalArgumentException("rnn: small batches must lie in 1.." + (batch - 1) + ", got " + b);
                if ((long) sweepSteps * batch % b != 0) throw new IllegalArgumentException("rnn: small batch " + b + " does not divide " + sweepSteps + "·" + batch + " images");
            }
        }

        /** The parameters without the small-batch sweep. */
        public Params(Order order, int chunk, int hidden, int steps, int batch, double lr, int trainSize, int testSize, int evalEvery) {
            this(order, chunk, hidden, steps, batch, lr, trainSize, testSize, evalEvery, new int[0], 0);
        }

        /** The defaults: permuted order, 28 pixels per step. */
        public static Params of(boolean quick) {
            return of(quick, Order.PERMUTED, 28);
        }

        public static Params of(boolean quick, Order order, int chunk) {
            return quick ? new Params(order, chunk, 16, 100, 32, 0.01, 3_200, 500, 25, new int[] {4}, 100)
                    : new Params(order, chunk, 64, 1_500, 64, 0.001, 0, 0, 250, new int[] {4}, 500);
        }

        /** Steps of the small-batch sweep at batch b: the images of {@code sweepSteps} steps of {@code batch}. */
        public int steps(int b) {
            return (int) ((long) sweepSteps * batch / b);
        }

        /** The learning rate at batch b: lr·b/batch. */
        public double lr(int b) {
            return lr * b / batch;
        }

        /** The parameters for {@code --order} and {@code --chunk} as given in {@code s}. */
        static Params of(Settings s) {
            Order order = Order.of(s.option("--order", "permuted"));
            String c = s.option("--chunk", "28");
            int chunk;
            try {
                chunk = Integer.parseInt(c.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--chunk must be a whole number of pixels per step dividing 784 (28: 28 steps, 4: 196 steps), got '" + c + "'");
            }
            if (chunk <= 0 || 784 % chunk != 0) {
                throw new IllegalArgumentException("--chunk must be a number of pixels per step dividing 784 (28: 28 steps, 4: 196 steps), got " + chunk);
            }
            return of(s.quick(), order, chunk);
        }

        public int length() {
            return 784 / chunk;
        }
    }

    /**
     * One run: cell, seed, test accuracy after every evaluation, recurrent pre-activation mean and variance per step, the
     * step at which a non-finite loss or gradient stopped it (0: it finished), its batch, and (BN cells) the final test
     * accuracy when every test batch of {@value #BATCH_STAT_EVAL} is normalized by its own batch statistics instead of the
     * running ones (NaN for the other cells). A stopped run is measured as it is.
     */
    public record Cell(Variant variant, long seed, int[] evalSteps, double[] accuracy, double[] hhMean, double[] hhVar, double sharedRunningVar,
                       int divergedAt, RunningVar runningVar, int batch, double batchStatAccuracy) {
        double last() {
            return accuracy[accuracy.length - 1];
        }

        /** Mean test accuracy over the evaluations (the area under the curve: higher = trained faster). */
        double area() {
            double s = 0;
            for (double a : accuracy) s += a;
            return s / accuracy.length;
        }
    }

    /**
     * The BN cells' running variances at the end of a run, per statistics slot s (T slots per-step, 1 shared): over the
     * units, the mean and the minimum, for norm_ih (W_ih·x) and norm_hh (W_hh·h); null for the other cells.
     */
    public record RunningVar(double[] ihMean, double[] ihMin, double[] hhMean, double[] hhMin) {
        static RunningVar of(Module m) {
            if (!(m instanceof NormLSTM n) || n.kind == NormLSTM.Kind.LAYER) return null;
            var b = n.namedBuffers();
            double[][] ih = perSlot(b.get("norm_ih.running_var")), hh = perSlot(b.get("norm_hh.running_var"));
            return new RunningVar(ih[0], ih[1], hh[0], hh[1]);
        }

        private static double[][] perSlot(Tensor v) {
            int slots = v.dim(0), c = v.dim(1);
            double[][] out = new double[2][slots];
            for (int s = 0; s < slots; s++) {
                double sum = 0, min = Double.POSITIVE_INFINITY;
                for (int j = 0; j < c; j++) {
                    sum += v.data[s * c + j];
                    min = Math.min(min, v.data[s * c + j]);
                }
                out[0][s] = sum / c;
                out[1][s] = min;
            }
            return out;
        }

        /**
         * The smallest per-unit running variance over the slots, norm_ih's and norm_hh's, leaving out norm_hh's slot 0
         * when there are several (W_hh·h_0 = 0 exactly: its variance is 0 by construction and harmless, see the class
         * comment).
         */
        double min() {
            double m = Double.POSITIVE_INFINITY;
            for (double v : ihMin) m = Math.min(m, v);
            for (int s = hhMin.length > 1 ? 1 : 0; s < hhMin.length; s++) m = Math.min(m, hhMin[s]);
            return m;
        }
    }

    public RnnNorm() {
        super(NAME, "Normalized LSTMs on sequential MNIST", "LSTM vs LN-LSTM vs BN-LSTM (per-step / shared statistics) on sequential MNIST",
                "Sequential MNIST (by default permuted: the 784 pixels in one fixed random order, permutation seed " + PERMUTATION_SEED
                        + ", fed 28 per step, 28 steps) with a plain LSTM, LayerNorm-LSTM, BatchNorm-LSTM with per-time-step statistics and "
                        + "BatchNorm-LSTM with one shared set: test-accuracy curves, the per-step statistics of the recurrent "
                        + "pre-activations and the per-step running variances; then LN-LSTM and per-step BN-LSTM again at smaller batches "
                        + "(batch 4, on the images of the main runs' first 500 steps, lr ∝ batch): test accuracy against the batch.", (Settings s) -> Params.of(s));
    }

    @Override
    public List<Experiment.Option> options() {
        return List.of(new Experiment.Option("--order", "ORDER", "permuted",
                        "Pixel order: permuted (one fixed random permutation, seed " + PERMUTATION_SEED + ") or rows (row-major)"),
                new Experiment.Option("--chunk", "N", "28", "Pixels per time step, a divisor of 784 (28: 28 steps; 4: 196 steps)"));
    }

    /** The fixed pixel order of {@code --order permuted}: a Fisher–Yates shuffle of 0..783 from {@link #PERMUTATION_SEED}. */
    public static int[] permutation() {
        int[] p = Dataset.range(0, 784);
        new Rng(PERMUTATION_SEED).shuffle(p);
        return p;
    }

    /** {@code d} with its pixels in the order of {@code p}. */
    public static Dataset ordered(Dataset d, Params p) {
        return p.order() == Order.ROWS ? d : d.permutePixels(permutation(), "/permuted");
    }

    /** The classifier: (N, 784) → Unflatten(T, chunk) → cell → LastStep → Linear(H, 10). */
    public static Sequential build(Variant c, Params p, Rng rng) {
        int t = p.length(), h = p.hidden();
        Module cell = switch (c) {
            case NONE -> new LSTM(p.chunk(), h, rng);
            case LN -> new NormLSTM(NormLSTM.Kind.LAYER, p.chunk(), h, 0, true, rng);
            case BN -> new NormLSTM(NormLSTM.Kind.BATCH, p.chunk(), h, t, true, rng);
            case BN_SHARED -> new NormLSTM(NormLSTM.Kind.BATCH_SHARED, p.chunk(), h, 0, true, rng);
        };
        return new Sequential(new Unflatten(t, p.chunk()), cell, new LastStep(), new Linear(h, 10, rng));
    }

    /** The test batch whose own statistics {@link Cell#batchStatAccuracy} normalizes with. */
    public static final int BATCH_STAT_EVAL = 100;

    /** A setting of the small-batch sweep: a cell trained at batch b. */
    record SmallBatch(Variant variant, int batch) {}

    @Override
    public Runs.Results<Cell> train(Params p, Settings s) throws IOException {
        Dataset train = ordered(Runs.data("mnist", true, p.trainSize()), p), test = ordered(Runs.data("mnist", false, p.testSize()), p);
        List<Variant> cells = List.of(Variant.values());
        List<Cell> all = new ArrayList<>(Runs.sweep(train, test, cells, s,
                (c, seed) -> run(c, seed, p, p.batch(), p.lr(), p.steps(), p.evalEvery(), train, test, s)).runs());
        // The small-batch sweep (own checkpoint keys): LN and per-step BN for as many images, lr ∝ batch, tested at the end.
        List<SmallBatch> small = new ArrayList<>();
        for (int b : p.smallBatches()) for (Variant v : List.of(Variant.LN, Variant.BN)) small.add(new SmallBatch(v, b));
        if (!small.isEmpty()) {
            all.addAll(Runs.sweep("batch", train, test, small, s,
                    (c, seed) -> run(c.variant(), seed, p, c.batch(), p.lr(c.batch()), p.steps(c.batch()), p.steps(c.batch()), train, test, s)).runs());
        }
        return new Runs.Results<>(train, test, all);
    }

    /** One run of cell {@code c} at batch {@code batch}: {@code steps} Adam steps at {@code lr}, tested every {@code evalEvery}. */
    private static Cell run(Variant c, long seed, Params p, int batch, double lr, int steps, int evalEvery, Dataset train, Dataset test,
                            Settings s) throws IOException {
        Rng root = new Rng(seed);
        Rng init = root.split(), shuffle = root.split();
        Sequential model = build(c, p, init);
        List<Integer> at = new ArrayList<>();
        List<Double> acc = new ArrayList<>();
        int[] diverged = {0};
        Trainer tr = new Trainer(model, new Adam(model.parameters(), lr), train, batch, shuffle, true);
        Trainer.Listener watch = new Trainer.Listener() {
            @Override
            public void onEval(int step, double trainLoss, Evaluation e) {
                at.add(step);
                acc.add(e.accuracy());
            }

            @Override
            public void onStep(int step, float loss) {
                if (!Float.isFinite(loss) || !Runs.finiteParameters(model)) diverged[0] = step;
            }

            /** The trainer refused a step with a non-finite gradient (weights kept): the run ends here. */
            @Override
            public void onNonFinite(normlab.train.NonFiniteException e) {
                diverged[0] = tr.steps() + 1;
            }

            @Override
            public boolean stop() {
                return diverged[0] != 0;
            }
        };
        // The run's own records go into its checkpoints (exact bits), so a resumed run ends as an uninterrupted one.
        RunControl.State records = new RunControl.State() {
            public java.util.Map<String, String> save() {
                return java.util.Map.of("rnn.at", RunControl.hex(at.stream().map(Integer::doubleValue).toList()), "rnn.acc", RunControl.hex(acc),
                        "rnn.diverged", Integer.toString(diverged[0]));
            }

            public void restore(java.util.Map<String, String> meta) {
                at.clear();
                for (double v : RunControl.unhex(meta.get("rnn.at"))) at.add((int) v);
                acc.clear();
                acc.addAll(RunControl.unhexList(meta.get("rnn.acc")));
                diverged[0] = Integer.parseInt(meta.get("rnn.diverged"));
            }
        };
        RunControl.fit(tr, RunControl.key(), steps, evalEvery, test, null, watch, records);
        if (diverged[0] != 0) {
            // measured as it stopped: one more evaluation at the stopping point
            Evaluation ev = Trainer.evaluate(model, test, true, null, 200);
            at.add(diverged[0]);
            acc.add(ev.accuracy());
        }
        double[][] mom = recurrentMoments(model, test, p);
        double shared = Double.NaN;
        if (model.get(1) instanceof NormLSTM n && n.kind == NormLSTM.Kind.BATCH_SHARED) {
            shared = mean(n.namedBuffers().get("norm_hh.running_var").data);
        }
        double batchStat = c == Variant.BN || c == Variant.BN_SHARED ? batchStatAccuracy(model, test) : Double.NaN;
        Cell out = new Cell(c, seed, at.stream().mapToInt(Integer::intValue).toArray(), acc.stream().mapToDouble(Double::doubleValue).toArray(),
                mom[0], mom[1], shared, diverged[0], RunningVar.of(model.get(1)), batch, batchStat);
        s.say("  rnn %-17s batch %2d seed %d: test accuracy %s (%s)%s", c.label, batch, seed, RunOutput.pct(out.last()),
                diverged[0] == 0 ? "after " + steps + " steps" : "non-finite gradient at step " + diverged[0] + ", stopped",
                out.runningVar() == null ? "" : String.format(Locale.ROOT, "; smallest running variance %.3g; with test-batch statistics %s",
                        out.runningVar().min(), RunOutput.pct(batchStat)));
        return out;
    }

    /**
     * Test accuracy of a BN cell when each test batch of {@value #BATCH_STAT_EVAL} images is normalized, step by step, by
     * its own batch statistics (training-mode normalization, as in training) instead of the running averages; the running
     * statistics are restored afterwards. Set beside the usual accuracy it separates the two ways small training batches
     * can hurt: worse weights (both low) or running statistics that do not fit the weights (only the usual one low).
     */
    static double batchStatAccuracy(Sequential model, Dataset test) {
        java.util.Map<String, Tensor> live = model.stateTensors(), saved = new java.util.LinkedHashMap<>();
        live.forEach((k, v) -> saved.put(k, v.copy()));
        boolean was = model.isTraining();
        int correct = 0;
        try {
            model.train();
            for (int from = 0; from < test.n; from += BATCH_STAT_EVAL) {
                int[] idx = Dataset.range(from, Math.min(test.n, from + BATCH_STAT_EVAL));
                correct += Trainer.countCorrect(model.forward(test.batchFlat(idx)), test.labels(idx));
            }
        } finally {
            saved.forEach((k, v) -> live.get(k).copyFrom(v));
            model.setTraining(was);
        }
        return (double) correct / test.n;
    }

    /**
     * Per time step, the mean over units of the batch mean and of the batch variance of W_hh·h_{t−1} on the first 256
     * test images in evaluation mode (NaN for the plain LSTM, whose cell does not keep them).
     */
    static double[][] recurrentMoments(Sequential model, Dataset test, Params p) {
        int n = Math.min(256, test.n), t = p.length();
        double[][] out = new double[2][t];
        java.util.Arrays.fill(out[0], Double.NaN);
        java.util.Arrays.fill(out[1], Double.NaN);
        if (!(model.get(1) instanceof NormLSTM cell)) return out;
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) idx[i] = i;
        Tensor x = test.batchFlat(idx);
        boolean was = model.isTraining();
        model.eval();
        model.forward(x);
        double[][] m = cell.recurrentMoments();
        for (int s = 0; s < t; s++) {
            out[0][s] = m[s][0];
            out[1][s] = m[s][1];
        }
        model.setTraining(was);
        return out;
    }

    private static double mean(float[] a) {
        double s = 0;
        for (float v : a) s += v;
        return s / a.length;
    }

    @Override
    public RunOutput publish(Params p, Settings s, Runs.Results<Cell> runs) {
        List<Cell> all = runs.runs().stream().filter(c -> c.batch() == p.batch()).toList();
        RunOutput out = output(s, runs, "mnist", "sequence", p.length() + " steps of " + p.chunk() + " pixels, "
                        + (p.order() == Order.ROWS ? "row by row" : "in one fixed random pixel order (permutation seed " + PERMUTATION_SEED + ")"),
                "model", "Unflatten → cell (hidden " + p.hidden() + ") → last step → Linear(" + p.hidden() + ", 10)",
                "optimizer", "Adam, lr " + p.lr(), "steps", p.steps(), "batch", p.batch(), "eval_every", p.evalEvery());
        out.table("runs.csv", "cell", "seed", "step", "test_accuracy", "stopped_non_finite_at");
        for (Cell c : all) {
            for (int i = 0; i < c.accuracy().length; i++) {
                out.row("runs.csv", c.variant().name().toLowerCase(Locale.ROOT), c.seed(), c.evalSteps()[i], c.accuracy()[i], c.divergedAt());
            }
        }
        long stopped = all.stream().filter(c -> c.divergedAt() != 0).count();
        out.results.addProperty("runs_stopped_non_finite", stopped);
        out.table("recurrent_preactivations.csv", "cell", "seed", "t", "mean_Whh_h", "var_Whh_h");
        for (Cell c : all) {
            if (c.variant() == Variant.NONE) continue;
            for (int t = 0; t < c.hhMean().length; t++) out.row("recurrent_preactivations.csv", c.variant().name().toLowerCase(Locale.ROOT), c.seed(), t, c.hhMean()[t], c.hhVar()[t]);
        }
        out.table("running_variances.csv", "cell", "seed", "slot", "norm_ih_mean", "norm_ih_min", "norm_hh_mean", "norm_hh_min");
        for (Cell c : all) {
            RunningVar v = c.runningVar();
            if (v == null) continue;
            for (int t = 0; t < v.ihMean().length; t++) {
                out.row("running_variances.csv", c.variant().name().toLowerCase(Locale.ROOT), c.seed(), t, v.ihMean()[t], v.ihMin()[t], v.hhMean()[t], v.hhMin()[t]);
            }
        }
        double minPerStep = of(all, Variant.BN).stream().filter(c -> c.runningVar() != null).mapToDouble(c -> c.runningVar().min()).min().orElse(Double.NaN);
        out.results.addProperty("bn_smallest_running_var", minPerStep);
        Variant[] cells = Variant.values();
        Spread[] last = new Spread[cells.length], area = new Spread[cells.length];
        XYChart curve = Charts.xy("Test accuracy during training", "step", "test accuracy", false);
        for (int k = 0; k < cells.length; k++) {
            List<Cell> mine = of(all, cells[k]);
            // The curve over the runs that finished (a stopped run has fewer, other evaluation steps); the final
            // accuracy and the area below count every run as measured.
            List<Cell> done = mine.stream().filter(c -> c.divergedAt() == 0).toList();
            int evals = done.isEmpty() ? 0 : done.get(0).accuracy().length;
            double[] x = new double[evals];
            Spread[] y = new Spread[evals];
            for (int i = 0; i < evals; i++) {
                int ii = i;
                x[i] = done.get(0).evalSteps()[i];
                y[i] = Spread.of(done.stream().mapToDouble(c -> c.accuracy()[ii]).toArray());
            }
            Charts.series(curve, cells[k].label + (done.size() < mine.size() ? " (" + (mine.size() - done.size()) + " stopped)" : ""), x, y, k,
                    cells[k] == Variant.BN_SHARED);
            last[k] = Spread.of(mine.stream().mapToDouble(Cell::last).toArray());
            area[k] = Spread.of(mine.stream().mapToDouble(Cell::area).toArray());
            String key = cells[k].name().toLowerCase(Locale.ROOT);
            out.results.addProperty(key + "_final_accuracy_mean", last[k].mean());
            out.results.addProperty(key + "_mean_accuracy_over_curve", area[k].mean());
        }
        out.chart("rnn_accuracy", "Test accuracy every " + p.evalEvery() + " steps, mean ± s.d. over " + s.seeds().size() + " seeds ("
                + p.length() + " steps of " + p.chunk() + " pixels). BN-LSTM shared trains as per-step (same batch statistics) and "
                + "differs only in the running statistics used for evaluation.", curve);
        int tt = p.length();
        double[] steps = new double[tt];
        for (int t = 0; t < tt; t++) steps[t] = t;
        XYChart var = Charts.xy("Recurrent pre-activations W_hh·h per time step (test batch)", "time step t", "mean / variance over the batch", false);
        Spread[] perMean = new Spread[tt], perVar = new Spread[tt], runVar = new Spread[tt];
        List<Cell> bn = of(all, Variant.BN), shared = of(all, Variant.BN_SHARED);
        for (int t = 0; t < tt; t++) {
            int tq = t;
            perMean[t] = Spread.of(bn.stream().mapToDouble(c -> c.hhMean()[tq]).toArray());
            perVar[t] = Spread.of(bn.stream().mapToDouble(c -> c.hhVar()[tq]).toArray());
            runVar[t] = Spread.of(shared.stream().mapToDouble(Cell::sharedRunningVar).toArray());
        }
        Charts.series(var, "batch mean (BN per-step model)", steps, perMean, 0, false);
        Charts.series(var, "batch variance (BN per-step model)", steps, perVar, 1, false);
        Charts.series(var, "shared running variance (BN shared model)", steps, runVar, 3, true);
        out.chart("rnn_recurrent_stats", "Mean over units of the batch mean and variance of W_hh·h_{t−1} at each step (256 test images, "
                + "evaluation mode), mean ± s.d. over seeds; dashed: the one running variance the shared model uses at every step. "
                + "At t = 0, h = 0 and W_hh·h has no spread.", var);
        out.claim(lnFaster(area[Variant.LN.ordinal()], area[Variant.NONE.ordinal()]));
        out.claim(perStepNeeded(last[Variant.BN.ordinal()], last[Variant.BN_SHARED.ordinal()], perVar, runVar,
                of(all, Variant.BN).stream().filter(c -> c.divergedAt() != 0).count(), of(all, Variant.BN_SHARED).stream().filter(c -> c.divergedAt() != 0).count(),
                minPerStep));
        if (p.smallBatches().length > 0) publishSmallBatches(out, p, s, runs.runs());
        return out;
    }

    /** The small-batch sweep: batch_sweep.csv, the accuracy-vs-batch chart and the claim, at the largest and smallest batch. */
    private static void publishSmallBatches(RunOutput out, Params p, Settings s, List<Cell> cells) {
        int[] batches = new int[p.smallBatches().length + 1];
        batches[0] = p.batch();
        System.arraycopy(p.smallBatches(), 0, batches, 1, p.smallBatches().length);
        out.table("batch_sweep.csv", "cell", "batch", "lr", "steps", "seed", "test_accuracy", "test_accuracy_batch_statistics", "stopped_non_finite_at");
        List<Variant> compared = List.of(Variant.LN, Variant.BN);
        for (int b : batches) {
            for (Variant v : compared) {
                for (Cell c : cells) {
                    if (c.variant() == v && c.batch() == b) {
                        out.row("batch_sweep.csv", v.name().toLowerCase(Locale.ROOT), b, p.lr(b), p.steps(b), c.seed(), sweepAccuracy(c, p),
                                b == p.batch() ? Double.NaN : c.batchStatAccuracy(), c.divergedAt());
                    }
                }
            }
        }
        double[] xs = new double[batches.length];
        for (int i = 0; i < batches.length; i++) xs[i] = Math.log(batches[i]) / Math.log(2);
        XYChart chart = Charts.xy("Final test accuracy vs batch (lr ∝ batch, same images)", "batch (log₂)", "test accuracy", false);
        chart.getStyler().setxAxisTickLabelsFormattingFunction(x -> {
            long b = Math.round(Math.pow(2, x));
            return Math.abs(Math.pow(2, x) - b) > 1e-6 ? "" : Long.toString(b);
        });
        for (int k = 0; k < compared.size(); k++) {
            Variant v = compared.get(k);
            Spread[] y = new Spread[batches.length];
            for (int i = 0; i < batches.length; i++) {
                y[i] = Spread.of(accuracies(cells, v, batches[i], s.seeds(), false, p));
                out.results.addProperty(v.name().toLowerCase(Locale.ROOT) + "_batch_" + batches[i] + "_final_accuracy_mean", y[i].mean());
            }
            Charts.series(chart, v.label, xs, y, k + 1, false);
        }
        out.chart("rnn_batch", "Test accuracy of LN-LSTM and per-step BN-LSTM trained at batch " + java.util.Arrays.toString(batches)
                + " on the same " + p.sweepSteps() + "·" + p.batch() + " images (batch " + p.batch() + ": the main runs at step " + p.sweepSteps()
                + "), lr = " + p.lr() + "·B/" + p.batch() + ", mean ± s.d. over " + s.seeds().size() + " seeds.", chart);
        int hi = p.batch(), lo = batches[batches.length - 1];
        List<Long> seeds = s.seeds();
        out.claim(smallBatch(hi, lo, accuracies(cells, Variant.BN, hi, seeds, false, p), accuracies(cells, Variant.BN, lo, seeds, false, p),
                accuracies(cells, Variant.LN, hi, seeds, false, p), accuracies(cells, Variant.LN, lo, seeds, false, p),
                accuracies(cells, Variant.BN, lo, seeds, true, p)));
    }

    /**
     * A cell's test accuracy on the sweep's image budget: a small-batch run's final one; a main run's (at {@code batch})
     * at step {@code sweepSteps} (NaN if it stopped before).
     */
    static double sweepAccuracy(Cell c, Params p) {
        if (c.batch() != p.batch()) return c.last();
        for (int i = 0; i < c.evalSteps().length; i++) if (c.evalSteps()[i] == p.sweepSteps() && c.divergedAt() == 0) return c.accuracy()[i];
        return Double.NaN;
    }

    /** {@link #sweepAccuracy} (or, with {@code batchStats}, the final one with test-batch statistics) of cell v at batch b, per seed in order (NaN where missing). */
    static double[] accuracies(List<Cell> cells, Variant v, int b, List<Long> seeds, boolean batchStats, Params p) {
        double[] a = new double[seeds.size()];
        java.util.Arrays.fill(a, Double.NaN);
        for (Cell c : cells) {
            if (c.variant() == v && c.batch() == b) a[seeds.indexOf(c.seed())] = batchStats ? c.batchStatAccuracy() : sweepAccuracy(c, p);
        }
        return a;
    }

    /**
     * Rule, per seed (paired): Δ = accuracy(batch hi) − accuracy(batch lo), the loss from training at the small batch.
     * HOLDS when BN's Δ shows (an {@link Effect} of ≥ 1 point over ≥ 3 seeds beyond 2 s.e.), Δ_BN − Δ_LN shows likewise,
     * and LN's mean Δ is at most half BN's; PARTLY when either of the first two shows; otherwise DOES_NOT_HOLD. The
     * measurement adds the small-batch BN cells' accuracy with test-batch statistics (where the loss sits: in the weights,
     * or in running statistics that do not fit them). All arrays per seed in the same order.
     */
    public static Claim smallBatch(int hi, int lo, double[] bnHi, double[] bnLo, double[] lnHi, double[] lnLo, double[] bnLoBatchStats) {
        Effect dBn = Effect.paired(bnHi, bnLo), dLn = Effect.paired(lnHi, lnLo);
        Effect gap = Effect.paired(BatchSweep.diff(bnHi, bnLo), BatchSweep.diff(lnHi, lnLo));
        boolean bnDrops = dBn.shows(0.01), bnWorse = gap.shows(0.01), lnFlat = dLn.diff() <= dBn.diff() / 2;
        return new Claim("BN-LSTMs are sensitive to small batches (their statistics are estimated per step from the batch); LN-LSTMs, "
                + "normalized per sample, are not.", "Ba, Kiros & Hinton 2016 (Layer Normalization), §1 and §3; Cooijmans et al. 2017 (Recurrent Batch Normalization)",
                String.format(Locale.ROOT, "test accuracy batch %d → %d (same images, lr ∝ batch): BN-LSTM per-step %s → %s (Δ %s), "
                        + "LN-LSTM %s → %s (Δ %s); Δ_BN − Δ_LN %s; BN at batch %d tested with each test batch of %d normalized by its own "
                        + "statistics instead of the running ones: %s", hi, lo, RunOutput.pct(Spread.of(bnHi)), RunOutput.pct(Spread.of(bnLo)), dBn.points(),
                        RunOutput.pct(Spread.of(lnHi)), RunOutput.pct(Spread.of(lnLo)), dLn.points(), gap.points(), lo, BATCH_STAT_EVAL,
                        RunOutput.pct(Spread.of(bnLoBatchStats))),
                Verdict.of(bnDrops && bnWorse && lnFlat, bnDrops || bnWorse),
                "Δ = accuracy(batch " + hi + ") − accuracy(batch " + lo + ") per seed; " + Effect.rule("1 point")
                        + "; holds if Δ_BN and Δ_BN − Δ_LN both count and mean Δ_LN ≤ ½ mean Δ_BN, partly if either counts");
    }

    private static List<Cell> of(List<Cell> all, Variant c) {
        return all.stream().filter(x -> x.variant() == c).toList();
    }

    /**
     * Rule: "trains faster" is the mean test accuracy over the curve (area). HOLDS when LN's exceeds the plain LSTM's
     * as an {@link Effect} of ≥ 1 point (over ≥ 3 seeds, more than 2 standard errors); PARTLY when it is higher but not
     * by that margin; otherwise DOES_NOT_HOLD.
     */
    public static Claim lnFaster(Spread ln, Spread none) {
        Effect e = Effect.between(ln, none);
        double d = e.diff(), se = e.se();
        return new Claim("Layer normalization makes an LSTM train faster.", "Ba, Kiros & Hinton 2016 (Layer Normalization), §3.1 / §6",
                String.format(Locale.ROOT, "mean test accuracy over the training curve: LN-LSTM %s vs LSTM %s (difference %+.1f points, "
                        + "s.e. %.1f)", RunOutput.pct(ln), RunOutput.pct(none), 100 * d, 100 * se),
                Verdict.of(e.shows(0.01), d > 0),
                "LN's mean accuracy over the curve minus the plain LSTM's; " + Effect.rule("1 point") + "; holds if it counts; partly if above but not by that");
    }

    /**
     * Rule: HOLDS when BN with per-step statistics ends above BN with shared statistics by an {@link Effect} of ≥ 1 point
     * (the two train identically, so the gap is the inference statistics); PARTLY when it is higher but not by that
     * margin; otherwise DOES_NOT_HOLD. The measurement also reports how far the shared running variance is from the
     * per-step batch variances (first and last step) and how many runs a non-finite gradient stopped (their accuracy
     * counts as measured when they stopped).
     */
    public static Claim perStepNeeded(Spread perStep, Spread shared, Spread[] perStepVar, Spread[] sharedVar, long stoppedPerStep,
                                      long stoppedShared, double smallestRunningVar) {
        Effect e = Effect.between(perStep, shared);
        double d = e.diff(), se = e.se();
        String stopped = stoppedPerStep + stoppedShared == 0 ? ""
                : String.format(Locale.ROOT, "; stopped by a non-finite gradient: %d per-step and %d shared run(s) — BN of a pre-activation "
                        + "with no spread over the batch (blank pixels, identical states) has derivative γ/√ε per step, which "
                        + "backpropagation through a long blank prefix multiplies", stoppedPerStep, stoppedShared);
        int t = perStepVar.length - 1;
        return new Claim("Batch-normalized LSTMs need separate statistics per time step; one set shared by all steps hurts.",
                "Cooijmans et al. 2017 (Recurrent Batch Normalization), §3–4",
                String.format(Locale.ROOT, "final test accuracy: per-step %s vs shared %s (difference %+.1f points, s.e. %.1f); "
                        + "Var(W_hh·h) over the batch %.3g at t = 0 and %.3g at t = %d vs the shared running variance %.3g",
                        RunOutput.pct(perStep), RunOutput.pct(shared), 100 * d, 100 * se, perStepVar[0].mean(), perStepVar[t].mean(), t,
                        sharedVar[0].mean())
                        + String.format(Locale.ROOT, "; smallest per-unit running variance of the per-step model (over steps, norm_ih and "
                                + "norm_hh, t = 0 of norm_hh left out) %.3g (ε = %.0e)", smallestRunningVar, NormLSTM.EPS) + stopped,
                Verdict.of(e.shows(0.01), d > 0),
                "per-step BN's final accuracy minus shared BN's; " + Effect.rule("1 point") + "; holds if it counts; partly if above but not by that");
    }
}
