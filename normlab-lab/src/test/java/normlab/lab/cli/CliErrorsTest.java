package normlab.lab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import normlab.io.ModelFiles;
import com.google.gson.JsonObject;
import normlab.lab.Main;
import normlab.lab.evidence.RunControl;
import normlab.nn.Activation;
import normlab.nn.Linear;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm1d;
import normlab.tensor.Rng;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 16's error contract, for every subcommand and at least five bad inputs each: exit code non-zero, exactly one
 * line on stderr (besides a possible {@code warning:} line), no stack frames, and the working directory unchanged (no
 * partial run directory, existing files untouched).
 */
class CliErrorsTest {
    @TempDir
    static Path dir;

    static Path model, noBn, corrupt, existing, nonEmpty, roDir, noOnnx;

    @BeforeEach
    void files() throws IOException {
        if (model != null) return;
        Rng rng = new Rng(3);
        model = dir.resolve("m.safetensors");
        ModelFiles.save(new Sequential(new Linear(6, 8, rng), new BatchNorm1d(8), new Activation.ReLU(), new Linear(8, 3, rng)), model);
        noBn = dir.resolve("plain.safetensors");
        ModelFiles.save(new Sequential(new Linear(6, 8, rng), new Activation.ReLU(), new Linear(8, 3, rng)), noBn);
        noOnnx = dir.resolve("lnlstm.safetensors"); // a layer with no ONNX form
        ModelFiles.save(new Sequential(new normlab.rnn.Unflatten(2, 3), new normlab.rnn.NormLSTM(normlab.rnn.NormLSTM.Kind.LAYER, 3, 4, 2, true, rng),
                new normlab.rnn.LastStep()), noOnnx);
        corrupt = dir.resolve("corrupt.safetensors");
        ModelFiles.save(new Sequential(new Linear(6, 3, rng)), corrupt);
        Files.write(corrupt, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
        existing = dir.resolve("existing.txt");
        Files.writeString(existing, "precious\n");
        nonEmpty = dir.resolve("full");
        Files.createDirectories(nonEmpty);
        Files.writeString(nonEmpty.resolve("keep.txt"), "keep\n");
        Files.writeString(dir.resolve("inputs.txt"), "not tensors\n");
        // Interrupted runs to resume (with bad options): an mnist run and an lr-sweep run.
        JsonObject o = new JsonObject();
        o.addProperty("steps", 400);
        o.addProperty("batch", 60);
        o.addProperty("lr", 0.1);
        o.addProperty("std", 0.01);
        o.addProperty("seed", 1);
        o.addProperty("data", "mnist");
        o.addProperty("eval_every", 100);
        o.addProperty("unit", 0);
        o.addProperty("train_size", 600);
        o.addProperty("test_size", 100);
        o.addProperty("threads", 1);
        paused = dir.resolve("paused");
        RunControl.writeState(paused, "mnist", "interrupted", o, null);
        JsonObject e = new JsonObject();
        e.addProperty("quick", true);
        e.addProperty("seeds", 1);
        e.addProperty("seed", 1);
        e.addProperty("threads", 1);
        pausedSweep = dir.resolve("paused-sweep");
        RunControl.writeState(pausedSweep, "lr-sweep", "interrupted", e, null);
        // rnn runs: one without its own options (made before they existed), one with a --chunk it would now refuse.
        pausedRnnOld = dir.resolve("paused-rnn-old");
        RunControl.writeState(pausedRnnOld, "rnn", "interrupted", e, null);
        JsonObject r = e.deepCopy();
        r.addProperty("order", "rows");
        r.addProperty("chunk", "4");
        pausedRnn = dir.resolve("paused-rnn");
        RunControl.writeState(pausedRnn, "rnn", "interrupted", r, null);
        JsonObject bad = r.deepCopy();
        bad.addProperty("chunk", "5");
        pausedRnnBad = dir.resolve("paused-rnn-bad");
        RunControl.writeState(pausedRnnBad, "rnn", "interrupted", bad, null);
    }

    static Path paused, pausedSweep, pausedRnn, pausedRnnOld, pausedRnnBad;

    static String p(Path x) {
        return x.toString();
    }

    static String p(String name) {
        return dir.resolve(name).toString();
    }

    /** The bad invocations, by command. */
    static Map<String, List<String[]>> cases() {
        Map<String, List<String[]>> m = new TreeMap<>();
        String missingDir = p("no/such/dir/x.onnx");
        m.put("export", List.of(
                a("export", p("nope.safetensors"), "--input-shape", "6", "--out", p("x.onnx")),
                a("export", p(corrupt), "--input-shape", "6", "--out", p("x.onnx")),
                a("export", p(model), "--input-shape", "0", "--out", p("x.onnx")),
                a("export", p(model), "--input-shape", "a,b", "--out", p("x.onnx")),
                a("export", p(model), "--input-shape", "5", "--out", p("x.onnx")),
                a("export", p(model), "--input-shape", "6", "--out", p(dir)),
                a("export", p(model), "--input-shape", "6", "--out", p(existing)),
                a("export", p(model), "--input-shape", "6", "--out", missingDir),
                a("export", p(model), "--input-shape", "6"),
                a("export", p(noOnnx), "--input-shape", "6", "--out", p("x.onnx")),
                a("export", "--bogus")));
        m.put("bench-infer", List.of(
                a("bench-infer", p("nope.safetensors")),
                a("bench-infer", p(corrupt)),
                a("bench-infer", p(model), "--batch", "0"),
                a("bench-infer", p(model), "--threads", "0"),
                a("bench-infer", p(model), "--batch", "x"),
                a("bench-infer", p(model), "--input-shape", "5", "--reps", "1", "--chunk-ms", "1"),
                a("bench-infer", p(model), "--reps", "0"),
                a("bench-infer", p(model), "--out", p(existing)),
                a("bench-infer", p(model), "--out", p(dir)),
                a("bench-infer", p(model), "--bogus")));
        m.put("fold", List.of(
                a("fold", p("nope.safetensors"), "--out", p("f.safetensors")),
                a("fold", p(corrupt), "--out", p("f.safetensors")),
                a("fold", p(model), "--out", p(dir)),
                a("fold", p(model), "--out", p("no/such/dir/f.safetensors")),
                a("fold", p(model)),
                a("fold", p(model), "--out", p("f.safetensors"), "--bogus")));
        m.put("recalibrate", List.of(
                a("recalibrate", p(noBn), "--data", p("no-data"), "--out", p("r.safetensors")),
                a("recalibrate", p("nope.safetensors"), "--data", "mnist", "--out", p("r.safetensors")),
                a("recalibrate", p(model), "--data", "mnist", "--batches", "0", "--out", p("r.safetensors")),
                a("recalibrate", p(model), "--data", "mnist", "--split", "val", "--out", p("r.safetensors")),
                a("recalibrate", p(model), "--data", "mnist", "--input", "cube", "--out", p("r.safetensors")),
                a("recalibrate", p(model), "--out", p("r.safetensors")),
                a("recalibrate", p(model), "--data", p("no-data"), "--out", p("r.safetensors")),
                a("recalibrate", p(model), "--data", "mnist", "--out", p(dir))));
        m.put("mnist", List.of(
                a("mnist", "--lr", "Infinity", "--out", p("m1")),
                a("mnist", "--lr", "-1", "--out", p("m1")),
                a("mnist", "--steps", "0", "--out", p("m1")),
                a("mnist", "--threads", "0", "--out", p("m1")),
                a("mnist", "--out", p(existing)),
                a("mnist", "--out", p(nonEmpty)),
                a("mnist", "--batch", "x", "--out", p("m1")),
                a("mnist", "--bogus"),
                a("mnist", "--checkpoint-every", "-1", "--out", p("m1")),
                a("mnist", "--resume", p("no-such-run")),
                a("mnist", "--resume", p(nonEmpty)),
                a("mnist", "--resume", p(existing)),
                a("mnist", "--resume", p(paused), "--steps", "999"),
                a("mnist", "--resume", p(paused), "--out", p("m1")),
                a("mnist", "--resume", p(paused), "--force"),
                a("mnist", "--seeds", "0", "--out", p("m1")),
                a("mnist", "--resume", p(paused), "--seeds", "3"),
                a("mnist", "--resume", p(pausedSweep))));
        for (String e : List.of("lr-sweep", "init-sweep", "batch-sweep", "batch-stats", "shift", "dropout", "depth", "placement", "landscape", "zoo",
                "transformer", "rnn", "resnet", "paper-4-2", "regularization", "contrast")) {
            m.put(e, new ArrayList<>(List.of(
                    a(e, "--quick", "--seeds", "0", "--out", p("e1")),
                    a(e, "--quick", "--threads", "0", "--out", p("e1")),
                    a(e, "--quick", "--out", p(existing)),
                    a(e, "--quick", "--out", p(nonEmpty)),
                    a(e, "--quick", "--runs-dir", p(existing)),
                    a(e, "--quick", "--seeds", "x"),
                    a(e, "--bogus"),
                    a(e, "--resume", p("no-such-run")),
                    a(e, "--resume", p(nonEmpty)),
                    a(e, "--resume", p(paused)),
                    a(e, "--resume", p(pausedSweep), "--out", p("e1")),
                    a(e, "--quick", "--checkpoint-every", "x", "--out", p("e1")))));
        }
        m.get("lr-sweep").addAll(List.of(a("lr-sweep", "--resume", p(pausedSweep), "--seeds", "3"),
                a("lr-sweep", "--resume", p(pausedSweep), "--seed", "7")));
        m.get("batch-sweep").addAll(List.of(
                a("batch-sweep", "--quick", "--last-stage", "3", "--out", p("e1")),
                a("batch-sweep", "--quick", "--last-stage", "x", "--out", p("e1")),
                a("batch-sweep", "--quick", "--last-stage", "--out", p("e1")),
                a("batch-sweep", "--quick", "--nets", "cnn", "--out", p("e1")),
                a("batch-sweep", "--quick", "--nets", "mlp,mlp", "--out", p("e1")),
                a("batch-sweep", "--quick", "--nets", "", "--out", p("e1")),
                a("batch-sweep", "--quick", "--nets", "mlp", "--last-stage", "2", "--out", p("e1"))));
        m.get("resnet").add(a("resnet", "--quick", "--protocol", "huge", "--out", p("e1")));
        m.get("rnn").addAll(List.of(
                a("rnn", "--quick", "--chunk", "5", "--out", p("e1")),
                a("rnn", "--quick", "--chunk", "0", "--out", p("e1")),
                a("rnn", "--quick", "--chunk", "-4", "--out", p("e1")),
                a("rnn", "--quick", "--chunk", "x", "--out", p("e1")),
                a("rnn", "--quick", "--chunk", "--out", p("e1")),
                a("rnn", "--quick", "--order", "cols", "--out", p("e1")),
                a("rnn", "--resume", p(pausedRnn), "--chunk", "28"),
                a("rnn", "--resume", p(pausedRnn), "--order", "permuted"),
                a("rnn", "--resume", p(pausedRnnOld)),
                a("rnn", "--resume", p(pausedRnnBad))));
        m.put("report", List.of(
                a("report", "--runs-dir", p("typo")),
                a("report", "--runs-dir", p(existing)),
                a("report", "--runs-dir"),
                a("report", "extra"),
                a("report", "--bogus")));
        m.put("reproduce", List.of(
                a("reproduce"),
                a("reproduce", "--all", "--quick", "--seeds", "0", "--runs-dir", p("r1")),
                a("reproduce", "--all", "--quick", "--threads", "-1", "--runs-dir", p("r1")),
                a("reproduce", "--all", "--quick", "--runs-dir", p(existing)),
                a("reproduce", "--all", "--bogus"),
                a("reproduce", "--all", "--resume", "--runs-dir", p("r1"))));
        return m;
    }

    static String[] a(String... s) {
        return s;
    }

    @TestFactory
    Stream<DynamicTest> everyBadInputIsOneLineAndANonZeroExitWithNothingWritten() {
        List<DynamicTest> tests = new ArrayList<>();
        for (var e : cases().entrySet()) {
            assertTrue(e.getValue().size() >= 5, e.getKey() + " has fewer than 5 bad inputs");
            for (String[] args : e.getValue()) tests.add(DynamicTest.dynamicTest(String.join(" ", args), () -> check(args)));
        }
        return tests.stream();
    }

    static void check(String[] args) throws IOException {
        Map<String, String> before = snapshot();
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        PrintStream oldOut = System.out, oldErr = System.err;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int code;
        try {
            code = Main.commandLine().execute(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        String e = err.toString(StandardCharsets.UTF_8);
        String what = String.join(" ", args) + " → exit " + code + ", stderr:\n" + e + "stdout:\n" + out.toString(StandardCharsets.UTF_8);
        System.out.println(code + "  " + String.join(" ", args).replace(dir.toString(), "$T") + "\n     " + e.strip().replace(dir.toString(), "$T"));
        assertNotEquals(0, code, what);
        List<String> lines = Arrays.stream(e.split("\\R")).filter(l -> !l.isBlank() && !l.contains(": warning: ")).toList();
        assertEquals(1, lines.size(), what);
        assertTrue(lines.get(0).startsWith("normlab " + args[0]), what);
        assertFalse(e.contains("\tat ") || out.toString(StandardCharsets.UTF_8).contains("\tat "), what);
        assertEquals(before, snapshot(), "files changed by " + what);
        assertFalse(Files.exists(Path.of("runs")) && !RUNS_EXISTED, "created ./runs: " + what);
    }

    static final boolean RUNS_EXISTED = Files.exists(Path.of("runs"));

    /** Every file and directory under the temp dir, with its contents. */
    static Map<String, String> snapshot() throws IOException {
        Map<String, String> m = new TreeMap<>();
        try (var w = Files.walk(dir)) {
            for (Path f : (Iterable<Path>) w::iterator) {
                m.put(dir.relativize(f).toString(), Files.isDirectory(f) ? "/" : Arrays.toString(Files.readAllBytes(f)).hashCode() + ":" + Files.size(f));
            }
        }
        return m;
    }
}
