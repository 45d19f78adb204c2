package normlab.lab;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import normlab.lab.evidence.EvidenceReport;
import normlab.lab.evidence.RunControl;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 16, scope 3: runs survive interruption. A real SIGINT to {@code normlab mnist} in a child JVM stops it at a step
 * boundary with its checkpoints, exit 130 and one line; {@code --resume} then finishes it bit for bit (weights,
 * metrics.csv, summary.json byte-identical to an uninterrupted run). The same for an evidence experiment through the
 * in-process stop flag. A diverging run names the network and the step and leaves its metrics, never a result.
 */
class ResumeTest {
    static final String[] MNIST = {"--steps", "1500", "--eval-every", "100", "--train-size", "3000", "--test-size", "500", "--threads", "2"};

    @BeforeAll
    static void headless() {
        System.setProperty("java.awt.headless", "true");
    }

    @AfterEach
    void clear() {
        RunControl.clearStop();
    }

    static String[] args(String[] base, String... more) {
        List<String> a = new ArrayList<>(List.of(base));
        a.addAll(List.of(more));
        return a.toArray(new String[0]);
    }

    @Test
    void sigintStopsMnistAndResumeIsBitIdentical(@TempDir Path tmp) throws Exception {
        Path ref = tmp.resolve("ref"), run = tmp.resolve("run");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(0, MnistEndToEndTest.run(out, withCommand("mnist", args(MNIST, "--out", ref.toString()))), out.toString(StandardCharsets.UTF_8));

        // The child JVM: normlab's own main (signal handlers installed). A shell that started us in the background may have
        // left SIGINT ignored, which a child inherits; perl (Debian's perl-base) restores the default first.
        List<String> cmd = new ArrayList<>();
        boolean perl = new File("/usr/bin/perl").canExecute();
        if (perl) cmd.addAll(List.of("/usr/bin/perl", "-e", "$SIG{INT}='DEFAULT'; exec @ARGV or die"));
        cmd.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--add-modules", "jdk.incubator.vector",
                "-Djava.awt.headless=true", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(withCommand("mnist", args(MNIST, "--out", run.toString(), "--checkpoint-every", "0.2"))));
        Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        List<String> err = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
            String line;
            boolean sent = false;
            while ((line = r.readLine()) != null) {
                err.add(line);
                // Without a terminal the progress is one line per tenth of the run: after the first, interrupt.
                if (!sent && line.matches("\\s+(baseline|bn)\\s+step.*")) {
                    new ProcessBuilder("kill", perl ? "-INT" : "-TERM", Long.toString(p.pid())).start().waitFor();
                    sent = true;
                }
            }
        }
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the child did not exit");
        String stderr = String.join("\n", err);
        assertEquals(130, p.exitValue(), stderr);
        List<String> lines = err.stream().filter(l -> !l.startsWith("WARNING") && !l.matches("\\s+(baseline|bn)\\s+step.*")).toList();
        assertEquals(1, lines.size(), stderr);
        Matcher m = Pattern.compile("normlab mnist: interrupted at step (\\d+) of 1500; resume with: \\./normlab mnist --resume "
                + Pattern.quote(run.toString())).matcher(lines.get(0));
        assertTrue(m.matches(), lines.get(0));
        assertTrue(Integer.parseInt(m.group(1)) < 1500, lines.get(0));
        assertFalse(stderr.contains("\tat "), stderr);
        // What an interrupted run leaves: its checkpoints, its metrics so far, run.json saying so, and no result.
        assertEquals("interrupted", state(run));
        assertTrue(Files.exists(run.resolve("bn.checkpoint.safetensors")) && Files.exists(run.resolve("baseline.checkpoint.safetensors")));
        assertTrue(Files.readAllLines(run.resolve("metrics.csv")).size() >= 3);
        assertFalse(Files.exists(run.resolve("summary.json")));
        assertTrue(EvidenceReport.scan(tmp).isEmpty() || !EvidenceReport.scan(tmp).get(EvidenceReport.FIG1).dir().equals("run"));

        out.reset();
        assertEquals(0, MnistEndToEndTest.run(out, "mnist", "--resume", run.toString()), out.toString(StandardCharsets.UTF_8));
        assertEquals("complete", state(run));
        for (String f : List.of("bn.safetensors", "baseline.safetensors", "metrics.csv", "summary.json", "bn.json", "baseline.json")) {
            assertArrayEquals(Files.readAllBytes(ref.resolve(f)), Files.readAllBytes(run.resolve(f)), f + " differs from the uninterrupted run");
        }
        // Resuming a finished run says so and changes nothing.
        out.reset();
        byte[] before = Files.readAllBytes(run.resolve("bn.safetensors"));
        assertEquals(0, MnistEndToEndTest.run(out, "mnist", "--resume", run.toString()));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("is complete; nothing to resume"), out.toString(StandardCharsets.UTF_8));
        assertArrayEquals(before, Files.readAllBytes(run.resolve("bn.safetensors")));
    }

    /**
     * Issue 18, scope 6: {@code mnist --seeds N} runs each seed as a complete run in DIR/seed-S and summarizes them; a
     * stop between or inside seeds resumes to the same files as an uninterrupted run, and each seed's run is the one a
     * single run with that --seed gives.
     */
    @Test
    void seedsRunOneRunPerSeedAndResumeToTheSameSummary(@TempDir Path tmp) throws Exception {
        String[] opts = {"--steps", "200", "--eval-every", "100", "--train-size", "1200", "--test-size", "200", "--threads", "2",
            "--checkpoint-every", "0", "--seeds", "2", "--seed", "4"};
        Path ref = tmp.resolve("ref"), run = tmp.resolve("run"), single = tmp.resolve("single");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(0, MnistEndToEndTest.run(out, withCommand("mnist", args(opts, "--out", ref.toString()))), out.toString(StandardCharsets.UTF_8));
        assertEquals("complete", state(ref));
        List<String> csv = Files.readAllLines(ref.resolve("seeds.csv"));
        assertEquals(3, csv.size(), String.join("\n", csv));
        assertTrue(csv.get(1).startsWith("4,seed-4,") && csv.get(2).startsWith("5,seed-5,"), String.join("\n", csv));
        // The summary's medians are those of the seeds' own summaries (two seeds: the mean of the two).
        JsonObject sum = JsonParser.parseString(Files.readString(ref.resolve("summary.json"))).getAsJsonObject();
        double a = JsonParser.parseString(Files.readString(ref.resolve("seed-4/summary.json"))).getAsJsonObject().get("bn_final_accuracy").getAsDouble();
        double b = JsonParser.parseString(Files.readString(ref.resolve("seed-5/summary.json"))).getAsJsonObject().get("bn_final_accuracy").getAsDouble();
        assertEquals((a + b) / 2, sum.get("bn_final_accuracy").getAsDouble(), 1e-12);
        assertEquals(Math.min(a, b), sum.getAsJsonObject("over_seeds").getAsJsonObject("bn_final_accuracy").get("min").getAsDouble(), 1e-12);
        assertTrue(Files.exists(ref.resolve("fig1a_accuracy_seeds.png")) && Files.exists(ref.resolve("report.html")));
        // The report reads the multi-seed run as a Figure 1 run (here an ad-hoc one: 200 steps), its claim over every seed.
        var found = EvidenceReport.adHoc(tmp).stream().filter(f -> f.dir().equals("ref")).findFirst().orElseThrow();
        assertTrue(EvidenceReport.claims(found).get(0).measurement().startsWith("2 seeds"), EvidenceReport.claims(found).get(0).measurement());

        // Seed 5's run is the single run of --seed 5.
        String[] one = {"--steps", "200", "--eval-every", "100", "--train-size", "1200", "--test-size", "200", "--threads", "2", "--seed", "5"};
        out.reset();
        assertEquals(0, MnistEndToEndTest.run(out, withCommand("mnist", args(one, "--out", single.toString()))), out.toString(StandardCharsets.UTF_8));
        assertArrayEquals(Files.readAllBytes(single.resolve("bn.safetensors")), Files.readAllBytes(ref.resolve("seed-5/bn.safetensors")));

        // Stopped once seed 4 is done (seed 5 under way or not yet started), then resumed.
        Thread watcher = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                if (Files.exists(run.resolve("seed-5"))) {
                    RunControl.requestStop();
                    return;
                }
                Thread.onSpinWait();
            }
        });
        watcher.setDaemon(true);
        watcher.start();
        out.reset();
        int code = MnistEndToEndTest.run(out, withCommand("mnist", args(opts, "--out", run.toString())));
        watcher.interrupt();
        String text = out.toString(StandardCharsets.UTF_8);
        assertEquals(130, code, text);
        assertTrue(text.contains("(seed 5); resume with: ./normlab mnist --resume " + run), text);
        assertEquals("interrupted", state(run));
        assertEquals("complete", state(run.resolve("seed-4")));
        assertFalse(Files.exists(run.resolve("summary.json")));
        RunControl.clearStop();
        out.reset();
        assertEquals(0, MnistEndToEndTest.run(out, "mnist", "--resume", run.toString()), out.toString(StandardCharsets.UTF_8));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("seed 4: complete"), out.toString(StandardCharsets.UTF_8));
        assertEquals("complete", state(run));
        for (String f : List.of("seeds.csv", "summary.json", "seed-4/bn.safetensors", "seed-5/bn.safetensors", "seed-5/metrics.csv")) {
            assertArrayEquals(Files.readAllBytes(ref.resolve(f)), Files.readAllBytes(run.resolve(f)), f + " differs from the uninterrupted run");
        }
    }

    /** {@code command} followed by {@code rest}. */
    static String[] withCommand(String command, String[] rest) {
        List<String> a = new ArrayList<>();
        a.add(command);
        a.addAll(List.of(rest));
        return a.toArray(new String[0]);
    }

    static String state(Path dir) throws Exception {
        JsonObject o = JsonParser.parseString(Files.readString(dir.resolve(RunControl.STATE))).getAsJsonObject();
        return o.get("state").getAsString();
    }

    @Test
    void stoppedExperimentResumesToTheSameResults(@TempDir Path tmp) throws Exception {
        String[] opts = {"--quick", "--seeds", "1", "--threads", "2", "--checkpoint-every", "0"};
        Path ref = tmp.resolve("ref"), run = tmp.resolve("run");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(0, MnistEndToEndTest.run(out, withCommand("lr-sweep", args(opts, "--out", ref.toString()))), out.toString(StandardCharsets.UTF_8));

        // Stop as soon as the first run has finished (its checkpoint marked done): the runs under way save theirs mid-run.
        Thread watcher = new Thread(() -> {
            Path ck = run.resolve("checkpoints");
            while (!Thread.currentThread().isInterrupted()) {
                try (var s = Files.list(ck)) {
                    if (s.anyMatch(f -> f.toString().endsWith(".safetensors"))) {
                        RunControl.requestStop();
                        return;
                    }
                } catch (Exception ignored) {
                    // not there yet
                }
                Thread.onSpinWait();
            }
        });
        watcher.setDaemon(true);
        watcher.start();
        out.reset();
        int code = MnistEndToEndTest.run(out, withCommand("lr-sweep", args(opts, "--out", run.toString())));
        watcher.interrupt();
        String text = out.toString(StandardCharsets.UTF_8);
        assertEquals(130, code, text);
        List<String> errs = text.lines().filter(l -> l.startsWith("normlab lr-sweep:")).toList();
        assertEquals(1, errs.size(), text);
        assertTrue(errs.get(0).matches("normlab lr-sweep: interrupted after \\d+ of 8 runs; resume with: \\./normlab lr-sweep --resume "
                + Pattern.quote(run.toString())), errs.get(0));
        assertEquals("interrupted", state(run));
        assertFalse(Files.exists(run.resolve("summary.json")));
        RunControl.clearStop();

        out.reset();
        assertEquals(0, MnistEndToEndTest.run(out, "lr-sweep", "--resume", run.toString()), out.toString(StandardCharsets.UTF_8));
        assertEquals("complete", state(run));
        // Everything but the wall-clock figures (seconds per step, wall seconds) is identical.
        assertEquals(withoutTiming(ref.resolve("runs.csv")), withoutTiming(run.resolve("runs.csv")));
        assertEquals(withoutTiming(ref.resolve("summary.json")), withoutTiming(run.resolve("summary.json")));
    }

    /** The file without its timing: the last CSV column (seconds_per_step), summary.json's wall_seconds line. */
    static String withoutTiming(Path f) throws Exception {
        return Files.readAllLines(f).stream().filter(l -> !l.contains("\"wall_seconds\""))
                .map(l -> f.toString().endsWith(".csv") ? l.substring(0, l.lastIndexOf(',')) : l).collect(Collectors.joining("\n"));
    }

    @Test
    void divergingRunNamesNetworkAndStepAndIsNoResult(@TempDir Path tmp) throws Exception {
        Path run = tmp.resolve("run");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int code = MnistEndToEndTest.run(out, "mnist", "--lr", "1e38", "--steps", "200", "--eval-every", "50", "--train-size", "600",
                "--test-size", "100", "--out", run.toString());
        String text = out.toString(StandardCharsets.UTF_8);
        List<String> lines = text.lines().filter(l -> l.startsWith("normlab mnist:")).toList();
        assertEquals(2, code, text);
        assertEquals(1, lines.size(), text);
        assertTrue(lines.get(0).matches("normlab mnist: the (baseline|bn) network diverged at step \\d+ .*try a smaller --lr.*"), lines.get(0));
        assertFalse(text.contains("\tat "), text);
        assertEquals("diverged", state(run));
        assertTrue(Files.exists(run.resolve("metrics.csv")));
        assertFalse(Files.exists(run.resolve("bn.checkpoint.safetensors")) || Files.exists(run.resolve("summary.json")));
        out.reset();
        assertEquals(3, MnistEndToEndTest.run(out, "mnist", "--resume", run.toString()));
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("diverged"), out.toString(StandardCharsets.UTF_8));
    }
}
