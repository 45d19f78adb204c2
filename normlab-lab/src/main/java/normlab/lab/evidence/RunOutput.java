package normlab.lab.evidence;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import normlab.io.AtomicFiles;
import org.knowm.xchart.internal.chartpart.Chart;

/**
 * What one experiment run leaves in its run directory, written the same way for every experiment: CSV tables (one
 * row per run and setting), charts (PNG + SVG) and {@code summary.json}, which holds the experiment's name and title,
 * whether it was a quick run, the seeds, the parameters, the headline results, the claims with their verdicts, and
 * the chart and CSV files — everything {@link EvidenceReport} needs to assemble its section without rerunning.
 */
public final class RunOutput implements Published {
    public static final String SUMMARY = "summary.json";

    public final String experiment;
    public final String title;
    public final boolean quick;
    public final List<Long> seeds;
    public final JsonObject parameters = new JsonObject();
    public final JsonObject results = new JsonObject();
    public final List<Claim> claims = new ArrayList<>();
    private final Map<String, StringBuilder> csv = new LinkedHashMap<>();
    private final Map<String, Chart<?, ?>> charts = new LinkedHashMap<>();
    private final Map<String, String> captions = new LinkedHashMap<>();
    private double wallSeconds;
    /** A non-default setting the run was made with (e.g. {@code --last-stage 2}), or null for the experiment's protocol. */
    private String setting;

    public RunOutput(String experiment, String title, boolean quick, List<Long> seeds) {
        this.experiment = experiment;
        this.title = title;
        this.quick = quick;
        this.seeds = List.copyOf(seeds);
    }

    /**
     * Marks the run as made with a non-default setting of its experiment ({@code setting}, e.g. "--last-stage 2"; null:
     * the protocol). summary.json records it, and the report lists such a run apart instead of showing it as the
     * experiment's section. Returns this.
     */
    public RunOutput setting(String setting) {
        this.setting = setting;
        return this;
    }

    /** Starts CSV file {@code name} with its header columns. */
    public void table(String name, String... header) {
        csv.put(name, new StringBuilder(String.join(",", header)).append('\n'));
    }

    /** Appends a row to CSV file {@code name}; doubles in full precision (NaN/Infinity written as such), others as text. */
    public void row(String name, Object... cells) {
        StringBuilder sb = csv.get(name);
        if (sb == null) throw new IllegalArgumentException("no table " + name);
        for (int i = 0; i < cells.length; i++) {
            if (i > 0) sb.append(',');
            Object c = cells[i];
            sb.append(c instanceof Double d ? (Double.isFinite(d) ? String.format(Locale.ROOT, "%.6g", d) : d.toString())
                    : String.valueOf(c).replace(',', ';'));
        }
        sb.append('\n');
    }

    public void chart(String name, String caption, Chart<?, ?> c) {
        charts.put(name, c);
        captions.put(name, caption);
    }

    public void claim(Claim c) {
        claims.add(c);
    }

    /**
     * Adds parameters to summary.json from pairs key, value, key, value, …: numbers stay numbers, anything else is
     * written as text. Returns this.
     */
    public RunOutput describe(Object... keysAndValues) {
        for (int i = 0; i < keysAndValues.length; i += 2) {
            String k = (String) keysAndValues[i];
            Object v = keysAndValues[i + 1];
            if (v instanceof Number n) parameters.addProperty(k, n);
            else parameters.addProperty(k, String.valueOf(v));
        }
        return this;
    }

    @Override
    public List<Claim> claims() {
        return claims;
    }

    @Override
    public void wallSeconds(double s) {
        wallSeconds = s;
    }

    public List<String> chartNames() {
        return List.copyOf(charts.keySet());
    }

    /** Writes every CSV, chart and summary.json into {@code dir} (created if needed). */
    @Override
    public void write(Path dir) throws IOException {
        Files.createDirectories(dir);
        for (Map.Entry<String, StringBuilder> e : csv.entrySet()) {
            AtomicFiles.write(dir.resolve(e.getKey()), e.getValue().toString().getBytes(StandardCharsets.UTF_8));
        }
        for (Map.Entry<String, Chart<?, ?>> e : charts.entrySet()) Charts.save(e.getValue(), dir, e.getKey());
        AtomicFiles.write(dir.resolve(SUMMARY), summaryJson().getBytes(StandardCharsets.UTF_8));
    }

    public String summaryJson() {
        JsonObject o = new JsonObject();
        o.addProperty("experiment", experiment);
        o.addProperty("title", title);
        o.addProperty("quick", quick);
        if (setting != null) o.addProperty("setting", setting);
        JsonArray s = new JsonArray();
        seeds.forEach(s::add);
        o.add("seeds", s);
        o.addProperty("wall_seconds", Math.round(wallSeconds * 10) / 10.0);
        JsonArray cl = new JsonArray();
        for (Claim c : claims) {
            JsonObject j = new JsonObject();
            j.addProperty("claim", c.claim());
            j.addProperty("source", c.source());
            j.addProperty("measurement", c.measurement());
            j.addProperty("verdict", c.verdict().text);
            j.addProperty("rule", c.rule());
            cl.add(j);
        }
        o.add("claims", cl);
        o.add("results", results);
        o.add("parameters", parameters);
        JsonArray ch = new JsonArray();
        for (String n : charts.keySet()) {
            JsonObject j = new JsonObject();
            j.addProperty("png", n + ".png");
            j.addProperty("svg", n + ".svg");
            j.addProperty("caption", captions.get(n));
            ch.add(j);
        }
        o.add("charts", ch);
        JsonArray files = new JsonArray();
        csv.keySet().forEach(files::add);
        o.add("csv", files);
        JsonObject m = new JsonObject();
        m.addProperty("cores", Runtime.getRuntime().availableProcessors());
        m.addProperty("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        o.add("machine", m);
        return new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create().toJson(o) + "\n";
    }

    /** Formats a fraction as a percentage with one decimal, e.g. 0.9731 → "97.3 %". */
    public static String pct(double x) {
        return String.format(Locale.ROOT, "%.1f %%", 100 * x);
    }

    /** "mean ± sd" of a spread of fractions, in percent. */
    public static String pct(Spread s) {
        return String.format(Locale.ROOT, "%.1f ± %.1f %%", 100 * s.mean(), 100 * s.sd());
    }

    /** A number with three significant digits and no trailing zeros: 0.1, 3, 0.0123, 1.5e+35, 12345. */
    public static String num(double x) {
        if (!Double.isFinite(x)) return Double.toString(x);
        if (x == 0 || Math.abs(x) >= 1000 && Math.abs(x) < 1e7) return String.format(Locale.ROOT, "%.0f", x);
        String g = String.format(Locale.ROOT, "%.3g", x);
        if (g.contains("e")) return g;
        return new java.math.BigDecimal(g).stripTrailingZeros().toPlainString();
    }
}
