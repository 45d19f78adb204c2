package normlab.lab.report;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import normlab.io.AtomicFiles;
import normlab.lab.evidence.Claim;
import normlab.lab.evidence.EvidenceReport;
import normlab.lab.evidence.Published;
import normlab.lab.experiments.MnistExperiment;
import normlab.lab.experiments.MnistExperiment.Point;
import normlab.io.ModelFiles;
import normlab.lab.experiments.MnistExperiment.Result;
import normlab.train.Checkpoints;
import normlab.lab.experiments.MnistExperiment.VariantResult;

/**
 * Everything a finished MNIST run leaves in its directory: {@code metrics.csv} (one row per variant and evaluation),
 * the Figure 1 charts (PNG + SVG), per variant the final weights as a plain PyTorch state dict with its model
 * description ({@code bn.safetensors} + {@code bn.json}, {@code baseline.…}) and a separate training checkpoint
 * ({@code bn.checkpoint.safetensors} + {@code .json}: optimizer, sampler, generators, step — {@link Checkpoints}),
 * {@code summary.json} (the headline figures and every parameter) and {@code report.html} (charts and the summary
 * table, linking its files by relative paths so the directory can be moved or zipped). Each file is written
 * atomically.
 */
public final class MnistReport {
    public static final String CSV = "metrics.csv";
    public static final String JSON = "summary.json";
    public static final String HTML = "report.html";
    /** Wall-clock figures (times, rates), kept apart so that the other files depend on the options alone. */
    public static final String TIMING = "timing.json";

    private MnistReport() {}

    /** A Figure 1 run as the lab publishes it: its files, the console table, and the claim the report derives from it. */
    public record Output(Result result, String data) implements Published {
        @Override
        public List<Claim> claims() {
            return List.of(EvidenceReport.figure1Claim(JsonParser.parseString(summaryJson(result, data)).getAsJsonObject()));
        }

        @Override
        public void write(Path dir) throws IOException {
            Files.createDirectories(dir);
            MnistReport.write(result, data, dir);
        }

        @Override
        public String console() {
            return text(result);
        }
    }

    /** The files {@link #write} produces, relative to the run directory. */
    public static List<String> files() {
        List<String> f = new ArrayList<>(List.of(CSV, JSON, HTML, TIMING, checkpoint(false), checkpoint(true),
                trainingCheckpoint(false), trainingCheckpoint(true)));
        for (String n : Fig1Charts.NAMES) {
            f.add(n + ".png");
            f.add(n + ".svg");
        }
        return f;
    }

    /** The weights file of a variant: only the model's state dict (PyTorch's strict {@code load_state_dict} takes it). */
    static String checkpoint(boolean bn) {
        return MnistExperiment.variantName(bn) + ".safetensors";
    }

    /** The training checkpoint of a variant (weights, optimizer, sampler, generators, step), for resuming. */
    public static String trainingCheckpoint(boolean bn) {
        return MnistExperiment.variantName(bn) + ".checkpoint.safetensors";
    }

    /** Writes every file of the run into {@code dir}; {@code data} names the dataset used. */
    public static void write(Result r, String data, Path dir) throws IOException {
        writeCsv(r, dir.resolve(CSV));
        Fig1Charts.write(r, dir);
        for (VariantResult v : List.of(r.baseline(), r.bn())) {
            Map<String, String> meta = Map.of(
                    "experiment", "mnist-fig1", "variant", v.name(), "steps", Integer.toString(v.last().step()),
                    "test_accuracy", fmt(v.last().accuracy(), 4));
            // The training checkpoint also carries the run's records (as the periodic ones do), so it resumes too.
            Map<String, String> ckMeta = new java.util.LinkedHashMap<>(meta);
            if (v.resumeState() != null) ckMeta.putAll(v.resumeState());
            ckMeta.put("run.done", "true");
            v.trainer().saveCheckpoint(dir.resolve(trainingCheckpoint(v.batchNorm())), ckMeta);
            ModelFiles.save(v.trainer().model(), dir.resolve(checkpoint(v.batchNorm())), meta, Map.of());
        }
        AtomicFiles.write(dir.resolve(TIMING), timingJson(r).getBytes(StandardCharsets.UTF_8));
        AtomicFiles.write(dir.resolve(JSON), summaryJson(r, data).getBytes(StandardCharsets.UTF_8));
        AtomicFiles.write(dir.resolve(HTML), html(r, data).getBytes(StandardCharsets.UTF_8));
    }

    static void writeCsv(Result r, Path file) throws IOException {
        writeCsv(r.baseline().points(), r.bn().points(), file);
    }

    /**
     * metrics.csv from the points so far of each variant (the run's progress, rewritten as it goes, and its final
     * table). No wall-clock column: the file depends on the options alone ({@link #TIMING} has the times).
     */
    public static void writeCsv(List<Point> baseline, List<Point> bn, Path file) throws IOException {
        StringBuilder sb = new StringBuilder("variant,step,train_loss,test_loss,test_accuracy,p15,p50,p85\n");
        for (int k = 0; k < 2; k++) {
            String name = MnistExperiment.variantName(k == 1);
            for (Point p : k == 0 ? baseline : bn) {
                String trainLoss = Double.isNaN(p.trainLoss()) ? "" : String.format(Locale.ROOT, "%.6f", p.trainLoss());
                sb.append(String.format(Locale.ROOT, "%s,%d,%s,%.6f,%.4f,%.6f,%.6f,%.6f%n", name, p.step(), trainLoss,
                        p.testLoss(), p.accuracy(), p.p15(), p.p50(), p.p85()));
            }
        }
        AtomicFiles.write(file, sb.toString().getBytes(StandardCharsets.UTF_8));
    }

    /** timing.json: the run's wall-clock figures (total across resumed sessions), and the elapsed time at each evaluation. */
    public static String timingJson(Result r) {
        JsonObject o = new JsonObject();
        o.addProperty("wall_seconds", round(r.wallSeconds(), 3));
        o.addProperty("baseline_steps_per_second", round(r.baseline().stepsPerSecond(), 1));
        o.addProperty("bn_steps_per_second", round(r.bn().stepsPerSecond(), 1));
        JsonObject variants = new JsonObject();
        for (VariantResult v : List.of(r.baseline(), r.bn())) {
            JsonObject j = new JsonObject();
            j.addProperty("steps_per_second", round(v.stepsPerSecond(), 1));
            j.addProperty("train_seconds", round(v.trainSeconds(), 3));
            j.addProperty("eval_seconds", round(v.evalSeconds(), 3));
            j.addProperty("wall_seconds", round(v.wallSeconds(), 3));
            com.google.gson.JsonArray at = new com.google.gson.JsonArray();
            for (Point p : v.points()) {
                JsonObject e = new JsonObject();
                e.addProperty("step", p.step());
                e.addProperty("elapsed_seconds", round(p.seconds(), 3));
                at.add(e);
            }
            j.add("evaluations", at);
            variants.add(v.name(), j);
        }
        o.add("variants", variants);
        return new GsonBuilder().setPrettyPrinting().create().toJson(o) + "\n";
    }

    /** summary.json: headline figures first, then per-variant details, parameters and machine. */
    public static String summaryJson(Result r, String data) {
        JsonObject o = new JsonObject();
        o.addProperty("experiment", "mnist-fig1");
        o.addProperty("baseline_final_accuracy", r.baselineFinalAccuracy());
        o.addProperty("bn_final_accuracy", r.bnFinalAccuracy());
        o.addProperty("bn_steps_to_baseline_final", r.bnStepsToBaselineFinal());
        o.addProperty("speedup", r.speedup());
        o.addProperty("baseline_at_chance", r.baselineAtChance());
        JsonObject variants = new JsonObject();
        for (VariantResult v : List.of(r.baseline(), r.bn())) {
            JsonObject j = new JsonObject();
            Point last = v.last();
            j.addProperty("final_accuracy", last.accuracy());
            j.addProperty("final_test_loss", round(last.testLoss(), 6));
            j.addProperty("final_p15", round(last.p15(), 4));
            j.addProperty("final_p50", round(last.p50(), 4));
            j.addProperty("final_p85", round(last.p85(), 4));
            j.addProperty("checkpoint", checkpoint(v.batchNorm()));
            variants.add(v.name(), j);
        }
        o.add("variants", variants);
        MnistExperiment.Params p = r.params();
        JsonObject params = new JsonObject();
        params.addProperty("data", data);
        params.addProperty("steps", p.steps());
        params.addProperty("batch", p.batch());
        params.addProperty("lr", p.lr());
        params.addProperty("std", p.std());
        params.addProperty("seed", p.seed());
        params.addProperty("threads", p.threads());
        params.addProperty("eval_every", p.evalEvery());
        params.addProperty("unit", p.unit());
        params.addProperty("layers", "784-100-100-100-10");
        params.addProperty("activation", "sigmoid");
        params.addProperty("optimizer", "SGD (no momentum, no weight decay)");
        params.addProperty("loss", "cross-entropy");
        o.add("parameters", params);
        JsonObject m = new JsonObject();
        m.addProperty("cores", Runtime.getRuntime().availableProcessors());
        m.addProperty("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        m.addProperty("os", System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        o.add("machine", m);
        return new GsonBuilder().setPrettyPrinting().serializeNulls().create().toJson(o) + "\n";
    }

    /** The summary table as rows: a header row, then one row per quantity (without BN, with BN). */
    public static List<String[]> table(Result r) {
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"", "without BN", "with BN"});
        VariantResult a = r.baseline(), b = r.bn();
        rows.add(new String[] {"final test accuracy (step " + String.format(Locale.ROOT, "%,d", a.last().step()) + ")",
                fmt(a.last().accuracy(), 4), fmt(b.last().accuracy(), 4)});
        int early = r.params().steps() / 10;
        Point ea = at(a, early), eb = at(b, early);
        if (ea != null && eb != null && ea.step() < a.last().step()) {
            rows.add(new String[] {"test accuracy at step " + String.format(Locale.ROOT, "%,d", ea.step()),
                    fmt(ea.accuracy(), 4), fmt(eb.accuracy(), 4)});
        }
        rows.add(new String[] {"final test loss", fmt(a.last().testLoss(), 4), fmt(b.last().testLoss(), 4)});
        rows.add(new String[] {"sigmoid input p15 / p50 / p85", pct(a.last()), pct(b.last())});
        rows.add(new String[] {"training steps per second", fmt(a.stepsPerSecond(), 0), fmt(b.stepsPerSecond(), 0)});
        rows.add(new String[] {"training / evaluation seconds", fmt(a.trainSeconds(), 1) + " / " + fmt(a.evalSeconds(), 1),
                fmt(b.trainSeconds(), 1) + " / " + fmt(b.evalSeconds(), 1)});
        return rows;
    }

    /** The conclusion under the table: when BN reached the baseline's final accuracy, the speedup, the wall time. */
    public static String verdict(Result r) {
        Integer s = r.bnStepsToBaselineFinal();
        String reach = r.baselineAtChance()
                ? "Speedup undefined: baseline still at chance (test accuracy " + fmt(r.baselineFinalAccuracy(), 4) + ")."
                : s == null
                ? "BN never reached the baseline's final accuracy " + fmt(r.baselineFinalAccuracy(), 4) + "."
                : String.format(Locale.ROOT, "BN reached the baseline's final accuracy %s at step %,d: %.1f× fewer steps.",
                        fmt(r.baselineFinalAccuracy(), 4), s, r.speedup());
        return reach + String.format(Locale.ROOT, " Wall time %.1f s (%d thread%s).", r.wallSeconds(), r.params().threads(),
                r.params().threads() == 1 ? "" : "s");
    }

    /** The table as aligned plain text, for the console. */
    public static String text(Result r) {
        List<String[]> rows = table(r);
        int[] w = new int[3];
        for (String[] row : rows) for (int i = 0; i < 3; i++) w[i] = Math.max(w[i], row[i].length());
        StringBuilder sb = new StringBuilder();
        for (int k = 0; k < rows.size(); k++) {
            String[] row = rows.get(k);
            sb.append(String.format("%-" + w[0] + "s  %" + w[1] + "s  %" + w[2] + "s%n", row[0], row[1], row[2]));
            if (k == 0) sb.append("-".repeat(w[0] + w[1] + w[2] + 4)).append('\n');
        }
        return sb.append(verdict(r)).append('\n').toString();
    }

    static String html(Result r, String data) {
        MnistExperiment.Params p = r.params();
        StringBuilder sb = new StringBuilder();
        sb.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
          .append("<title>normlab: MNIST, with and without Batch Normalization</title>\n<style>\n")
          .append("body{font-family:system-ui,sans-serif;max-width:880px;margin:2em auto;padding:0 1em;color:#222}\n")
          .append("img{max-width:100%;border:1px solid #ddd;margin:.5em 0}\n")
          .append("table{border-collapse:collapse;margin:1em 0}td,th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:right}\n")
          .append("td:first-child,th:first-child{text-align:left}.verdict{font-weight:600}code{background:#f4f4f4;padding:0 .2em}\n")
          .append("</style>\n</head>\n<body>\n")
          .append("<h1>MNIST, with and without Batch Normalization</h1>\n")
          .append("<p>Ioffe &amp; Szegedy (2015), §4.1 and Figure 1: a 784-100-100-100-10 network with sigmoid hidden units, ")
          .append("weights from N(0, ").append(esc(Double.toString(p.std()))).append("²), trained with plain SGD (lr ")
          .append(esc(Double.toString(p.lr()))).append(", batch ").append(p.batch()).append(") for ")
          .append(String.format(Locale.ROOT, "%,d", p.steps())).append(" steps on ").append(esc(data))
          .append(", once as is and once with BatchNorm before each hidden sigmoid. Both start from the same weights and see ")
          .append("the same batches (seed ").append(p.seed()).append("). Every ").append(p.evalEvery())
          .append(" steps: test accuracy, and the 15th, 50th and 85th percentiles over the test set of the input to sigmoid unit ")
          .append(p.unit()).append(" of the last hidden layer.</p>\n");
        sb.append("<h2>Summary</h2>\n<table>\n");
        List<String[]> rows = table(r);
        for (int k = 0; k < rows.size(); k++) {
            String cell = k == 0 ? "th" : "td";
            sb.append("<tr>");
            for (String c : rows.get(k)) sb.append('<').append(cell).append('>').append(esc(c)).append("</").append(cell).append('>');
            sb.append("</tr>\n");
        }
        sb.append("</table>\n<p class=\"verdict\">").append(esc(verdict(r))).append("</p>\n");
        String[] captions = {
            "(a) Test accuracy against training steps, without and with BN.",
            "(b) Without BN: 15th, 50th and 85th percentiles of the input to one sigmoid of the last hidden layer.",
            "(c) With BN: the same percentiles for the same unit (here the input is BN's output)."};
        sb.append("<h2>Figure 1</h2>\n");
        for (int i = 0; i < Fig1Charts.NAMES.size(); i++) {
            String n = Fig1Charts.NAMES.get(i);
            sb.append("<figure><img src=\"").append(n).append(".png\" alt=\"").append(esc(captions[i])).append("\">")
              .append("<figcaption>").append(esc(captions[i])).append(" (<a href=\"").append(n).append(".svg\">SVG</a>)</figcaption></figure>\n");
        }
        sb.append("<h2>Files</h2>\n<ul>\n")
          .append("<li><a href=\"").append(CSV).append("\">").append(CSV).append("</a>: every evaluation of both networks</li>\n")
          .append("<li><a href=\"").append(JSON).append("\">").append(JSON).append("</a>: headline figures and parameters</li>\n")
          .append("<li><a href=\"").append(TIMING).append("\">").append(TIMING).append("</a>: wall-clock times and rates</li>\n")
          .append("<li><code>").append(checkpoint(false)).append("</code>, <code>").append(checkpoint(true))
          .append("</code>: final weights (a plain PyTorch state dict in safetensors, the model description beside them)</li>\n")
          .append("<li><code>").append(trainingCheckpoint(false)).append("</code>, <code>").append(trainingCheckpoint(true))
          .append("</code>: training checkpoints (optimizer, sampler, generators, step)</li>\n</ul>\n</body>\n</html>\n");
        return sb.toString();
    }

    /** The recorded point at {@code step}, or the first after it; null when none. */
    static Point at(VariantResult v, int step) {
        for (Point p : v.points()) if (p.step() >= step) return p;
        return null;
    }

    private static String pct(Point p) {
        return fmt(p.p15(), 2) + " / " + fmt(p.p50(), 2) + " / " + fmt(p.p85(), 2);
    }

    static String fmt(double v, int digits) {
        return String.format(Locale.ROOT, "%." + digits + "f", v);
    }

    private static double round(double v, int digits) {
        double f = Math.pow(10, digits);
        return Math.round(v * f) / f;
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
