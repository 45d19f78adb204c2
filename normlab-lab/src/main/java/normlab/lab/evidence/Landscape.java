package normlab.lab.evidence;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import normlab.data.Dataset;
import normlab.nn.Activation;
import normlab.nn.CrossEntropyLoss;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm1d;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.train.NonFiniteException;
import normlab.train.Trainer;
import org.knowm.xchart.XYChart;

/**
 * Why BN works (Santurkar et al. 2018, "How Does Batch Normalization Help Optimization?"). A ReLU MLP
 * 784-100-100-100-10 on MNIST, without BN, with BN, and with "noisy BN" ({@link NoisyShift} after each BN), trained
 * with plain SGD at learning rate η. Every {@code probeEvery} steps, on the current batch, with g the gradient at the
 * current weights θ and step sizes t ∈ {½, 1, 2, 4}·η:
 * <pre>
 *   loss range            = max_t L(θ − t·g) − min_t L(θ − t·g)            (including t = 0)
 *   gradient predictiveness = max_t ‖∇L(θ − t·g) − g‖₂                       (smaller = more predictive)
 *   effective β-smoothness  = max_t ‖∇L(θ − t·g) − g‖₂ / ‖t·g‖₂
 * </pre>
 * and their internal covariate shift of the last hidden layer's weight gradient G: G′ is that gradient after every
 * earlier layer took its SGD step (same batch), reported as ‖G − G′‖₂ and cos(G, G′). Probes restore the weights and
 * running statistics afterwards and freeze the noise of noisy BN, so they do not change the training run.
 */
public final class Landscape extends Evidence<Landscape.Params, Runs.Results<Landscape.Run>> {
    public static final String NAME = "landscape";
    public static final String[] VARIANTS = {"baseline", "bn", "noisy-bn"};
    static final double[] STEP_FACTORS = {0.5, 1, 2, 4};

    public record Params(int steps, int probeEvery, int batch, double lr, double noiseScale, double noiseShift, int trainSize, int testSize) {
        public static Params of(boolean quick) {
            return quick ? new Params(300, 30, 64, 0.1, 0.5, 0.5, 10_000, 2_000) : new Params(3_000, 150, 64, 0.1, 0.5, 0.5, 0, 0);
        }
    }

    /** One probe: step, loss range, gradient predictiveness, β-smoothness, ‖G − G′‖, cos(G, G′). */
    public record Probe(int step, double lossRange, double gradChange, double beta, double icsL2, double icsCos) {}

    public record Run(int variant, long seed, List<Probe> probes, double accuracy) {}

    public Landscape() {
        super(NAME, "Why BN works: loss landscape and internal covariate shift", "loss landscape smoothness, noisy BN, internal covariate shift",
                "Why BN works: loss range, gradient predictiveness and β-smoothness along the gradient, noisy BN, and internal covariate "
                        + "shift (Santurkar et al. 2018).", Params::of);
    }

    public static Sequential build(int variant, Params p, Rng rng) {
        List<Module> l = new ArrayList<>();
        int[] sizes = {784, 100, 100, 100, 10};
        for (int i = 0; i < 3; i++) {
            l.add(new Linear(sizes[i], sizes[i + 1], variant == 0, rng));
            if (variant >= 1) l.add(new BatchNorm1d(sizes[i + 1]));
            if (variant == 2) l.add(new NoisyShift(p.noiseScale(), p.noiseShift(), rng.split()));
            l.add(new Activation.ReLU());
        }
        l.add(new Linear(100, 10, rng));
        return new Sequential(l);
    }

    /** Loss and flat gradient of {@code model} (training mode) on one batch. */
    static double lossAndGrad(Sequential model, Tensor x, int[] y, float[] grad) {
        CrossEntropyLoss ce = new CrossEntropyLoss();
        model.train();
        model.zeroGrad();
        float l = ce.forward(model.forward(x), y);
        model.backward(ce.backward());
        int o = 0;
        for (Parameter pr : model.parameters()) {
            System.arraycopy(pr.grad.data, 0, grad, o, pr.grad.data.length);
            o += pr.grad.data.length;
        }
        return l;
    }

    static void setWeights(List<Parameter> ps, float[] theta, float[] dir, double t, boolean[] mask) {
        int o = 0;
        for (int j = 0; j < ps.size(); j++) {
            float[] v = ps.get(j).value.data;
            for (int i = 0; i < v.length; i++) v[i] = mask == null || mask[j] ? (float) (theta[o + i] - t * dir[o + i]) : theta[o + i];
            ps.get(j).changed();
            o += v.length;
        }
    }

    static double norm(float[] a, float[] b, int from, int to) {
        double s = 0;
        for (int i = from; i < to; i++) s += (double) (a[i] - (b == null ? 0 : b[i])) * (a[i] - (b == null ? 0 : b[i]));
        return Math.sqrt(s);
    }

    /** Measures one probe at the model's current weights on batch (x, y); leaves the model exactly as it found it. */
    static Probe probe(Sequential model, int step, Tensor x, int[] y, double lr) {
        for (Module m : model.layers()) if (m instanceof NoisyShift ns) ns.hold(true);
        Map<String, Tensor> saved = model.stateDict();
        List<Parameter> ps = model.parameters();
        int total = 0;
        for (Parameter pr : ps) total += pr.value.numel();
        float[] theta = new float[total], g = new float[total], g2 = new float[total];
        int o = 0;
        for (Parameter pr : ps) {
            System.arraycopy(pr.value.data, 0, theta, o, pr.value.numel());
            o += pr.value.numel();
        }
        double l0 = lossAndGrad(model, x, y, g);
        double gNorm = norm(g, null, 0, total);
        double lo = l0, hi = l0, maxChange = 0, beta = 0;
        for (double f : STEP_FACTORS) {
            double t = f * lr;
            model.loadStateDict(saved);
            setWeights(ps, theta, g, t, null);
            double l = lossAndGrad(model, x, y, g2);
            lo = Math.min(lo, l);
            hi = Math.max(hi, l);
            double change = norm(g2, g, 0, total);
            maxChange = Math.max(maxChange, change);
            beta = Math.max(beta, change / (t * gNorm));
        }
        // ICS of the last hidden Linear: earlier parameters take their SGD step, the rest stay.
        int target = -1;
        List<Module> layers = model.layers();
        for (int i = layers.size() - 1, seen = 0; i >= 0; i--) {
            if (layers.get(i) instanceof Linear && ++seen == 2) {
                target = i;
                break;
            }
        }
        Parameter w = ((Linear) layers.get(target)).weight;
        boolean[] earlier = new boolean[ps.size()];
        int wFrom = 0;
        int k = 0;
        for (int i = 0, off = 0; i < layers.size(); i++) {
            for (Parameter pr : layers.get(i).parameters()) {
                earlier[k] = i < target;
                if (pr == w) wFrom = off;
                off += pr.value.numel();
                k++;
            }
        }
        int wTo = wFrom + w.value.numel();
        model.loadStateDict(saved);
        setWeights(ps, theta, g, lr, earlier);
        lossAndGrad(model, x, y, g2);
        double dot = 0, n1 = 0, n2 = 0;
        for (int i = wFrom; i < wTo; i++) {
            dot += (double) g[i] * g2[i];
            n1 += (double) g[i] * g[i];
            n2 += (double) g2[i] * g2[i];
        }
        double ics = norm(g2, g, wFrom, wTo), cos = dot / Math.sqrt(n1 * n2);
        model.loadStateDict(saved);
        model.zeroGrad();
        for (Module m : model.layers()) if (m instanceof NoisyShift ns) ns.hold(false);
        return new Probe(step, hi - lo, maxChange, beta, ics, cos);
    }

    /**
     * Trains one variant with {@link Trainer#fit}, probing before every {@code probeEvery}-th step on that step's batch;
     * a non-finite step ends the run. Returns the probes and the test accuracy.
     */
    public static Run trainVariant(int variant, long seed, Params p, Dataset train, Dataset test) {
        Rng root = new Rng(seed);
        Rng init = root.split(), shuffle = root.split();
        Sequential model = build(variant, p, init);
        List<Probe> probes = new ArrayList<>();
        Trainer t = new Trainer(model, new SGD(model.parameters(), p.lr()), train, p.batch(), shuffle, true);
        List<NoisyShift> noisy = new ArrayList<>();
        for (Module m : model.layers()) if (m instanceof NoisyShift ns) noisy.add(ns);
        RunControl.State state = new RunControl.State() { // the probes so far and the noise generators, exactly
            @Override
            public Map<String, String> save() {
                Map<String, String> meta = new java.util.LinkedHashMap<>();
                meta.put("landscape.probes", Integer.toString(probes.size()));
                for (int i = 0; i < probes.size(); i++) {
                    Probe q = probes.get(i);
                    meta.put("landscape.probe." + i, q.step() + ";" + RunControl.hex(q.lossRange(), q.gradChange(), q.beta(), q.icsL2(), q.icsCos()));
                }
                for (int i = 0; i < noisy.size(); i++) meta.put("landscape.noise." + i, noisy.get(i).saveState());
                return meta;
            }

            @Override
            public void restore(Map<String, String> meta) {
                probes.clear();
                int n = Integer.parseInt(meta.get("landscape.probes"));
                for (int i = 0; i < n; i++) {
                    String[] f = meta.get("landscape.probe." + i).split(";");
                    double[] v = RunControl.unhex(f[1]);
                    probes.add(new Probe(Integer.parseInt(f[0]), v[0], v[1], v[2], v[3], v[4]));
                }
                for (int i = 0; i < noisy.size(); i++) noisy.get(i).restoreState(meta.get("landscape.noise." + i));
            }
        };
        if (p.steps() > 0) {
            try {
                RunControl.fit(t, RunControl.key(), p.steps(), p.steps(), null, null, new Trainer.Listener() {
                    @Override
                    public void beforeStep(int step, int[] idx) {
                        if (step % p.probeEvery() == 0) probes.add(probe(model, step, train.batchFlat(idx), train.labels(idx), p.lr()));
                    }

                    @Override
                    public void onNonFinite(NonFiniteException e) {} // the run ends here; its probes so far stand
                }, state);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException("cannot write the checkpoint: " + e.getMessage(), e);
            }
        }
        return new Run(variant, seed, probes, Trainer.evaluate(model, test, true, null).accuracy());
    }

    @Override
    public Runs.Results<Run> train(Params p, Settings s) throws IOException {
        Dataset train = Runs.data("mnist", true, p.trainSize()), test = Runs.data("mnist", false, p.testSize());
        return Runs.sweep(train, test, java.util.stream.IntStream.range(0, VARIANTS.length).boxed().toList(), s, (v, seed) -> {
            Run r = trainVariant(v, seed, p, train, test);
            s.say("  landscape %-8s seed %d: accuracy %.4f", VARIANTS[v], seed, r.accuracy());
            return r;
        });
    }

    @Override
    public RunOutput publish(Params p, Settings s, Runs.Results<Run> results) {
        List<Run> runs = results.runs();
        RunOutput out = output(s, results, "mnist",
                "model", "784-100-100-100-10 ReLU MLP: baseline, BN before each ReLU, noisy BN (BN then random per-step "
                        + "scale U(1±" + p.noiseScale() + ") and shift U(±" + p.noiseShift() + ") per unit)",
                "optimizer", "plain SGD, lr " + p.lr(), "steps", p.steps(), "probe_every", p.probeEvery(),
                "step_sizes", "{0.5, 1, 2, 4} × lr along the gradient");
        out.table("probes.csv", "variant", "seed", "step", "loss_range", "gradient_change_l2", "beta_smoothness", "ics_l2", "ics_cos");
        out.table("runs.csv", "variant", "seed", "test_accuracy");
        for (Run r : runs) {
            out.row("runs.csv", VARIANTS[r.variant()], r.seed(), r.accuracy());
            for (Probe q : r.probes()) {
                out.row("probes.csv", VARIANTS[r.variant()], r.seed(), q.step(), q.lossRange(), q.gradChange(), q.beta(), q.icsL2(), q.icsCos());
            }
        }
        String[] metric = {"loss range along the gradient", "gradient predictiveness: max ‖Δ∇L‖₂", "effective β-smoothness",
                "ICS ‖G − G′‖₂ (last hidden layer)", "ICS cos(G, G′) (last hidden layer)"};
        String[] file = {"landscape_loss_range", "landscape_gradient_change", "landscape_beta", "ics_l2", "ics_cos"};
        double[][] overall = new double[VARIANTS.length][metric.length];
        for (int m = 0; m < metric.length; m++) {
            XYChart c = Charts.xy(metric[m], "training step", metric[m].replaceAll(" \\(.*", ""), false);
            for (int v = 0; v < VARIANTS.length; v++) {
                List<Run> rs = new ArrayList<>();
                for (Run r : runs) if (r.variant() == v) rs.add(r);
                int np = rs.stream().mapToInt(r -> r.probes().size()).min().orElse(0);
                double[] x = new double[np];
                Spread[] y = new Spread[np];
                List<Double> all = new ArrayList<>();
                for (int i = 0; i < np; i++) {
                    double[] vals = new double[rs.size()];
                    for (int j = 0; j < rs.size(); j++) {
                        vals[j] = value(rs.get(j).probes().get(i), m);
                        all.add(vals[j]);
                    }
                    x[i] = rs.get(0).probes().get(i).step();
                    y[i] = Spread.of(vals);
                }
                overall[v][m] = Spread.of(all).mean();
                Charts.series(c, VARIANTS[v], x, y, v, v == 2);
                out.results.addProperty(VARIANTS[v] + " mean " + file[m], overall[v][m]);
            }
            out.chart(file[m], metric[m] + " at each probe, mean ± s.d. over " + s.seeds().size() + " seeds.", c);
        }
        Spread[] acc = new Spread[VARIANTS.length];
        for (int v = 0; v < VARIANTS.length; v++) {
            List<Double> a = new ArrayList<>();
            for (Run r : runs) if (r.variant() == v) a.add(r.accuracy());
            acc[v] = Spread.of(a);
            out.results.addProperty(VARIANTS[v] + " accuracy_mean", acc[v].mean());
        }
        out.claim(smoothnessVerdict(overall[0], overall[1]));
        out.claim(noisyVerdict(acc[0], acc[1], acc[2]));
        out.claim(icsVerdict(overall[0][4], overall[1][4]));
        return out;
    }

    static double value(Probe q, int m) {
        return switch (m) {
            case 0 -> q.lossRange();
            case 1 -> q.gradChange();
            case 2 -> q.beta();
            case 3 -> q.icsL2();
            default -> q.icsCos();
        };
    }

    /**
     * Rule on the means over probes and seeds of loss range, gradient change and β-smoothness: HOLDS when BN's are
     * lower than the baseline's on all three, PARTLY on one or two, otherwise DOES_NOT_HOLD.
     */
    public static Claim smoothnessVerdict(double[] base, double[] bn) {
        int lower = 0;
        for (int m = 0; m < 3; m++) if (bn[m] < base[m]) lower++;
        return new Claim("BN's real benefit is a smoother loss landscape: along the gradient the loss varies less, the gradient is "
                + "more predictive and the effective β-smoothness is smaller.", "Santurkar et al. 2018, §3.1 (Figure 4)",
                String.format(Locale.ROOT, "means over probes, baseline vs BN: loss range %s vs %s; max gradient change %s vs %s; β-smoothness %s vs %s",
                        RunOutput.num(base[0]), RunOutput.num(bn[0]), RunOutput.num(base[1]), RunOutput.num(bn[1]), RunOutput.num(base[2]), RunOutput.num(bn[2])),
                Verdict.of(lower == 3, lower > 0), "holds if BN is lower on all three measures, partly if on one or two");
    }

    /**
     * Rule: HOLDS when noisy BN beats the baseline (the difference counts by {@link Effect}: beyond 2 s.e. over ≥ 3 seeds)
     * and its mean is within 2 points of BN's; PARTLY when it beats the baseline only.
     */
    public static Claim noisyVerdict(Spread baseS, Spread bnS, Spread noisyS) {
        double base = baseS.mean(), bn = bnS.mean(), noisy = noisyS.mean();
        Effect gain = Effect.between(noisyS, baseS);
        return new Claim("Injecting covariate shift after BN (noisy BN) does not remove BN's benefit: BN's success is not due to "
                + "reducing internal covariate shift.", "Santurkar et al. 2018, §2.1 (Figure 2)",
                String.format(Locale.ROOT, "test accuracy: baseline %s, BN %s, noisy BN %s (noisy BN − baseline %s)", RunOutput.pct(baseS),
                        RunOutput.pct(bnS), RunOutput.pct(noisyS), gain.points()),
                Verdict.of(gain.shows(0) && noisy >= bn - 0.02, gain.shows(0)),
                Effect.RULE + "; holds if noisy BN beats the baseline by such an effect and its mean is within 2 points of BN's; partly if it "
                        + "only beats the baseline");
    }

    /** Rule: HOLDS when BN's mean cos(G, G′) ≤ the baseline's + 0.02 (BN does not reduce ICS); PARTLY up to + 0.1. */
    public static Claim icsVerdict(double cosBase, double cosBn) {
        return new Claim("BN does not reduce internal covariate shift measured as the change of a layer's gradient when earlier "
                + "layers update (cosine between G and G′ is no higher with BN).", "Santurkar et al. 2018, §2.2 (Figure 3)",
                String.format(Locale.ROOT, "mean cos(G, G′) of the last hidden layer: baseline %.3f, BN %.3f", cosBase, cosBn),
                Verdict.of(cosBn <= cosBase + 0.02, cosBn <= cosBase + 0.1),
                "holds if BN's cos(G, G′) ≤ baseline's + 0.02; partly if ≤ baseline's + 0.1");
    }
}
