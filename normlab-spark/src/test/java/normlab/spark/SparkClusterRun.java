package normlab.spark;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import normlab.data.Dataset;
import normlab.data.Datasets;
import normlab.io.Safetensors;
import normlab.models.MnistMlp;
import normlab.nn.Parameter;
import normlab.optim.Optimizer;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * The driver of {@link SparkClusterTest}, run by it as a separate JVM (so that {@code SPARK_HOME} and
 * {@code SPARK_SCALA_VERSION} are in its environment): starts {@code local-cluster[2,1,1024]} (a master and two
 * workers in this JVM, each executor a JVM of its own), trains the BN MLP with 2 replicas, then trains again while
 * rank 1's executor JVM kills itself at step 60 of the first stage attempt; writes both results to {@code outDir}.
 */
public final class SparkClusterRun {
    static final int B = 60, STEPS = 100;
    static final int[] SIZES = {23, 37};

    /** Batch t of the first 6,000 Fashion-MNIST training images (the batches SparkDataParallelTest uses). */
    static void batches(List<Tensor> xs, List<int[]> ys) throws java.io.IOException {
        Dataset fm = Datasets.fashionMnist(true).slice(0, 6000);
        for (int t = 0; t < STEPS; t++) {
            int from = (t * B) % 6000;
            xs.add(Tensor.of(Arrays.copyOfRange(fm.images, from * 784, (from + B) * 784), B, 784));
            ys.add(Arrays.copyOfRange(fm.labels, from, from + B));
        }
    }

    static Optimizer momentum(List<Parameter> ps) {
        return new SGD(ps, 0.1, 0.9, false, 0, false);
    }

    /** Momentum SGD; rank 1's executor JVM halts (as if killed) before its 60th update in the first stage attempt. */
    static Optimizer killOnce(List<Parameter> ps) {
        Optimizer sgd = momentum(ps);
        BarrierTaskContext ctx = BarrierTaskContext.get();
        if (ctx.partitionId() != 1 || ctx.stageAttemptNumber() != 0) return sgd;
        return new SparkDataParallelTest.Faulty(sgd, 60, false) {
            @Override
            public void step() {
                if (steps + 1 == atStep) Runtime.getRuntime().halt(137);
                super.step();
            }
        };
    }

    public static void main(String[] args) throws Exception {
        Path out = Path.of(args[0]);
        String master = args.length > 1 ? args[1] : "local-cluster[2,1,1024]";
        List<Tensor> xs = new ArrayList<>();
        List<int[]> ys = new ArrayList<>();
        batches(xs, ys);
        JavaSparkContext sc = new JavaSparkContext(Spark.conf(master, "normlab-dp-cluster")
                .set("spark.executor.extraClassPath", System.getProperty("java.class.path"))
                .set("spark.executor.memory", "768m"));
        try {
            long t0 = System.nanoTime();
            SparkDataParallel.Result plain = SparkDataParallel.train(sc, MnistMlp.build(true, 0.01, new Rng(11)), ps -> new SGD(ps, 0.1),
                    SparkDataParallel.shards(xs, ys, SIZES), new SparkDataParallel.Options(30_000, 0, null));
            write(out.resolve("plain.safetensors"), plain, (System.nanoTime() - t0) / 1e9);
            t0 = System.nanoTime();
            SparkDataParallel.Result killed = SparkDataParallel.train(sc, MnistMlp.build(true, 0.01, new Rng(12)), SparkClusterRun::killOnce,
                    SparkDataParallel.shards(xs, ys, SIZES), new SparkDataParallel.Options(30_000, 25, out.resolve("ckpt").toString()));
            write(out.resolve("killed.safetensors"), killed, (System.nanoTime() - t0) / 1e9);
        } finally {
            sc.stop();
        }
    }

    static void write(Path file, SparkDataParallel.Result r, double seconds) throws java.io.IOException {
        Map<String, Tensor> t = new HashMap<>(r.model().stateDict());
        t.put("__output", r.lastOutput());
        Safetensors.write(file, t, Map.of("attempt", Integer.toString(r.attempt()), "resumedFrom", Integer.toString(r.resumedFrom()),
                "processes", String.join(",", r.processes()), "driver", Long.toString(ProcessHandle.current().pid()),
                "seconds", Double.toString(seconds), "stepSeconds", Double.toString(r.stepSeconds())));
        Files.writeString(file.resolveSibling(file.getFileName() + ".done"), "");
    }
}
