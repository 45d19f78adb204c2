package normlab.lab.evidence;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.IntFunction;
import normlab.data.Dataset;
import normlab.io.LayerTypes;
import normlab.models.ResNet;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm1d;
import normlab.norm.BatchNorm2d;
import normlab.norm.BatchRenorm;
import normlab.norm.GhostBatchNorm;
import normlab.norm.GroupNorm;
import normlab.norm.LayerNorm;
import normlab.tensor.Rng;
import org.knowm.xchart.XYChart;

/**
 * Small batches (Wu &amp; He 2018, Group Normalization, Fig. 1: BN's error grows as the batch shrinks, GN's stays
 * flat; Ioffe 2017, Batch Renormalization §4.3: Batch Renorm reduces the small-batch loss). What degrades BN is not
 * the batch B itself but m, the number of values each of its statistics is computed from (m = B·positions per
 * channel): the CNN of the first design normalized over ≥ 14×14 positions, so even B = 2 gave m ≥ 392 and nothing
 * could show. Two networks whose m does get small:
 * <ul>
 *   <li>the paper's MLP (784-100-100-100-10, sigmoid, BatchNorm1d: m = B) on MNIST, B ∈ {64, 32, 16, 8, 4, 2}, plain
 *       SGD (the paper's), Xavier-normal weights so the unnormalized reference trains too;</li>
 *   <li>a ResNet-8 (post-activation, widths 8/16/32, stage strides 2/2/2) on Fashion-MNIST whose last stage is 4×4, so
 *       its deepest norms see m = 16·B values (B = 2: 32), B ∈ {32, 16, 8, 4, 2}, SGD with momentum 0.9.</li>
 * </ul>
 * {@code --last-stage 2} gives the ResNet stage strides 2/2/4 instead (28×28 → 14 → 7 → 2): its deepest norms see m =
 * 4·B values (B = 2: 8, where the MLP's BN is already hurt); {@code --nets} runs one of the two networks only.
 * Both train for a fixed number of epochs with the learning rate scaled with the batch, lr = base·B/B₀ (Goyal et al.
 * 2017, as Wu &amp; He do), and are tested in evaluation mode (running statistics, as BN is deployed). Methods:
 * BN; GN with 4 groups; LN and IN as Wu &amp; He define them (GN with 1 group, GN with one channel per group; the MLP
 * uses LayerNorm over its 100 features and has no IN: one value per channel); BatchRenorm (schedule of
 * {@link Runs#cnn}); GhostBN with virtual batch 4 (m = min(B, 4)·positions at every B: a control that shrinks m
 * without shrinking the batch); none.
 */
public final class BatchSweep extends Evidence<BatchSweep.Params, Runs.Results<BatchSweep.Cell>> {
    public static final String NAME = "batch-sweep";
    /** GhostBN's virtual batch. */
    public static final int GHOST = 4;
    /** The ResNet's stage widths and its default strides: 28×28 → 14 → 7 → 4. */
    static final int[] WIDTHS = {8, 16, 32}, STRIDES = {2, 2, 2};
    /** The ResNet's last-stage sides {@code --last-stage} accepts: 4 (strides 2/2/2) or 2 (strides 2/2/4). */
    public static final int LAST_STAGE = 4, SMALL_LAST_STAGE = 2;

    /** The stage strides that give a last stage of {@code side}×{@code side} on 28×28 images. */
    static int[] strides(int side) {
        return switch (side) {
            case LAST_STAGE -> STRIDES.clone();
            case SMALL_LAST_STAGE -> new int[] {2, 2, 4};
            default -> throw new IllegalArgumentException("--last-stage must be 4 (strides 2/2/2) or 2 (strides 2/2/4), got " + side);
        };
    }

    /** A normalization of this experiment and how each network gets it. */
    public enum Method {
        BN("BatchNorm"), GN("GroupNorm"), LN("LayerNorm"), IN("InstanceNorm"), BATCH_RENORM("BatchRenorm"), GHOST_BN("GhostBN(" + GHOST + ")"),
        NONE("none");

        public final String label;

        Method(String label) {
            this.label = label;
        }

        /** The layer after each hidden Linear of the MLP (f features), or null: IN has nothing to normalize there. */
        Module mlpLayer(int f, BatchRenorm.Schedule s) {
            return switch (this) {
                case BN -> new BatchNorm1d(f);
                case GN -> new GroupNorm(4, f);
                case LN -> new LayerNorm(f);
                case BATCH_RENORM -> new BatchRenorm(f, 1e-5, 0.1, true, s);
                case GHOST_BN -> new GhostBatchNorm(f, GHOST);
                case IN, NONE -> null;
            };
        }

        /** The ResNet's norm for c channels: LN = GN(1 group), IN = GN(c groups), as Wu &amp; He. */
        ResNet.Norm resnetNorm(BatchRenorm.Schedule s) {
            IntFunction<Module> f = switch (this) {
                case BN -> BatchNorm2d::new;
                case GN -> c -> new GroupNorm(4, c);
                case LN -> c -> new GroupNorm(1, c);
                case IN -> c -> new GroupNorm(c, c);
                case BATCH_RENORM -> c -> new BatchRenorm(c, 1e-5, 0.1, true, s);
                case GHOST_BN -> c -> new GhostBatchNorm(c, GHOST);
                case NONE -> null;
            };
            return f == null ? ResNet.NONE : new ResNet.Norm(label, f);
        }

        /** Whether the statistics are over the batch (so m depends on B). */
        boolean batchStatistics() {
            return this == BN || this == BATCH_RENORM || this == GHOST_BN;
        }
    }

    /** The two networks. */
    public enum Net {
        MLP("mlp"), RESNET("resnet");

        public final String id;

        Net(String id) {
            this.id = id;
        }

        /** Values per sample and channel in the deepest norm (m = B·positions) with a ResNet last stage of {@code side}×{@code side}. */
        public int positions(int side) {
            return this == MLP ? 1 : side * side;
        }

        public String label(int side) {
            return this == MLP ? "MLP 784-100-100-100-10 (MNIST)" : "ResNet-8, last stage " + side + "×" + side + " (Fashion-MNIST)";
        }

        /** The networks of {@code --nets}: mlp, resnet, or both separated by a comma. */
        static List<Net> of(String ids) {
            List<Net> nets = new ArrayList<>();
            for (String id : ids.split(",", -1)) {
                Net n = Arrays.stream(values()).filter(x -> x.id.equals(id.trim())).findFirst().orElseThrow(() -> new IllegalArgumentException(
                        "--nets must be mlp, resnet or mlp,resnet, got '" + ids + "'"));
                if (nets.contains(n)) throw new IllegalArgumentException("--nets names " + n.id + " twice in '" + ids + "'");
                nets.add(n);
            }
            return nets;
        }
    }

    /** One network's sweep: methods, batches, lr = baseLr·B/baseBatch, epochs over trainSize images. */
    public record Sweep(List<Method> methods, int[] batches, double baseLr, int baseBatch, double momentum, int epochs, int trainSize,
                        int testSize) {
        public Sweep {
            methods = List.copyOf(methods);
            batches = batches.clone();
        }

        double lr(int b) {
            return baseLr * b / baseBatch;
        }
    }

    /**
     * @param mlp       the MLP's sweep, or null to skip it
     * @param resnet    the ResNet's sweep, or null to skip it
     * @param lastStage the side of the ResNet's last stage (4 or 2)
     */
    public record Params(Sweep mlp, Sweep resnet, int lastStage) {
        public Params {
            strides(lastStage);
            if (mlp == null && resnet == null) throw new IllegalArgumentException("batch-sweep: at least one network must run");
        }

        /** Both networks, last stage 4×4. */
        public Params(Sweep mlp, Sweep resnet) {
            this(mlp, resnet, LAST_STAGE);
        }

        /** The sweep of {@code net} (null when it does not run). */
        Sweep sweep(Net net) {
            return net == Net.MLP ? mlp : resnet;
        }

        /** The parameters of {@code --nets} and {@code --last-stage} as given in {@code s}. */
        static Params of(Settings s) {
            List<Net> nets = Net.of(s.option("--nets", "mlp,resnet"));
            String ls = s.option("--last-stage", Integer.toString(LAST_STAGE));
            int side;
            try {
                side = Integer.parseInt(ls.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--last-stage must be 4 (strides 2/2/2) or 2 (strides 2/2/4), got '" + ls + "'");
            }
            strides(side);
            if (side != LAST_STAGE && !nets.contains(Net.RESNET)) {
                throw new IllegalArgumentException("--last-stage " + side + " changes the ResNet only, but --nets leaves it out");
            }
            Params p = of(s.quick());
            return new Params(nets.contains(Net.MLP) ? p.mlp() : null, nets.contains(Net.RESNET) ? p.resnet() : null, side);
        }

        public static Params of(boolean quick) {
            List<Method> mlpMethods = List.of(Method.BN, Method.GN, Method.LN, Method.BATCH_RENORM, Method.GHOST_BN, Method.NONE);
            List<Method> all = List.of(Method.values());
            int[] mb = {64, 32, 16, 8, 4, 2}, rb = {32, 16, 8, 4, 2};
            List<Method> claims = List.of(Method.BN, Method.GN, Method.BATCH_RENORM);
            return quick
                    ? new Params(new Sweep(mlpMethods, new int[] {32, 4, 2}, 0.1, 60, 0, 1, 256, 300),
                            new Sweep(claims, new int[] {32, 4, 2}, 0.05, 32, 0.9, 1, 64, 100))
                    : new Params(new Sweep(mlpMethods, mb, 0.1, 60, 0, 2, 15_000, 10_000), new Sweep(all, rb, 0.05, 32, 0.9, 2, 3_000, 5_000));
        }
    }

    public record Cell(Net net, Method method, int batch, long seed, Runs.Outcome outcome) {}

    public BatchSweep() {
        super(NAME, "Small batches: BN against the number of values per statistic",
                "batch 64…2 on the paper's MLP (m = B) and a ResNet-8 with a 4×4 (--last-stage 2: 2×2) last stage (m = 16·B or 4·B): BN, GN, LN, IN, "
                        + "BatchRenorm, GhostBN, none",
                "Small batches, measured against m, the number of values each BN statistic is computed from: the paper's MLP on MNIST "
                        + "(BatchNorm1d, m = B, batch 64…2) and a ResNet-8 on Fashion-MNIST whose last stage is 4×4 (m = 16·B, batch 32…2), "
                        + "with BN, GroupNorm, LayerNorm, InstanceNorm, BatchRenorm, GhostBN and none, lr scaled with the batch: test error. "
                        + "--last-stage 2 makes the ResNet's last stage 2×2 (m = 4·B); --nets runs one network only.",
                (Settings s) -> Params.of(s));
    }

    @Override
    public List<Experiment.Option> options() {
        return List.of(new Experiment.Option("--last-stage", "SIDE", Integer.toString(LAST_STAGE),
                        "Side of the ResNet's last stage: 4 (strides 2/2/2, m = 16·B) or 2 (strides 2/2/4, m = 4·B)"),
                new Experiment.Option("--nets", "NETS", "mlp,resnet", "Networks to run: mlp, resnet or mlp,resnet"));
    }

    /** The MLP with {@code m} after each hidden Linear (Xavier-normal weights, zero biases). */
    static Sequential mlp(Method m, int steps, Rng rng) {
        if (m == Method.NONE) return Runs.mlp(false, Runs.WeightInit.XAVIER, rng);
        Sequential bn = Runs.mlp(true, Runs.WeightInit.XAVIER, rng);
        BatchRenorm.Schedule s = schedule(steps);
        return (Sequential) LayerTypes.rebuild(bn, x -> x instanceof BatchNorm1d b ? m.mlpLayer(b.numFeatures, s) : null);
    }

    /** The ResNet-8 with {@code m} and a last stage of {@code side}×{@code side}. */
    static Sequential resnet(Method m, int steps, int side, Rng rng) {
        return ResNet.build(config(m.resnetNorm(schedule(steps)), side), rng);
    }

    static ResNet.Config config(ResNet.Norm norm) {
        return config(norm, LAST_STAGE);
    }

    static ResNet.Config config(ResNet.Norm norm, int side) {
        return new ResNet.Config(8, ResNet.Block.POST, norm, 1, 10, WIDTHS, strides(side), false);
    }

    /** BatchRenorm's schedule scaled to a run of {@code steps}, as {@link Runs#cnn}: plain BN for 10 %, rmax → 3 by 80 %, dmax → 5 by 50 %. */
    static BatchRenorm.Schedule schedule(int steps) {
        return new BatchRenorm.Schedule(steps / 10, 3, Math.max(1, steps * 8L / 10), 5, Math.max(1, steps / 2));
    }

    /** m of the deepest norm at batch b (ResNet last stage 4×4): for the batch-statistics methods B (GhostBN: min(B, 4)) times the positions. */
    public static int m(Net net, Method method, int b) {
        return m(net, method, b, LAST_STAGE);
    }

    /** {@link #m(Net, Method, int)} with a ResNet last stage of {@code side}×{@code side}. */
    public static int m(Net net, Method method, int b, int side) {
        return (method == Method.GHOST_BN ? Math.min(b, GHOST) : b) * net.positions(side);
    }

    @Override
    public Runs.Results<Cell> train(Params p, Settings s) throws IOException {
        Dataset mTrain = p.mlp() == null ? null : Runs.data("mnist", true, p.mlp().trainSize());
        Dataset mTest = p.mlp() == null ? null : Runs.data("mnist", false, p.mlp().testSize());
        Dataset fTrain = p.resnet() == null ? null : Runs.data("fashion", true, p.resnet().trainSize());
        Dataset fTest = p.resnet() == null ? null : Runs.data("fashion", false, p.resnet().testSize());
        record Variant(Net net, Method method, int batch) {}
        List<Variant> variants = new ArrayList<>();
        // Smallest batches and the ResNet first: they take longest, so the threads finish together.
        for (Net net : List.of(Net.RESNET, Net.MLP)) {
            Sweep w = p.sweep(net);
            if (w == null) continue;
            for (int bi = w.batches().length - 1; bi >= 0; bi--) for (Method m : w.methods()) variants.add(new Variant(net, m, w.batches()[bi]));
        }
        Runs.Results<Cell> r = Runs.sweep(fTrain != null ? fTrain : mTrain, fTest != null ? fTest : mTest, variants, s, (v, seed) -> {
            boolean mlp = v.net() == Net.MLP;
            Sweep w = p.sweep(v.net());
            Dataset train = mlp ? mTrain : fTrain, test = mlp ? mTest : fTest;
            Runs.Recipe rc = new Runs.Recipe(w.lr(v.batch()), w.momentum(), w.epochs() * (train.n / v.batch()), v.batch(), mlp);
            Runs.Outcome o = Runs.train(seed, init -> mlp ? mlp(v.method(), rc.steps(), init) : resnet(v.method(), rc.steps(), p.lastStage(), init), rc, train,
                    test).outcome();
            s.say("  batch-sweep %-6s %-14s batch %2d (m %3d) seed %d: %s, error %.4f", mlp ? "MLP" : "ResNet", v.method().label, v.batch(),
                    m(v.net(), v.method(), v.batch(), p.lastStage()), seed, o.status().text, 1 - o.accuracy());
            return new Cell(v.net(), v.method(), v.batch(), seed, o);
        });
        return r;
    }

    /** Test errors of one network, method and batch, one per seed in the order of {@code seeds} (NaN where missing). */
    static double[] errors(List<Cell> cells, Net net, Method m, int b, List<Long> seeds) {
        double[] e = new double[seeds.size()];
        Arrays.fill(e, Double.NaN);
        for (Cell c : cells) {
            if (c.net() == net && c.method() == m && c.batch() == b) e[seeds.indexOf(c.seed())] = 1 - c.outcome().accuracy();
        }
        return e;
    }

    @Override
    public RunOutput publish(Params p, Settings s, Runs.Results<Cell> runs) {
        List<Cell> cells = runs.runs();
        Sweep mw = p.mlp(), rw = p.resnet();
        int side = p.lastStage();
        RunOutput out = new RunOutput(NAME, "Small batches: BN against the number of values per statistic", s.quick(), s.seeds()).describe(
                "data", (mw == null ? "" : "MNIST (MLP: " + mw.trainSize() + " training / " + mw.testSize() + " test images)")
                        + (mw != null && rw != null ? ", " : "") + (rw == null ? "" : "Fashion-MNIST (ResNet: " + rw.trainSize() + " / " + rw.testSize() + ")"),
                "mlp", mw == null ? "not run (--nets)" : "784-100-100-100-10 sigmoid, Xavier-normal weights, norm after each hidden Linear; plain SGD, lr = "
                        + mw.baseLr() + "·B/" + mw.baseBatch() + ", " + mw.epochs() + " epochs; batches " + Arrays.toString(mw.batches()),
                "resnet", rw == null ? "not run (--nets)" : "ResNet-8 post-activation, widths " + Arrays.toString(WIDTHS) + ", strides "
                        + Arrays.toString(strides(side)) + " (last stage " + side + "×" + side + "); SGD momentum " + rw.momentum() + ", lr = "
                        + rw.baseLr() + "·B/" + rw.baseBatch() + ", " + rw.epochs() + " epochs; batches " + Arrays.toString(rw.batches()),
                "last_stage", side,
                "methods", "BN; GN 4 groups; LN (MLP: LayerNorm(100); ResNet: GN 1 group); IN (ResNet: GN one channel per group); "
                        + "BatchRenorm (plain BN for 10 % of the steps, rmax → 3 by 80 %, dmax → 5 by 50 %); GhostBN virtual batch " + GHOST + "; none",
                "evaluation", "evaluation mode (running statistics)");
        List<String> nonDefault = new ArrayList<>();
        if (side != LAST_STAGE) nonDefault.add("--last-stage " + side);
        if (mw == null || rw == null) nonDefault.add("--nets " + (mw == null ? "resnet" : "mlp"));
        if (!nonDefault.isEmpty()) out.setting(String.join(" ", nonDefault));
        out.table("runs.csv", "net", "method", "batch", "m_deepest", "lr", "seed", "steps", "status", "test_error", "test_loss", "seconds_per_step");
        for (Cell c : cells) {
            Sweep w = p.sweep(c.net());
            out.row("runs.csv", c.net().name(), c.method().label, c.batch(), m(c.net(), c.method(), c.batch(), side), w.lr(c.batch()), c.seed(),
                    c.outcome().steps(), c.outcome().status().text, 1 - c.outcome().accuracy(), c.outcome().testLoss(), c.outcome().secondsPerStep());
        }
        for (Net net : Net.values()) if (p.sweep(net) != null) publishNet(out, s, net, p.sweep(net), side, cells);
        return out;
    }

    private static void publishNet(RunOutput out, Settings s, Net net, Sweep w, int side, List<Cell> cells) {
        int k = w.batches().length, positions = net.positions(side);
        String label = net.label(side);
        String tag = net == Net.MLP ? "mlp" : "resnet";
        double[] xs = new double[k];
        for (int i = 0; i < k; i++) xs[i] = Math.log(w.batches()[i]) / Math.log(2);
        XYChart c = Charts.xy((net == Net.MLP ? "(a) " : "(b) ") + label + ": test error vs batch", net == Net.MLP
                ? "batch B = m, the values per BN statistic (log₂)" : "batch B (m = " + positions + "·B values per statistic in the last stage; log₂)",
                "test error", false);
        c.getStyler().setxAxisTickLabelsFormattingFunction(x -> {
            long b = Math.round(Math.pow(2, x));
            if (Math.abs(Math.pow(2, x) - b) > 1e-6) return "";
            return net == Net.MLP ? Long.toString(b) : b + " (m " + b * positions + ")";
        });
        for (int n = 0; n < w.methods().size(); n++) {
            Method m = w.methods().get(n);
            Spread[] e = new Spread[k];
            for (int i = 0; i < k; i++) {
                e[i] = Spread.of(errors(cells, net, m, w.batches()[i], s.seeds()));
                out.results.addProperty(tag + "_" + m.label + "_batch_" + w.batches()[i] + "_error_mean", e[i].mean());
            }
            Charts.series(c, m.label, xs, e, n, m == Method.NONE);
        }
        out.chart("batch_error_" + tag, "Test error vs batch B for every method on the " + label + ", mean ± s.d. over " + s.seeds().size()
                + " seeds; " + (net == Net.MLP ? "m = B for BN and BatchRenorm, min(B, 4) for GhostBN" : "the deepest BN statistic sees m = " + positions
                + "·B values (GhostBN: " + positions + "·min(B, 4))") + "; dashed: no normalization.", c);
        int hi = indexOf(w.batches(), 32), lo = indexOf(w.batches(), 2), four = indexOf(w.batches(), 4);
        if (hi < 0 || lo < 0 || !w.methods().contains(Method.BN)) return;
        List<Long> seeds = s.seeds();
        double[] bnHi = errors(cells, net, Method.BN, 32, seeds), bnLo = errors(cells, net, Method.BN, 2, seeds);
        if (w.methods().contains(Method.GN)) {
            out.claim(groupNormVerdict(label, positions, bnHi, bnLo, errors(cells, net, Method.GN, 32, seeds), errors(cells, net, Method.GN, 2, seeds)));
        }
        if (four >= 0 && w.methods().contains(Method.BATCH_RENORM)) {
            out.claim(renormVerdict(label, positions, bnHi, errors(cells, net, Method.BN, 4, seeds), errors(cells, net, Method.BATCH_RENORM, 4, seeds)));
        }
    }

    static int indexOf(int[] a, int v) {
        for (int i = 0; i < a.length; i++) if (a[i] == v) return i;
        return -1;
    }

    /** The minimum degradation of BN (batch 32 → 2) and the minimum advantage that count, in error. */
    public static final double MIN_EFFECT = 0.02;

    /**
     * Rule, per seed (paired): Δ = error(batch 2) − error(batch 32). HOLDS when BN's Δ shows (≥ 2 points, beyond 2 s.e.,
     * ≥ 3 seeds: {@link Effect}), Δ_BN − Δ_GN shows likewise, and GN's mean Δ is at most half BN's; PARTLY when either of the
     * first two shows; otherwise DOES_NOT_HOLD. Errors are given per seed, in the same seed order for every argument.
     */
    public static Claim groupNormVerdict(String net, int positions, double[] bn32, double[] bn2, double[] gn32, double[] gn2) {
        Effect dBn = Effect.paired(bn2, bn32), dGn = Effect.paired(gn2, gn32), gap = Effect.paired(diff(bn2, bn32), diff(gn2, gn32));
        boolean bnUp = dBn.shows(MIN_EFFECT), bnWorse = gap.shows(MIN_EFFECT), flat = dGn.diff() <= dBn.diff() / 2;
        return new Claim("BN's error grows as the batch shrinks (ImageNet ResNet-50: 23.6 % at batch 32 → 34.7 % at 2), GroupNorm's stays "
                + "flat (about 24.1 %) [" + net + "].", "Wu & He 2018 (Group Normalization), Figure 1",
                String.format(Locale.ROOT, "%s, test error batch 32 → 2 (m %d → %d): BN %s → %s (Δ %s), GN %s → %s (Δ %s); Δ_BN − Δ_GN %s", net,
                        32 * positions, 2 * positions, RunOutput.pct(Spread.of(bn32)), RunOutput.pct(Spread.of(bn2)), dBn.points(),
                        RunOutput.pct(Spread.of(gn32)), RunOutput.pct(Spread.of(gn2)), dGn.points(), gap.points()),
                Verdict.of(bnUp && bnWorse && flat, bnUp || bnWorse),
                "Δ = error(batch 2) − error(batch 32) per seed; " + Effect.rule("2 points") + "; holds if Δ_BN and Δ_BN − Δ_GN both count and "
                        + "mean Δ_GN ≤ ½ mean Δ_BN, partly if either counts");
    }

    /**
     * Rule, per seed at batch 4 (Ioffe's microbatch): HOLDS when BN degrades from batch 32 (error(4) − error(32) shows, ≥ 2
     * points) and BatchRenorm's error at batch 4 is below BN's (error_BN(4) − error_BRN(4) shows, ≥ 1 point); PARTLY when BN
     * degrades and BatchRenorm's mean error is lower; otherwise DOES_NOT_HOLD (nothing to reduce, or no reduction).
     */
    public static Claim renormVerdict(String net, int positions, double[] bn32, double[] bn4, double[] br4) {
        Effect dBn = Effect.paired(bn4, bn32), gain = Effect.paired(bn4, br4);
        boolean degrades = dBn.shows(MIN_EFFECT);
        return new Claim("Batch Renormalization reduces BN's loss with small mini-batches (ImageNet Inception, batch 4: BN 74.2 %, Batch Renorm "
                + "76.5 %, vs 78.3 % at 32) [" + net + "].", "Ioffe 2017 (Batch Renormalization), §4.3",
                String.format(Locale.ROOT, "%s, batch 4 (m %d): BN's error %s vs %s at batch 32 (Δ %s); BatchRenorm %s, below BN by %s", net,
                        4 * positions, RunOutput.pct(Spread.of(bn4)), RunOutput.pct(Spread.of(bn32)), dBn.points(), RunOutput.pct(Spread.of(br4)),
                        gain.points()),
                Verdict.of(degrades && gain.shows(0.01), degrades && gain.diff() > 0),
                Effect.rule("the minimum given") + "; holds if BN's error at batch 4 exceeds its batch-32 error (≥ 2 points) and BatchRenorm's "
                        + "error at 4 is below BN's (≥ 1 point), partly if BN degrades and BatchRenorm's mean is lower");
    }

    static double[] diff(double[] a, double[] b) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i] - b[i];
        return d;
    }
}
