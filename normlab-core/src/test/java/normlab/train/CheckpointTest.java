package normlab.train;

import normlab.models.MnistMlp;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import normlab.io.ModelFileException;
import normlab.io.ModelFiles;
import normlab.io.Safetensors;
import normlab.nn.Module;
import normlab.optim.Adam;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crash-safe checkpoints: resuming gives bit-identical weights, damaged files are refused, and a child JVM killed with
 * SIGKILL in the middle of saving leaves a checkpoint that loads, verifies and resumes to the uninterrupted result.
 */
class CheckpointTest {
    @TempDir
    Path dir;

    /** Every parameter, buffer and optimizer-state value equal bit for bit. */
    static void assertSameState(Trainer expected, Trainer actual) {
        assertEquals(expected.steps(), actual.steps(), "steps");
        Map<String, Tensor> a = expected.model().stateTensors(), b = actual.model().stateTensors();
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) assertArrayEquals(a.get(k).data, b.get(k).data, 0f, k);
        Map<String, Tensor> oa = expected.optimizer().state(), ob = actual.optimizer().state();
        assertEquals(oa.keySet(), ob.keySet());
        for (String k : oa.keySet()) assertArrayEquals(oa.get(k).data, ob.get(k).data, 0f, "optimizer " + k);
    }

    static Trainer run(Trainer t, int steps) {
        while (t.steps() < steps) t.step();
        return t;
    }

    @Test
    void resumedTrainingIsBitIdenticalSgd() throws IOException {
        Trainer straight = run(CheckpointChild.trainer(7), 23); // 23·60 examples: crosses 4 epoch boundaries of 300
        Trainer first = run(CheckpointChild.trainer(7), 9);
        Path f = dir.resolve("ckpt.safetensors");
        Checkpoints.save(f, first, Map.of("note", "x"));
        Trainer resumed = CheckpointChild.trainer(12345); // other init and shuffle seeds: the checkpoint must override them
        Map<String, String> meta = Checkpoints.resume(f, resumed);
        assertEquals("9", meta.get("step"));
        assertEquals("x", meta.get("note"));
        assertSameState(first, resumed);
        assertSameState(straight, run(resumed, 23));
    }

    @Test
    void resumedTrainingIsBitIdenticalAdam() throws IOException {
        java.util.function.LongFunction<Trainer> make = seed -> {
            Module m = MnistMlp.build(true, 1.0, new Rng(seed));
            return new Trainer(m, Adam.adamW(m.parameters(), 1e-3, 1e-2, true), CheckpointChild.data(), 50, new Rng(seed + 1), true);
        };
        Trainer straight = run(make.apply(3), 14);
        Trainer first = run(make.apply(3), 5);
        Path f = dir.resolve("adam.safetensors");
        Checkpoints.save(f, first, Map.of());
        Trainer resumed = make.apply(77);
        Checkpoints.resume(f, resumed);
        assertSameState(straight, run(resumed, 14));
    }

    /** A CNN with BatchNorm and Dropout: the dropout generator is part of the checkpoint too. */
    @Test
    void resumedTrainingIsBitIdenticalWithDropout() throws IOException {
        java.util.function.LongFunction<Trainer> make = seed -> {
            Module m = new normlab.nn.Sequential(new normlab.nn.Conv2d(1, 3, 3, new Rng(seed)), new normlab.norm.BatchNorm2d(3),
                    new normlab.nn.Activation.ReLU(), new normlab.nn.Dropout(0.3, new Rng(seed + 2)), new normlab.nn.MaxPool2d(2),
                    new normlab.nn.Flatten(), new normlab.nn.Linear(3 * 13 * 13, 10, new Rng(seed + 3)));
            return new Trainer(m, new normlab.optim.SGD(m.parameters(), 0.05, 0.9, false, 0, false), CheckpointChild.data(), 20,
                    new Rng(seed + 1), false);
        };
        Trainer straight = run(make.apply(3), 8);
        Trainer first = run(make.apply(3), 3);
        Path f = dir.resolve("cnn.safetensors");
        Checkpoints.save(f, first, Map.of());
        Trainer resumed = make.apply(40);
        Checkpoints.resume(f, resumed);
        assertSameState(straight, run(resumed, 8));
    }

    @Test
    void checkpointOpensAsAModel() throws IOException {
        Trainer t = run(CheckpointChild.trainer(7), 2);
        Path f = dir.resolve("m.safetensors");
        Checkpoints.save(f, t, Map.of());
        Module m = ModelFiles.load(f);
        for (var e : t.model().stateTensors().entrySet()) {
            assertArrayEquals(e.getValue().data, m.stateTensors().get(e.getKey()).data, 0f, e.getKey());
        }
    }

    @Test
    void damagedOrForeignCheckpointsAreRefused() throws IOException {
        Trainer t = run(CheckpointChild.trainer(7), 2);
        Path f = dir.resolve("c.safetensors");
        Checkpoints.save(f, t, Map.of());
        byte[] good = Files.readAllBytes(f);
        // One flipped bit in the weights: the checksum catches it.
        byte[] bad = good.clone();
        bad[bad.length - 1000] ^= 0x10;
        Files.write(f, bad);
        ModelFileException e = assertThrows(ModelFileException.class, () -> Checkpoints.resume(f, CheckpointChild.trainer(1)));
        assertTrue(e.getMessage().contains("checksum mismatch"), e.getMessage());
        // A plain model file (no training state) is not a checkpoint.
        Path plain = dir.resolve("plain.safetensors");
        ModelFiles.save(t.model(), plain);
        e = assertThrows(ModelFileException.class, () -> Checkpoints.resume(plain, CheckpointChild.trainer(1)));
        assertTrue(e.getMessage().contains("not a training checkpoint"), e.getMessage());
        // Truncated: refused.
        Files.write(f, java.util.Arrays.copyOf(good, good.length / 2));
        assertThrows(ModelFileException.class, () -> Checkpoints.resume(f, CheckpointChild.trainer(1)));
    }

    /**
     * Starts a child JVM that trains and checkpoints after every step, kills it with SIGKILL at a random moment
     * inside a save (it announces each save; the delay is uniform over the last save's duration), four times — each child resuming from what the last one left. After each
     * kill the checkpoint must load and verify, hold a step at least the last one the child reported, and no partial
     * file may be visible under the checkpoint's name. Finally the parent resumes and trains on: the weights must equal
     * an uninterrupted run's bit for bit.
     */
    @Test
    void sigkillDuringSaveLeavesALoadableCheckpoint() throws Exception {
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path ckpt = dir.resolve("ckpt.safetensors");
        Rng jitter = new Rng(99);
        int lastReported = 0, leftovers = 0, interrupted = 0;
        for (int kill = 0; kill < 4; kill++) {
            Process p = new ProcessBuilder(javaBin, "--add-modules", "jdk.incubator.vector", "-Xmx512m", "-cp",
                    System.getProperty("java.class.path"), CheckpointChild.class.getName(), dir.toString(), "100000")
                    .redirectErrorStream(true).start();
            int target = lastReported + 2, seen = -1;
            long saveMicros = 1000;
            List<String> out = new ArrayList<>();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    out.add(line);
                    String[] w = line.split(" ");
                    if (w[0].equals("saved")) {
                        seen = Integer.parseInt(w[1]);
                        saveMicros = Long.parseLong(w[2]);
                    } else if (w[0].equals("saving") && Integer.parseInt(w[1]) > target) {
                        break; // the child is now inside Checkpoints.save
                    }
                }
                assertTrue(seen >= target, "child stopped before step " + target + ": " + out);
                // Kill at a random point of a save (the last save's duration), with SIGKILL: no shutdown hooks, no finally.
                java.util.concurrent.locks.LockSupport.parkNanos(1000L * jitter.nextInt((int) Math.max(1, saveMicros)));
                p.destroyForcibly();
                assertTrue(p.waitFor(30, TimeUnit.SECONDS), "child did not die");
            } finally {
                p.destroyForcibly();
            }
            lastReported = seen;
            try (Stream<Path> s = Files.list(dir)) {
                leftovers += (int) s.filter(x -> x.getFileName().toString().endsWith(".tmp")).count();
            }
            Safetensors.read(ckpt, true); // the checkpoint is complete and its checksum verifies
            Trainer probe = CheckpointChild.trainer(5);
            Checkpoints.resume(ckpt, probe);
            // The child may finish further saves between our decision and the kill (under load), never lose one.
            assertTrue(probe.steps() >= seen, "checkpoint at step " + probe.steps() + " after the child reported " + seen);
            if (probe.steps() == seen) interrupted++; // the announced save of step seen + 1 never completed
            lastReported = probe.steps();
        }
        System.out.println("CheckpointTest: 4 SIGKILLs, " + interrupted + " interrupted a save, " + leftovers
                + " left a temporary file behind; the previous checkpoint loaded every time");
        Trainer resumed = CheckpointChild.trainer(5);
        Checkpoints.resume(ckpt, resumed);
        int end = resumed.steps() + 3;
        assertSameState(run(CheckpointChild.trainer(7), end), run(resumed, end));
    }

    /** A checkpoint whose checksum is fine but whose training state is inconsistent is refused and loads nothing. */
    @Test
    void inconsistentCheckpointLoadsNothing() throws IOException {
        Trainer source = run(CheckpointChild.trainer(7), 4);
        Path good = dir.resolve("good.safetensors");
        Checkpoints.save(good, source, Map.of());
        Map<String, String> meta = new java.util.LinkedHashMap<>(normlab.io.Safetensors.read(good).metadata());
        meta.put("sampler.position", "not a number");
        Map<String, normlab.tensor.Tensor> extra = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, normlab.tensor.Tensor> e : normlab.io.Safetensors.read(good).tensors().entrySet()) {
            if (e.getKey().startsWith("extra/")) extra.put(e.getKey().substring("extra/".length()), e.getValue());
        }
        Path bad = dir.resolve("bad.safetensors");
        normlab.io.ModelFiles.save(source.model(), bad, meta, extra); // valid checksum, inconsistent contents
        Trainer target = CheckpointChild.trainer(99);
        Map<String, normlab.tensor.Tensor> before = target.model().stateDict();
        int stepsBefore = target.steps();
        assertThrows(normlab.io.ModelFileException.class, () -> Checkpoints.resume(bad, target));
        Map<String, normlab.tensor.Tensor> after = target.model().stateDict();
        for (String k : before.keySet()) assertArrayEquals(before.get(k).data, after.get(k).data, k);
        assertEquals(stepsBefore, target.steps());
    }
}
