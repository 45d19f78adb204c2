package normlab.lab.evidence;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import normlab.lab.experiments.MnistExperiment;
import normlab.lab.report.MnistReport;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The evidence report from a runs directory of tiny real runs (Figure 1 and two experiments, plus a stray directory
 * that must be ignored), then checked in a real browser: headless Chromium loads report.html from disk, a page-side
 * script confirms that every image decoded (complete and naturalWidth &gt; 0), and a screenshot is written.
 */
class ReportBrowserTest {
    @BeforeAll
    static void headless() {
        System.setProperty("java.awt.headless", "true");
    }

    static Settings quiet() {
        return new Settings(true, Runs.seeds(1, 2), 2, new PrintStream(new ByteArrayOutputStream()));
    }

    /** One end-to-end scenario (every experiment's quick run, the report, Chromium), kept in one method on purpose. */
    @Test
    void reportAssemblesEveryRunAndLoadsInChromium(@TempDir Path runs) throws Exception {
        MnistExperiment.Params mp = new MnistExperiment.Params(40, 60, 0.1, 0.01, 1, 2, 20, 0);
        MnistExperiment.Result mr = MnistExperiment.run(mp, Runs.data("mnist", true, 1000), Runs.data("mnist", false, 300),
                new MnistExperiment.Progress() {
                    public void onStep(String variant, int step) {}

                    public void onEval(String variant, MnistExperiment.Point p) {}
                });
        MnistReport.write(mr, "mnist slice", runs.resolve("mnist-1"));
        // mnist-1 is ad hoc (40 steps on a slice): listed apart. A copy with the quick protocol's parameters is Figure 1's run.
        Files.createDirectories(runs.resolve("mnist-0-quick"));
        try (var fs = Files.list(runs.resolve("mnist-1"))) {
            for (Path f : fs.toList()) if (Files.isRegularFile(f)) Files.copy(f, runs.resolve("mnist-0-quick").resolve(f.getFileName()));
        }
        com.google.gson.JsonObject sj = com.google.gson.JsonParser.parseString(Files.readString(runs.resolve("mnist-0-quick/summary.json"))).getAsJsonObject();
        MnistExperiment.Params dp = MnistExperiment.Params.defaults();
        com.google.gson.JsonObject pj = sj.getAsJsonObject("parameters");
        pj.addProperty("data", "mnist");
        pj.addProperty("steps", 5000);
        pj.addProperty("eval_every", 250);
        pj.addProperty("batch", dp.batch());
        pj.addProperty("lr", dp.lr());
        pj.addProperty("std", dp.std());
        pj.addProperty("unit", dp.unit());
        Files.writeString(runs.resolve("mnist-0-quick/summary.json"), sj.toString());
        new LrSweep().run(new LrSweep.Params(0.1, new double[] {1, 10}, 20, 60, 0.01, 600, 200), quiet()).write(runs.resolve("lr-sweep-1"));
        new Zoo().run(new Zoo.Params(8, 16, 0.02, 256, 128, 2), quiet()).write(runs.resolve("zoo-1"));
        // A newer quick run of an experiment that has a full run: the full run is shown.
        Path fullZoo = runs.resolve("zoo-1/summary.json");
        Files.createDirectories(runs.resolve("zoo-0-full"));
        for (String f : List.of("zoo_accuracy.png", "zoo_accuracy.svg", "zoo_step_time.png", "zoo_step_time.svg", "zoo_inference.png",
                "zoo_inference.svg", "zoo_layer_time.png", "zoo_layer_time.svg", "runs.csv", "norms.csv")) {
            Files.copy(runs.resolve("zoo-1").resolve(f), runs.resolve("zoo-0-full").resolve(f));
        }
        Files.writeString(runs.resolve("zoo-0-full/summary.json"), Files.readString(fullZoo).replace("\"quick\": true", "\"quick\": false"));
        Files.setLastModifiedTime(runs.resolve("zoo-0-full/summary.json"), java.nio.file.attribute.FileTime.fromMillis(0));
        Files.createDirectories(runs.resolve("junk"));
        Files.writeString(runs.resolve("junk/summary.json"), "{not json");

        Path page = EvidenceReport.write(runs);
        String html = Files.readString(page);
        for (String id : List.of("mnist-fig1", "lr-sweep", "zoo", "init-sweep", "batch-sweep", "shift", "dropout", "landscape")) {
            assertTrue(html.contains("<section id=\"" + id + "\">"), "missing section " + id);
        }
        assertTrue(html.contains("<h2>Ad-hoc runs</h2>") && html.contains("href=\"mnist-1/\""), "the ad-hoc mnist run is listed apart");
        assertTrue(html.contains("mnist-0-quick"), "the protocol run is Figure 1's");
        assertTrue(html.contains("Not run yet: <code>normlab batch-sweep</code>"), "experiments not run are listed with their command");
        assertTrue(html.contains("<code>zoo-0-full</code> · full run") && !html.contains("zoo-1/"), "a full run wins over a newer quick one");
        assertTrue(html.contains("Ioffe &amp; Szegedy 2015, §4.1, Figure 1") && html.contains("Zhang &amp; Sennrich 2019"), "sources");
        // Every image the page shows exists, by a path relative to the page.
        Matcher m = Pattern.compile("<img src=\"([^\"]+)\"").matcher(html);
        List<String> imgs = new ArrayList<>();
        while (m.find()) imgs.add(m.group(1));
        assertEquals(3 + 1 + 4, imgs.size(), imgs.toString());
        for (String i : imgs) assertTrue(!i.startsWith("/") && Files.size(runs.resolve(i)) > 1000, i);
        // One verdict per claim: Figure 1, lr-sweep, and zoo's two.
        assertEquals(4, count(html, "class=\"rule\">Rule: "));

        // In the browser: a copy of the page with a check script; every image must have decoded.
        Path check = runs.resolve("check.html");
        Files.writeString(check, html.replace("</body>", "<script>window.addEventListener('load',function(){var a=[].slice.call(document.images);"
                + "var bad=a.filter(function(i){return !(i.complete&&i.naturalWidth>0);}).map(function(i){return i.getAttribute('src');});"
                + "document.body.setAttribute('data-image-check','images='+a.length+' broken='+bad.length+' '+bad.join(' '));});</script></body>"));
        String dom = chromium(runs, "--dump-dom", "--virtual-time-budget=10000", check.toUri().toString());
        Matcher c = Pattern.compile("data-image-check=\"images=(\\d+) broken=(\\d+)([^\"]*)\"").matcher(dom);
        assertTrue(c.find(), "the check script did not run:\n" + dom.substring(0, Math.min(2000, dom.length())));
        assertEquals(imgs.size(), Integer.parseInt(c.group(1)));
        assertEquals(0, Integer.parseInt(c.group(2)), "images that did not load:" + c.group(3));

        Path shot = runs.resolve("report-screenshot.png");
        chromium(runs, "--screenshot=" + shot, "--window-size=1280,3000", "--hide-scrollbars", page.toUri().toString());
        byte[] png = Files.readAllBytes(shot);
        assertTrue(png.length > 10_000, "screenshot too small: " + png.length);
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(png, 4));
        Files.createDirectories(Path.of("target"));
        Files.copy(shot, Path.of("target", "evidence-report-screenshot.png"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    static int count(String s, String sub) {
        int n = 0;
        for (int i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + 1)) n++;
        return n;
    }

    /** Runs headless Chromium with a fresh profile; returns its stdout. Fails the test if it is missing or hangs. */
    static String chromium(Path work, String... args) throws IOException, InterruptedException {
        Path profile = Files.createTempDirectory(work, "chromium-profile");
        List<String> cmd = new ArrayList<>(List.of("chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile));
        cmd.addAll(Arrays.asList(args));
        Path out = work.resolve("chromium-out.txt"), err = work.resolve("chromium-err.txt");
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        } catch (IOException e) {
            throw new AssertionError("headless Chromium is needed for this test (apt-get install chromium): " + e.getMessage(), e);
        }
        if (!p.waitFor(90, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("chromium did not finish within 90 s: " + Files.readString(err));
        }
        assertEquals(0, p.exitValue(), "chromium failed: " + Files.readString(err));
        return Files.readString(out, StandardCharsets.UTF_8);
    }

}
