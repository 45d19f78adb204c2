package normlab.lab.report;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import normlab.io.AtomicFiles;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Figure 1 over several seeds ({@code normlab mnist --seeds N}): each seed is a complete run in {@code DIR/seed-S}
 * (its own report, weights and checkpoints, resumable on its own), and this class summarizes them in {@code DIR}: the
 * speedup and both final accuracies as median and range ({@code seeds.csv}, {@code summary.json}), every seed's
 * accuracy curve in one chart, and a {@code report.html} that links each seed's report. The paper reports one run;
 * one seed is an anecdote, so the verdict of the evidence report asks every seed to pass its rule.
 *
 * <p>summary.json keeps the single run's headline keys ({@code baseline_final_accuracy}, {@code bn_final_accuracy},
 * {@code bn_steps_to_baseline_final}, {@code speedup}: here medians over the seeds), adds {@code seed_runs} (one
 * object per seed) and {@code over_seeds} (median, min, max of each figure), so the report reads either kind.
 */
public final class MnistSeeds {
    /** The per-seed table. */
    public static final String CSV = "seeds.csv";
    /** The chart of every seed's test-accuracy curve. */
    public static final String CHART = "fig1a_accuracy_seeds";

    /** The figures summarized over seeds, as in a single run's summary.json. */
    static final String[] FIGURES = {"baseline_final_accuracy", "bn_final_accuracy", "bn_steps_to_baseline_final", "speedup"};

    private MnistSeeds() {}

    /** The run directory of seed {@code seed} inside a multi-seed run {@code dir}. */
    public static Path seedDir(Path dir, long seed) {
        return dir.resolve("seed-" + seed);
    }

    /** One seed's headline figures, read from its summary.json (a missing speedup or step count is NaN: never reached). */
    record SeedRun(long seed, String dir, double baseline, double bn, double steps, double speedup, boolean atChance, String data) {
        double get(String figure) {
            return switch (figure) {
                case "baseline_final_accuracy" -> baseline;
                case "bn_final_accuracy" -> bn;
                case "bn_steps_to_baseline_final" -> steps;
                case "speedup" -> speedup;
                default -> throw new IllegalArgumentException(figure);
            };
        }
    }

    /** Median, min and max of the finite values (NaN when none is finite) and how many were not finite. */
    record Stat(double median, double min, double max, int missing) {
        static Stat of(double[] xs) {
            double[] f = Arrays.stream(xs).filter(Double::isFinite).sorted().toArray();
            if (f.length == 0) return new Stat(Double.NaN, Double.NaN, Double.NaN, xs.length);
            int n = f.length;
            double med = n % 2 == 1 ? f[n / 2] : (f[n / 2 - 1] + f[n / 2]) / 2;
            return new Stat(med, f[0], f[n - 1], xs.length - n);
        }
    }

    /**
     * Reads the seeds' summaries and curves, writes seeds.csv, the chart, summary.json and report.html into {@code dir},
     * and returns the console table. Every seed must be complete.
     */
    public static String write(Path dir, List<Long> seeds) throws IOException {
        List<SeedRun> runs = new ArrayList<>();
        JsonObject first = null;
        for (long s : seeds) {
            Path d = seedDir(dir, s);
            JsonObject j = JsonParser.parseString(Files.readString(d.resolve(MnistReport.JSON))).getAsJsonObject();
            if (first == null) first = j;
            runs.add(new SeedRun(s, d.getFileName().toString(), j.get("baseline_final_accuracy").getAsDouble(),
                    j.get("bn_final_accuracy").getAsDouble(), num(j.get("bn_steps_to_baseline_final")), num(j.get("speedup")),
                    j.get("baseline_at_chance").getAsBoolean(), j.getAsJsonObject("parameters").get("data").getAsString()));
        }
        StringBuilder csv = new StringBuilder("seed,dir,baseline_final_accuracy,bn_final_accuracy,bn_steps_to_baseline_final,speedup,baseline_at_chance\n");
        for (SeedRun r : runs) {
            csv.append(String.format(Locale.ROOT, "%d,%s,%.4f,%.4f,%s,%s,%s%n", r.seed, r.dir, r.baseline, r.bn,
                    Double.isNaN(r.steps) ? "" : String.format(Locale.ROOT, "%.0f", r.steps),
                    Double.isNaN(r.speedup) ? "" : String.format(Locale.ROOT, "%.4f", r.speedup), r.atChance));
        }
        AtomicFiles.write(dir.resolve(CSV), csv.toString().getBytes(StandardCharsets.UTF_8));
        writeChart(dir, runs);
        JsonObject summary = summary(first, runs);
        AtomicFiles.write(dir.resolve(MnistReport.JSON),
                (new GsonBuilder().setPrettyPrinting().serializeNulls().create().toJson(summary) + "\n").getBytes(StandardCharsets.UTF_8));
        AtomicFiles.write(dir.resolve(MnistReport.HTML), html(summary, runs).getBytes(StandardCharsets.UTF_8));
        return text(summary, runs);
    }

    private static double num(JsonElement e) {
        return e == null || e.isJsonNull() ? Double.NaN : e.getAsDouble();
    }

    /** The multi-seed summary.json (see the class comment). */
    static JsonObject summary(JsonObject first, List<SeedRun> runs) {
        JsonObject o = new JsonObject();
        o.addProperty("experiment", "mnist-fig1");
        JsonObject over = new JsonObject();
        for (String f : FIGURES) {
            Stat st = Stat.of(runs.stream().mapToDouble(r -> r.get(f)).toArray());
            o.add(f, Double.isNaN(st.median) ? com.google.gson.JsonNull.INSTANCE : new com.google.gson.JsonPrimitive(st.median));
            JsonObject s = new JsonObject();
            s.addProperty("median", st.median);
            s.addProperty("min", st.min);
            s.addProperty("max", st.max);
            s.addProperty("not_reached", st.missing);
            over.add(f, s);
        }
        boolean anyChance = runs.stream().anyMatch(SeedRun::atChance);
        o.addProperty("baseline_at_chance", runs.stream().allMatch(SeedRun::atChance));
        JsonArray seeds = new JsonArray();
        for (SeedRun r : runs) seeds.add(r.seed);
        o.add("seeds", seeds);
        o.add("over_seeds", over);
        JsonArray per = new JsonArray();
        for (SeedRun r : runs) {
            JsonObject j = new JsonObject();
            j.addProperty("seed", r.seed);
            j.addProperty("dir", r.dir);
            j.addProperty("baseline_final_accuracy", r.baseline);
            j.addProperty("bn_final_accuracy", r.bn);
            j.add("bn_steps_to_baseline_final", Double.isNaN(r.steps) ? com.google.gson.JsonNull.INSTANCE : new com.google.gson.JsonPrimitive((int) r.steps));
            j.add("speedup", Double.isNaN(r.speedup) ? com.google.gson.JsonNull.INSTANCE : new com.google.gson.JsonPrimitive(r.speedup));
            j.addProperty("baseline_at_chance", r.atChance);
            per.add(j);
        }
        o.add("seed_runs", per);
        o.addProperty("some_baseline_at_chance", anyChance);
        JsonObject params = first.getAsJsonObject("parameters").deepCopy();
        params.remove("seed");
        params.add("seeds", seeds.deepCopy());
        o.add("parameters", params);
        if (first.has("machine")) o.add("machine", first.get("machine"));
        return o;
    }

    /** Every seed's test accuracy against training steps: without BN dashed blue, with BN solid red. */
    private static void writeChart(Path dir, List<SeedRun> runs) throws IOException {
        XYChart c = Fig1Charts.base("(a) Test accuracy, " + runs.size() + " seeds", "test accuracy");
        for (SeedRun r : runs) {
            List<String> lines = Files.readAllLines(dir.resolve(r.dir).resolve(MnistReport.CSV), StandardCharsets.UTF_8);
            for (String variant : List.of("baseline", "bn")) {
                List<double[]> pts = new ArrayList<>();
                for (String line : lines.subList(1, lines.size())) {
                    String[] f = line.split(",", -1);
                    if (f[0].equals(variant)) pts.add(new double[] {Double.parseDouble(f[1]), Double.parseDouble(f[4])});
                }
                double[] x = pts.stream().mapToDouble(p -> p[0]).toArray(), y = pts.stream().mapToDouble(p -> p[1]).toArray();
                boolean bn = variant.equals("bn");
                XYSeries s = c.addSeries((bn ? "with BN" : "without BN") + ", seed " + r.seed, x, y);
                s.setMarker(SeriesMarkers.NONE);
                Color col = bn ? Fig1Charts.BN : Fig1Charts.BASELINE;
                s.setLineColor(new Color(col.getRed(), col.getGreen(), col.getBlue(), 170));
                s.setLineStyle(bn ? new BasicStroke(1.8f) : new BasicStroke(1.6f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 10f, new float[] {6f, 4f}, 0f));
            }
        }
        c.getStyler().setYAxisMin(0.0).setYAxisMax(1.0).setYAxisDecimalPattern("0.00");
        Fig1Charts.save(c, dir.resolve(CHART));
    }

    /** "median (min–max)" of a figure; accuracies as fractions with 4 decimals, steps whole, speedups with one. */
    static String range(JsonObject summary, String figure) {
        JsonObject s = summary.getAsJsonObject("over_seeds").getAsJsonObject(figure);
        double med = s.get("median").getAsDouble(), lo = s.get("min").getAsDouble(), hi = s.get("max").getAsDouble();
        int missing = s.get("not_reached").getAsInt();
        if (Double.isNaN(med)) {
            return figure.equals("speedup") && summary.get("baseline_at_chance").getAsBoolean()
                    ? "undefined: the baseline is still at chance in every seed" : "never reached";
        }
        String fmt = figure.endsWith("accuracy") ? "%.4f" : figure.equals("speedup") ? "%.1f×" : "%,.0f";
        String out = String.format(Locale.ROOT, fmt + " (" + fmt + " – " + fmt + ")", med, lo, hi);
        return missing > 0 ? out + String.format(Locale.ROOT, "; not reached or undefined in %d seed%s", missing, missing == 1 ? "" : "s") : out;
    }

    private static String[][] rows(JsonObject summary) {
        return new String[][] {
            {"final test accuracy without BN", range(summary, "baseline_final_accuracy")},
            {"final test accuracy with BN", range(summary, "bn_final_accuracy")},
            {"first step at which BN reaches the baseline's final accuracy", range(summary, "bn_steps_to_baseline_final")},
            {"speedup (steps / that step)", range(summary, "speedup")}};
    }

    /** The console table: per seed, then median (min – max). */
    static String text(JsonObject summary, List<SeedRun> runs) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-6s %12s %12s %14s %9s%n", "seed", "without BN", "with BN", "BN reaches at", "speedup"));
        for (SeedRun r : runs) {
            sb.append(String.format(Locale.ROOT, "%-6d %12.4f %12.4f %14s %9s%n", r.seed, r.baseline, r.bn,
                    Double.isNaN(r.steps) ? "never" : String.format(Locale.ROOT, "%,.0f", r.steps),
                    Double.isNaN(r.speedup) ? "—" : String.format(Locale.ROOT, "%.1f×", r.speedup)));
        }
        sb.append(String.format(Locale.ROOT, "Over %d seeds, median (min – max):%n", runs.size()));
        for (String[] row : rows(summary)) sb.append("  ").append(row[0]).append(": ").append(row[1]).append('\n');
        return sb.toString();
    }

    static String html(JsonObject summary, List<SeedRun> runs) {
        StringBuilder sb = new StringBuilder();
        sb.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n")
          .append("<title>normlab: MNIST, Figure 1 over ").append(runs.size()).append(" seeds</title>\n<style>\n")
          .append("body{font-family:system-ui,sans-serif;max-width:880px;margin:2em auto;padding:0 1em;color:#222}\n")
          .append("table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}")
          .append("th:first-child,td:first-child{text-align:left}img{max-width:100%}\n</style>\n</head>\n<body>\n")
          .append("<h1>MNIST, Figure 1: ").append(runs.size()).append(" seeds</h1>\n")
          .append("<p>The paper's §4.1 network trained without and with BN once per seed (each seed its own run, linked below); ")
          .append("the figures are the median and the range over the seeds.</p>\n<table>\n");
        for (String[] row : rows(summary)) sb.append("<tr><td>").append(row[0]).append("</td><td>").append(row[1]).append("</td></tr>\n");
        sb.append("</table>\n<table>\n<tr><th>seed</th><th>without BN</th><th>with BN</th><th>BN reaches the baseline's final at</th><th>speedup</th><th>run</th></tr>\n");
        for (SeedRun r : runs) {
            sb.append(String.format(Locale.ROOT, "<tr><td>%d</td><td>%.4f</td><td>%.4f</td><td>%s</td><td>%s</td><td><a href=\"%s/%s\">report</a></td></tr>%n",
                    r.seed, r.baseline, r.bn, Double.isNaN(r.steps) ? "never" : String.format(Locale.ROOT, "%,.0f", r.steps),
                    Double.isNaN(r.speedup) ? "—" : String.format(Locale.ROOT, "%.1f×", r.speedup), r.dir, MnistReport.HTML));
        }
        sb.append("</table>\n<figure><img src=\"").append(CHART).append(".png\" alt=\"test accuracy of every seed\"><figcaption>")
          .append("Test accuracy against training steps, every seed (<a href=\"").append(CHART).append(".svg\">SVG</a>, ")
          .append("<a href=\"").append(CSV).append("\">").append(CSV).append("</a>, <a href=\"").append(MnistReport.JSON)
          .append("\">").append(MnistReport.JSON).append("</a>)</figcaption></figure>\n</body>\n</html>\n");
        return sb.toString();
    }
}
