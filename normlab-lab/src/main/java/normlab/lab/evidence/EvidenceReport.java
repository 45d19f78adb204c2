package normlab.lab.evidence;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import normlab.io.AtomicFiles;
import normlab.lab.report.Fig1Charts;
import normlab.lab.report.MnistSeeds;

/**
 * The evidence report: one HTML page in the runs directory assembling the newest run of Figure 1 ({@code normlab
 * mnist}) and of every experiment found there. Each section gives the claim, its source, our measurement and the
 * verdict, all read from the run's {@code summary.json} (Figure 1's verdict is derived here from its numbers by
 * {@link #figure1Claim}), then the run's charts and files, linked by paths relative to the page so the whole runs
 * directory can be moved. Experiments not run yet are listed with the command that runs them.
 */
public final class EvidenceReport {
    public static final String HTML = "report.html";
    public static final String FIG1 = "mnist-fig1";

    /** A run found on disk: its directory (relative to the runs directory) and its parsed summary. */
    public record Found(String dir, JsonObject summary) {}

    private EvidenceReport() {}

    /**
     * The run of each experiment under {@code runs} (direct subdirectories with a summary.json) that the report shows,
     * by experiment name: the newest full run if there is one (a full run is better evidence than a quick one), else
     * the newest quick run.
     */
    public static Map<String, Found> scan(Path runs) throws IOException {
        Map<String, Found> newest = new LinkedHashMap<>();
        Map<String, FileTime> when = new LinkedHashMap<>();
        Map<String, Boolean> full = new LinkedHashMap<>();
        if (!Files.isDirectory(runs)) return newest;
        List<Path> dirs;
        try (Stream<Path> s = Files.list(runs)) {
            // A run is shown only once complete: an interrupted, diverged or running one (run.json) never is.
            dirs = s.filter(d -> Files.isRegularFile(d.resolve(RunOutput.SUMMARY)) && RunControl.finished(d)).sorted().toList();
        }
        for (Path d : dirs) {
            JsonObject j;
            try {
                j = JsonParser.parseString(Files.readString(d.resolve(RunOutput.SUMMARY))).getAsJsonObject();
            } catch (RuntimeException e) {
                continue; // not one of ours, or half written by a crashed run
            }
            if (!j.has("experiment")) continue;
            if (!j.has("wall_seconds") && Files.isRegularFile(d.resolve("timing.json"))) { // Figure 1 keeps its times apart
                try {
                    JsonObject t = JsonParser.parseString(Files.readString(d.resolve("timing.json"))).getAsJsonObject();
                    if (t.has("wall_seconds")) j.add("wall_seconds", t.get("wall_seconds"));
                } catch (RuntimeException ignored) {
                    // no time shown
                }
            }
            String name = j.get("experiment").getAsString();
            if (!matchesProtocol(j)) continue; // ad-hoc runs are listed apart (adHoc), never substituted
            FileTime t = Files.getLastModifiedTime(d.resolve(RunOutput.SUMMARY));
            boolean isFull = !isQuick(j);
            boolean better = !when.containsKey(name) || isFull && !full.get(name)
                    || isFull == full.get(name) && t.compareTo(when.get(name)) >= 0;
            if (better) {
                when.put(name, t);
                full.put(name, isFull);
                newest.put(name, new Found(d.getFileName().toString(), j));
            }
        }
        return newest;
    }

    /** Accuracy at or below which a 10-class network is still at chance (chance is 0.1). */
    public static final double CHANCE_LIMIT = 0.2;

    /**
     * Whether a run follows its experiment's protocol (default or quick settings). The evidence experiments do unless
     * their summary names a non-default {@code setting} ({@link RunOutput#setting}); a Figure 1 run does when it trained on MNIST with the paper's batch, learning rate,
     * initialization and unit, for the paper's steps (evaluated as by default) or the quick 5,000 (evaluated every 250).
     */
    public static boolean matchesProtocol(JsonObject j) {
        if (!FIG1.equals(j.get("experiment").getAsString())) return !j.has("setting");
        JsonObject p = j.getAsJsonObject("parameters");
        if (p == null) return false;
        var d = normlab.lab.experiments.MnistExperiment.Params.defaults();
        try {
            String data = p.get("data").getAsString();
            // all of MNIST, or (quick) all training images and the first test images; not a training-set slice
            boolean mnist = data.equals("mnist") || data.startsWith("mnist (first ") && !data.contains("training");
            int steps = p.get("steps").getAsInt(), every = p.get("eval_every").getAsInt();
            boolean schedule = steps == d.steps() && every == d.evalEvery() || steps == 5_000 && every == 250;
            return mnist && schedule && p.get("batch").getAsInt() == d.batch() && p.get("lr").getAsDouble() == d.lr()
                    && p.get("std").getAsDouble() == d.std() && p.get("unit").getAsInt() == d.unit();
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** The runs under {@code runs} that do not follow their experiment's protocol, by directory name. */
    public static List<Found> adHoc(Path runs) throws IOException {
        List<Found> out = new ArrayList<>();
        if (!Files.isDirectory(runs)) return out;
        List<Path> dirs;
        try (Stream<Path> s = Files.list(runs)) {
            // A run is shown only once complete: an interrupted, diverged or running one (run.json) never is.
            dirs = s.filter(d -> Files.isRegularFile(d.resolve(RunOutput.SUMMARY)) && RunControl.finished(d)).sorted().toList();
        }
        for (Path d : dirs) {
            try {
                JsonObject j = JsonParser.parseString(Files.readString(d.resolve(RunOutput.SUMMARY))).getAsJsonObject();
                if (j.has("experiment") && !matchesProtocol(j)) out.add(new Found(d.getFileName().toString(), j));
            } catch (RuntimeException e) {
                // not one of ours
            }
        }
        return out;
    }

    /** Whether the baseline of a Figure 1 summary never left chance: its recorded flag, else its final accuracy ≤ {@link #CHANCE_LIMIT}. */
    static boolean baselineAtChance(JsonObject j) {
        JsonElement f = j.get("baseline_at_chance");
        if (f != null && !f.isJsonNull()) return f.getAsBoolean();
        return j.get("baseline_final_accuracy").getAsDouble() <= CHANCE_LIMIT;
    }

    /** Whether a run was a quick one: its {@code quick} flag, or for Figure 1 fewer steps than the paper's 50,000. */
    static boolean isQuick(JsonObject j) {
        if (j.has("quick")) return j.get("quick").getAsBoolean();
        JsonObject p = j.getAsJsonObject("parameters");
        return p == null || !p.has("steps") || p.get("steps").getAsInt() < 50_000;
    }

    /**
     * Figure 1's claim from an mnist run's summary. Rule: HOLDS when BN's final accuracy is at least the baseline's
     * and BN reached the baseline's final accuracy in at most half the steps (speedup ≥ 2); PARTLY when only BN's final
     * accuracy is at least the baseline's or the speedup is ≥ 1; otherwise DOES_NOT_HOLD.
     */
    public static Claim figure1Claim(JsonObject j) {
        if (j.has("seed_runs")) return figure1SeedsClaim(j);
        double base = j.get("baseline_final_accuracy").getAsDouble(), bn = j.get("bn_final_accuracy").getAsDouble();
        JsonElement sp = j.get("speedup");
        double speedup = sp == null || sp.isJsonNull() ? 0 : sp.getAsDouble();
        int steps = j.getAsJsonObject("parameters").get("steps").getAsInt();
        if (baselineAtChance(j)) {
            // A speedup over a network that has not learnt anything is meaningless: the rule cannot hold.
            return new Claim("With BN the MNIST network trains faster and reaches higher test accuracy (Figure 1a).",
                    "Ioffe & Szegedy 2015, §4.1, Figure 1",
                    String.format(Locale.ROOT, "after %,d steps: test accuracy %s without BN, %s with BN; speedup undefined: baseline still at chance",
                            steps, RunOutput.pct(base), RunOutput.pct(bn)),
                    Verdict.of(false, bn >= base),
                    "holds if BN's final accuracy ≥ the baseline's and BN reaches the baseline's final accuracy in ≤ ½ the steps; partly if one of the two "
                            + "(speedup ≥ 1); the speedup is undefined while the baseline is at chance (accuracy ≤ " + CHANCE_LIMIT + ")");
        }
        return new Claim("With BN the MNIST network trains faster and reaches higher test accuracy (Figure 1a).",
                "Ioffe & Szegedy 2015, §4.1, Figure 1",
                String.format(Locale.ROOT, "after %,d steps: test accuracy %s without BN, %s with BN; %s", steps, RunOutput.pct(base),
                        RunOutput.pct(bn), speedup > 0 ? String.format(Locale.ROOT, "BN reached the baseline's final accuracy %.1f× sooner", speedup)
                                : "BN never reached the baseline's final accuracy"),
                Verdict.of(bn >= base && speedup >= 2, bn >= base || speedup >= 1),
                "holds if BN's final accuracy ≥ the baseline's and BN reaches the baseline's final accuracy in ≤ ½ the steps; partly if one of the two (speedup ≥ 1)");
    }

    /**
     * Figure 1 over several seeds ({@code mnist --seeds N}): the single run's rule asked of every seed (one seed is an
     * anecdote): holds when every seed's BN reaches the baseline's final accuracy in ≤ ½ the steps and ends at least as
     * high; partly when the median seed does one of the two; the speedup of a seed whose baseline stayed at chance
     * counts as not shown.
     */
    static Claim figure1SeedsClaim(JsonObject j) {
        JsonArray runs = j.getAsJsonArray("seed_runs");
        boolean all = true;
        for (JsonElement e : runs) {
            JsonObject r = e.getAsJsonObject();
            JsonElement sp = r.get("speedup");
            double speedup = sp == null || sp.isJsonNull() ? 0 : sp.getAsDouble();
            boolean chance = r.get("baseline_at_chance").getAsBoolean();
            all &= !chance && speedup >= 2 && r.get("bn_final_accuracy").getAsDouble() >= r.get("baseline_final_accuracy").getAsDouble();
        }
        JsonObject over = j.getAsJsonObject("over_seeds");
        double base = over.getAsJsonObject("baseline_final_accuracy").get("median").getAsDouble();
        double bn = over.getAsJsonObject("bn_final_accuracy").get("median").getAsDouble();
        double speedup = over.getAsJsonObject("speedup").get("median").getAsDouble();
        int steps = j.getAsJsonObject("parameters").get("steps").getAsInt();
        return new Claim("With BN the MNIST network trains faster and reaches higher test accuracy (Figure 1a).",
                "Ioffe & Szegedy 2015, §4.1, Figure 1",
                String.format(Locale.ROOT, "%d seeds, after %,d steps, median (min–max): test accuracy %s without BN, %s with BN; "
                        + "BN reached the baseline's final accuracy %s sooner", runs.size(), steps,
                        rangePct(over, "baseline_final_accuracy"), rangePct(over, "bn_final_accuracy"), rangeSpeedup(over)),
                Verdict.of(all, bn >= base || speedup >= 1),
                "holds if in every seed BN's final accuracy ≥ the baseline's and BN reaches the baseline's final accuracy in ≤ ½ the steps "
                        + "(with the baseline off chance); partly if the median seed does one of the two (speedup ≥ 1)");
    }

    private static String rangePct(JsonObject over, String figure) {
        JsonObject s = over.getAsJsonObject(figure);
        return RunOutput.pct(s.get("median").getAsDouble()) + " (" + RunOutput.pct(s.get("min").getAsDouble()) + "–"
                + RunOutput.pct(s.get("max").getAsDouble()) + ")";
    }

    private static String rangeSpeedup(JsonObject over) {
        JsonObject s = over.getAsJsonObject("speedup");
        int never = s.get("not_reached").getAsInt();
        if (Double.isNaN(s.get("median").getAsDouble())) return "in no seed (never reached)";
        return String.format(Locale.ROOT, "%.1f× (%.1f–%.1f×)%s", s.get("median").getAsDouble(), s.get("min").getAsDouble(),
                s.get("max").getAsDouble(), never > 0 ? ", and never in " + never + " seed" + (never == 1 ? "" : "s") : "");
    }

    /** The claims of a run: Figure 1's derived here, the experiments' from their summary.json. */
    public static List<Claim> claims(Found f) {
        List<Claim> out = new ArrayList<>();
        if (FIG1.equals(f.summary().get("experiment").getAsString())) {
            out.add(figure1Claim(f.summary()));
            return out;
        }
        JsonArray a = f.summary().getAsJsonArray("claims");
        if (a == null) return out;
        for (JsonElement e : a) {
            JsonObject c = e.getAsJsonObject();
            out.add(new Claim(c.get("claim").getAsString(), c.get("source").getAsString(), c.get("measurement").getAsString(),
                    Verdict.parse(c.get("verdict").getAsString()), c.get("rule").getAsString()));
        }
        return out;
    }

    /** Writes {@code runs/report.html} from what {@link #scan} finds; returns the page. */
    public static Path write(Path runs) throws IOException {
        Map<String, Found> found = scan(runs);
        Path out = runs.resolve(HTML);
        Files.createDirectories(runs);
        String page = html(found);
        List<Found> adHoc = adHoc(runs);
        if (!adHoc.isEmpty()) {
            StringBuilder sb = new StringBuilder("<h2>Ad-hoc runs</h2>\n<p>Runs with settings other than their experiment's protocol "
                    + "(default or quick); they are not used for any verdict above.</p>\n<table>\n<tr><th>Run</th><th>Experiment</th><th>Parameters</th></tr>\n");
            for (Found f : adHoc) {
                JsonObject p = f.summary().getAsJsonObject("parameters");
                sb.append("<tr><td><a href=\"").append(esc(f.dir())).append("/\">").append(esc(f.dir())).append("</a></td><td>")
                  .append(esc(f.summary().get("experiment").getAsString())).append("</td><td><code>").append(esc(p == null ? "" : p.toString()))
                  .append("</code></td></tr>\n");
            }
            sb.append("</table>\n");
            page = page.replace("</body>\n</html>\n", sb + "</body>\n</html>\n");
        }
        AtomicFiles.write(out, page.getBytes(StandardCharsets.UTF_8));
        return out;
    }

    static String html(Map<String, Found> found) {
        List<String> order = new ArrayList<>();
        for (Experiment<?, ?> e : Experiments.ALL) order.add(e.id());
        StringBuilder sb = new StringBuilder();
        sb.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>normlab: the evidence</title>\n<style>\n")
          .append("body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222;line-height:1.4}\n")
          .append("img{max-width:100%;border:1px solid #ddd;margin:.4em 0}figure{margin:1em 0}figcaption{font-size:.9em;color:#555}\n")
          .append("table{border-collapse:collapse;margin:1em 0;width:100%}td,th{padding:.35em .6em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}\n")
          .append(".v{font-weight:600;white-space:nowrap;padding:.1em .5em;border-radius:.3em}.holds{background:#d9f2dc}.partly{background:#fbeec9}")
          .append(".not{background:#f8d7d3}.rule{font-size:.85em;color:#666}.meta{font-size:.85em;color:#555}code{background:#f4f4f4;padding:0 .2em}\n")
          .append("</style>\n</head>\n<body>\n<h1>normlab: the paper's claims and its critics, measured</h1>\n")
          .append("<p>Each section states a claim from Batch Normalization (Ioffe &amp; Szegedy 2015) or from later work, our measurement, and ")
          .append("a verdict derived from the numbers by the rule shown under it (in code, not by hand). Quick runs use small data slices ")
          .append("and few steps; their numbers are indicative only.</p>\n");
        sb.append("<h2>Overview</h2>\n<table>\n<tr><th>Experiment</th><th>Claim</th><th>Source</th><th>Verdict</th></tr>\n");
        for (String name : order) {
            Found f = found.get(name);
            if (f == null) {
                sb.append("<tr><td><a href=\"#").append(name).append("\">").append(name).append("</a></td><td colspan=\"3\">not run yet</td></tr>\n");
                continue;
            }
            for (Claim c : claims(f)) {
                sb.append("<tr><td><a href=\"#").append(name).append("\">").append(name).append("</a></td><td>").append(esc(c.claim()))
                  .append("</td><td>").append(esc(c.source())).append("</td><td>").append(badge(c.verdict())).append("</td></tr>\n");
            }
        }
        sb.append("</table>\n");
        for (String name : order) {
            Found f = found.get(name);
            sb.append("<section id=\"").append(name).append("\">\n");
            if (f == null) {
                sb.append("<h2>").append(name).append("</h2>\n<p>Not run yet: <code>normlab ").append(Experiments.byId(name).name())
                  .append("</code> (or <code>normlab reproduce --all</code>).</p>\n</section>\n");
                continue;
            }
            JsonObject j = f.summary();
            String title = name.equals(FIG1) ? "Figure 1: MNIST with and without BN" : j.get("title").getAsString();
            sb.append("<h2>").append(esc(title)).append("</h2>\n<p class=\"meta\">Run <code>").append(esc(f.dir())).append("</code>");
            sb.append(isQuick(j) ? " · quick run" : " · full run");
            if (j.has("seeds")) sb.append(" · seeds ").append(esc(j.get("seeds").toString()));
            if (j.has("parameters") && j.getAsJsonObject("parameters").has("seed")) {
                sb.append(" · seed ").append(j.getAsJsonObject("parameters").get("seed").getAsString());
            }
            if (j.has("wall_seconds")) sb.append(" · ").append(String.format(Locale.ROOT, "%.0f s", j.get("wall_seconds").getAsDouble()));
            sb.append("</p>\n");
            for (Claim c : claims(f)) {
                sb.append("<table>\n<tr><th style=\"width:9em\">Claim</th><td>").append(esc(c.claim())).append("</td></tr>\n")
                  .append("<tr><th>Source</th><td>").append(esc(c.source())).append("</td></tr>\n")
                  .append("<tr><th>Our measurement</th><td>").append(esc(c.measurement())).append("</td></tr>\n")
                  .append("<tr><th>Verdict</th><td>").append(badge(c.verdict())).append(" <span class=\"rule\">Rule: ")
                  .append(esc(c.rule())).append("</span></td></tr>\n</table>\n");
            }
            if (j.has("parameters")) {
                sb.append("<p class=\"meta\">");
                boolean first = true;
                for (Map.Entry<String, JsonElement> e : j.getAsJsonObject("parameters").entrySet()) {
                    sb.append(first ? "" : " · ").append(esc(e.getKey().replace('_', ' '))).append(": ")
                      .append(esc(e.getValue().isJsonPrimitive() ? e.getValue().getAsString() : e.getValue().toString()));
                    first = false;
                }
                sb.append("</p>\n");
            }
            for (String[] ch : charts(j)) {
                String png = f.dir() + "/" + ch[0], svg = f.dir() + "/" + ch[1];
                sb.append("<figure><img src=\"").append(esc(png)).append("\" alt=\"").append(esc(ch[2])).append("\"><figcaption>")
                  .append(esc(ch[2])).append(" (<a href=\"").append(esc(svg)).append("\">SVG</a>)</figcaption></figure>\n");
            }
            sb.append("<p class=\"meta\">Files: ");
            for (String file : files(j)) sb.append("<a href=\"").append(esc(f.dir() + "/" + file)).append("\">").append(esc(file)).append("</a> ");
            sb.append("</p>\n</section>\n");
        }
        sb.append("</body>\n</html>\n");
        return sb.toString();
    }

    /** {png, svg, caption} of each chart of a run. */
    static List<String[]> charts(JsonObject j) {
        List<String[]> out = new ArrayList<>();
        if (FIG1.equals(j.get("experiment").getAsString()) && j.has("seed_runs")) {
            out.add(new String[] {MnistSeeds.CHART + ".png", MnistSeeds.CHART + ".svg",
                "(a) Test accuracy against training steps, without (dashed) and with BN, every seed; each seed's run has its own Figure 1."});
            return out;
        }
        if (FIG1.equals(j.get("experiment").getAsString())) {
            String[] caps = {"(a) Test accuracy against training steps, without and with BN.",
                "(b) Without BN: 15th, 50th and 85th percentiles of the input to one sigmoid of the last hidden layer.",
                "(c) With BN: the same percentiles for the same unit."};
            for (int i = 0; i < Fig1Charts.NAMES.size(); i++) out.add(new String[] {Fig1Charts.NAMES.get(i) + ".png", Fig1Charts.NAMES.get(i) + ".svg", caps[i]});
            return out;
        }
        JsonArray a = j.getAsJsonArray("charts");
        if (a != null) {
            for (JsonElement e : a) {
                JsonObject c = e.getAsJsonObject();
                out.add(new String[] {c.get("png").getAsString(), c.get("svg").getAsString(), c.get("caption").getAsString()});
            }
        }
        return out;
    }

    static List<String> files(JsonObject j) {
        List<String> out = new ArrayList<>();
        if (FIG1.equals(j.get("experiment").getAsString()) && j.has("seed_runs")) return List.of("report.html", MnistSeeds.CSV, "summary.json");
        if (FIG1.equals(j.get("experiment").getAsString())) return List.of("report.html", "metrics.csv", "summary.json");
        JsonArray a = j.getAsJsonArray("csv");
        if (a != null) for (JsonElement e : a) out.add(e.getAsString());
        out.add(RunOutput.SUMMARY);
        return out;
    }

    static String badge(Verdict v) {
        String cls = switch (v) {
            case HOLDS -> "holds";
            case PARTLY -> "partly";
            case DOES_NOT_HOLD -> "not";
        };
        return "<span class=\"v " + cls + "\">" + esc(v.text) + "</span>";
    }

    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
