package normlab.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import normlab.dist.DataParallel;
import normlab.io.LayerTypes;
import normlab.io.Safetensors;
import normlab.models.MnistMlp;
import normlab.nn.CrossEntropyLoss;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Data-parallel training across executor JVMs: {@link SparkClusterRun}, started as a separate driver JVM with
 * {@code local-cluster[2,1,1024]} (two workers, each executor its own JVM), trains the BN MLP with replicas of 23 and
 * 37 rows per batch. The result equals one process with batch 60 (≤ 1e-6) and DataParallel on threads bit for bit, the
 * two ranks ran in two JVMs other than the driver, and a run whose rank-1 executor JVM halts at step 60 is retried by
 * Spark on a new executor, resumes from the step-50 checkpoint and ends with the uninterrupted run's weights.
 */
@Tag("spark")
class SparkClusterTest {
    static Map<String, Tensor> threads(Module model, boolean momentum, List<Tensor> xs, List<int[]> ys) {
        try (DataParallel dp = new DataParallel(model, 2, momentum ? SparkClusterRun::momentum : ps -> new SGD(ps, 0.1), 60_000)) {
            for (int t = 0; t < xs.size(); t++) dp.step(xs.get(t), ys.get(t), SparkClusterRun.SIZES);
            return dp.replica(0).stateDict();
        }
    }

    @Test
    void twoExecutorJvmsEqualOneProcessAndSurviveAKilledExecutor() throws Exception {
        Path out = Files.createTempDirectory("normlab-dp-cluster");
        Path home = Path.of("target", "spark-home").toAbsolutePath();
        Files.createDirectories(home.resolve("jars")); // Spark's launcher wants SPARK_HOME/jars; the classes come from extraClassPath
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"),
                SparkClusterRun.class.getName(), out.toString())
                .redirectErrorStream(true).redirectOutput(out.resolve("driver.log").toFile());
        pb.environment().put("SPARK_HOME", home.toString());
        pb.environment().put("SPARK_SCALA_VERSION", "2.13");
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        long t0 = System.nanoTime();
        Process p = pb.start();
        if (!p.waitFor(6, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("the cluster run did not finish within 6 minutes; see " + out.resolve("driver.log"));
        }
        System.out.printf("local-cluster run: %.1f s (driver JVM, master, 2 workers, executor JVMs, 2 trainings)%n", (System.nanoTime() - t0) / 1e9);
        assertEquals(0, p.exitValue(), "the driver failed; see " + out.resolve("driver.log") + ":\n" + tail(out.resolve("driver.log")));

        List<Tensor> xs = new ArrayList<>();
        List<int[]> ys = new ArrayList<>();
        SparkClusterRun.batches(xs, ys);
        Module model = MnistMlp.build(true, 0.01, new Rng(11));

        // 1. the plain run against one process with the whole batch, and against DataParallel on threads
        Safetensors.Contents plain = Safetensors.read(out.resolve("plain.safetensors"), true);
        Module single = LayerTypes.copy(model);
        SGD opt = new SGD(single.parameters(), 0.1);
        Tensor z = null;
        for (int t = 0; t < xs.size(); t++) {
            opt.zeroGrad();
            z = single.forward(xs.get(t)).copy();
            CrossEntropyLoss ce = new CrossEntropyLoss();
            ce.forward(z, ys.get(t));
            single.backwardParams(ce.backward());
            opt.step();
        }
        double outD = SparkDataParallelTest.relDiff(z.data, plain.tensors().get("__output").data), weights = 0, stats = 0;
        Map<String, Parameter> ps = single.namedParameters();
        for (Map.Entry<String, Tensor> e : single.stateDict().entrySet()) {
            double d = SparkDataParallelTest.relDiff(e.getValue().data, plain.tensors().get(e.getKey()).data);
            if (ps.containsKey(e.getKey())) weights = Math.max(weights, d);
            else stats = Math.max(stats, d);
        }
        Map<String, String> meta = plain.metadata();
        String[] procs = meta.get("processes").split(",");
        System.out.printf("local-cluster[2,1,1024], split 23/37, 100 steps (%s s, %.1f steps/s, ranks in %s, driver pid %s): vs one process: outputs %.2e, weights %.2e, running statistics %.2e%n",
                meta.get("seconds").substring(0, 4), 100 / Double.parseDouble(meta.get("stepSeconds")), meta.get("processes"), meta.get("driver"), outD, weights, stats);
        assertTrue(outD <= 1e-6 && weights <= 1e-6 && stats <= 1e-6, "differs from one process: " + outD + ", " + weights + ", " + stats);
        Map<String, Tensor> state = new HashMap<>(plain.tensors());
        state.remove("__output");
        SparkDataParallelTest.assertBitsEqual(threads(model, false, xs, ys), state);
        assertEquals(2, procs.length);
        assertNotEquals(procs[0], procs[1], "the two ranks ran in one JVM");
        for (String pr : procs) assertNotEquals(meta.get("driver"), pr.substring(0, pr.indexOf('@')), "a rank ran in the driver JVM");

        // 2. rank 1's executor JVM halted at step 60: Spark retried the stage, which resumed from step 50
        Safetensors.Contents killed = Safetensors.read(out.resolve("killed.safetensors"), true);
        System.out.printf("killed executor: finished in stage attempt %s, resumed from step %s, ranks in %s (%s s)%n",
                killed.metadata().get("attempt"), killed.metadata().get("resumedFrom"), killed.metadata().get("processes"),
                killed.metadata().get("seconds").substring(0, 4));
        assertEquals("1", killed.metadata().get("attempt"));
        assertEquals("50", killed.metadata().get("resumedFrom"));
        Map<String, Tensor> ks = new HashMap<>(killed.tensors());
        ks.remove("__output");
        SparkDataParallelTest.assertBitsEqual(threads(MnistMlp.build(true, 0.01, new Rng(12)), true, xs, ys), ks);
        SparkDataParallelTest.deleteTree(out); // kept when the test fails (driver.log)
    }

    static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (java.io.IOException e) {
            return "(no log)";
        }
    }
}
