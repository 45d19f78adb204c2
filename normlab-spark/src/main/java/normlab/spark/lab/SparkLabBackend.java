package normlab.spark.lab;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import normlab.infer.Recalibrate;
import normlab.lab.cli.CliErrors;
import normlab.lab.cli.SparkBackend;
import normlab.lab.evidence.RemoteRuns;
import normlab.lab.evidence.RunControl;
import normlab.lab.evidence.Settings;
import normlab.lab.evidence.SweepWorker;
import normlab.nn.Module;
import normlab.spark.Spark;
import normlab.spark.SparkRecalibrate;
import normlab.tensor.Tensor;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import scala.Tuple2;

/**
 * The lab's {@code --spark} backend (found by {@link java.util.ServiceLoader} as a {@link SparkBackend}).
 * <ul>
 *   <li>Sweeps: each run of a sweep (experiment, setting, seed: its key {@code run-003}) is one Spark task, which calls
 *   {@link SweepWorker#train} with the experiment's name, quick or full, seeds and own options, and the checkpoints the
 *   command's session holds (a broadcast); the task returns the run's done checkpoint, from which the command then
 *   resumes the run, so its results are a local run's.</li>
 *   <li>Recalibrate: the samples of the command's batches become an RDD of rows, one partition per executor core, and
 *   {@link SparkRecalibrate} computes the population statistics.</li>
 * </ul>
 * A task's failure comes back as one line naming the experiment and the run; a stop request (Ctrl-C) cancels the
 * sweep's job and ends the command as interrupted.
 */
public final class SparkLabBackend implements SparkBackend {
    @Override
    public Cluster connect(String master, String app) {
        SparkConf conf = Spark.conf(master, app);
        // Not started by spark-submit on a cluster: the executors need normlab's classes, i.e. the jar this class came from.
        if (!master.startsWith("local") && !conf.contains("spark.jars")) {
            Path jar = ownJar();
            if (jar != null) conf.setJars(new String[] {jar.toString()});
        }
        try {
            JavaSparkContext sc = new JavaSparkContext(conf);
            sc.setLogLevel("WARN");
            return new SparkCluster(sc);
        } catch (Exception e) { // SparkException is checked in Java's eyes, thrown undeclared by Scala
            throw CliErrors.usage("--spark " + master + ": cannot start Spark: " + rootMessage(e));
        }
    }

    /** The jar holding this class, or null when it runs from a classes directory (tests). */
    private static Path ownJar() {
        try {
            Path p = Path.of(SparkLabBackend.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return Files.isRegularFile(p) ? p : null;
        } catch (URISyntaxException | RuntimeException e) {
            return null;
        }
    }

    /** The innermost cause's first line. */
    static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) t = t.getCause();
        String m = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        return m.lines().findFirst().orElse("").trim();
    }

    /** A Spark context serving the lab's commands. */
    static final class SparkCluster implements Cluster {
        private final JavaSparkContext sc;
        private final AtomicInteger jobs = new AtomicInteger();

        SparkCluster(JavaSparkContext sc) {
            this.sc = sc;
        }

        @Override
        public RemoteRuns runs(String experiment, Settings s) {
            boolean quick = s.quick();
            ArrayList<Long> seeds = new ArrayList<>(s.seeds());
            HashMap<String, String> options = new HashMap<>(s.options());
            return (keys, checkpoints) -> {
                long t0 = System.nanoTime();
                Map<String, byte[]> out = train(experiment, quick, seeds, options, keys, checkpoints);
                s.say("  %s: %d run%s trained as Spark tasks on %s in %.1f s", experiment, keys.size(), keys.size() == 1 ? "" : "s", sc.master(),
                        (System.nanoTime() - t0) / 1e9);
                return out;
            };
        }

        private Map<String, byte[]> train(String experiment, boolean quick, ArrayList<Long> seeds, HashMap<String, String> options,
                                          List<String> keys, Map<String, byte[]> checkpoints) throws IOException {
            Broadcast<HashMap<String, byte[]>> given = sc.broadcast(new HashMap<>(checkpoints));
            String group = "normlab-" + experiment + "-" + jobs.incrementAndGet();
            sc.setJobGroup(group, experiment + ": " + keys.size() + " runs", true);
            JavaRDD<String> runs = sc.parallelize(keys, keys.size());
            JavaRDD<Tuple2<String, byte[]>> trained = runs.map(key -> {
                try {
                    return new Tuple2<>(key, SweepWorker.train(experiment, quick, seeds, options, key, given.value()));
                } catch (RunControl.Stopped stopped) {
                    throw stopped;
                } catch (Exception e) {
                    throw new IllegalStateException(experiment + " " + key + ": " + rootMessage(e));
                }
            });
            // A stop request (Ctrl-C) cancels the job: executors on other machines never see the flag.
            Thread watch = new Thread(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    if (RunControl.stopRequested()) {
                        sc.cancelJobGroup(group);
                        return;
                    }
                    try {
                        Thread.sleep(200);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "normlab-spark-stop");
            watch.setDaemon(true);
            watch.start();
            try {
                Map<String, byte[]> out = new LinkedHashMap<>();
                for (Tuple2<String, byte[]> t : trained.collect()) out.put(t._1(), t._2());
                return out;
            } catch (Exception e) {
                if (RunControl.stopRequested()) throw new RunControl.Stopped();
                throw new CliErrors.Failure(CliErrors.UNEXPECTED, "spark: a run failed on an executor: " + taskMessage(e));
            } finally {
                watch.interrupt();
                sc.clearJobGroup();
                given.destroy();
            }
        }

        /** The task's own one-line message (ours, naming experiment and run) rather than Spark's job-abort text. */
        private static String taskMessage(Throwable e) {
            for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
                if (t instanceof IllegalStateException && t.getMessage() != null && !t.getMessage().contains("Job aborted")) {
                    return t.getMessage().lines().findFirst().orElse("");
                }
            }
            return rootMessage(e);
        }

        @Override
        public List<Recalibrate.LayerStats> recalibrate(Module model, List<Tensor> batches) {
            if (batches.isEmpty()) throw new IllegalArgumentException("recalibrate: no batches");
            int[] shape = batches.get(0).shape();
            int[] sample = java.util.Arrays.copyOfRange(shape, 1, shape.length);
            int row = batches.get(0).numel() / shape[0];
            List<float[]> rows = new ArrayList<>();
            for (Tensor b : batches) {
                for (int i = 0; i < b.dim(0); i++) rows.add(java.util.Arrays.copyOfRange(b.data, i * row, (i + 1) * row));
            }
            JavaRDD<float[]> rdd = sc.parallelize(rows, Math.max(1, Math.min(rows.size(), sc.defaultParallelism())));
            return SparkRecalibrate.run(sc, model, rdd, sample, shape[0]);
        }

        @Override
        public void close() {
            sc.stop();
        }
    }
}
