package normlab.spark;

import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;
import normlab.dist.CollectiveException;
import normlab.dist.DataParallel;
import normlab.dist.Replica;
import normlab.dist.TcpCollective;
import normlab.io.LayerTypes;
import normlab.io.Safetensors;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.optim.Optimizer;
import normlab.tensor.Tensor;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.HashPartitioner;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.rdd.RDD;
import scala.Tuple2;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;

/**
 * Synchronous data-parallel training with SyncBatchNorm across Spark barrier tasks: K tasks, gang-scheduled by
 * Spark's barrier mode, each a replica ({@link Replica}) holding its {@link Shard} (its rows of every global batch).
 * A task:
 * <pre>
 *   open a TCP endpoint; BarrierTaskContext.allGather(host:port)     (the one rendezvous through Spark, ~1 s)
 *   join the TcpCollective; build the model with BatchNorm → SyncBatchNorm; resume from the checkpoint if there is one
 *   for every step: Replica.step (SyncBN all-gathers/all-reduces; one all-reduce of all gradients; identical SGD step)
 *                   rank 0 writes a crash-safe checkpoint every N steps (model state + optimizer state + step)
 * </pre>
 * Every reduction adds the ranks in rank order in double, so the replicas stay identical bit for bit and a run equals
 * {@link DataParallel} on threads bit for bit, and one process with the whole batch up to float32 summation order.
 *
 * <p>Faults. Any replica's error fails the barrier stage; a replica that hangs is named by the others' receive
 * timeout ("rank 1 did not answer within 30 s"; forming the group waits at least 30 s, as Spark's rendezvous releases
 * the tasks up to a second apart). The barrier stage is followed by a shuffle (it is a shuffle-map
 * stage), so Spark retries the whole stage (up to {@code spark.stage.maxConsecutiveAttempts}, 4 by default); the new
 * attempt forms a new group and resumes from the last checkpoint, and since every step is deterministic, ends with the
 * weights of an uninterrupted run. The checkpoint directory must be one every executor reads (a local path in
 * {@code local[N]} or on one machine, a shared file system on a cluster). A checkpoint already there when training
 * starts is resumed from: use a fresh directory per run.
 */
public final class SparkDataParallel {
    private SparkDataParallel() {}

    /** How long a rank waits for the others to connect after the rendezvous (at least; the step timeout if longer). */
    static final long JOIN_MILLIS = 30_000;

    /** Makes each replica's optimizer from its parameters (shipped to the executors, hence serializable). */
    public interface OptimizerFactory extends Serializable {
        Optimizer create(List<Parameter> parameters);
    }

    /**
     * Rank {@code rank}'s rows of every global batch: {@code x[t]} holds its {@code y[t].length} rows of step t (each of
     * {@code rowShape}), {@code globalBatch[t]} is B of step t (all ranks' rows together).
     */
    public record Shard(int rank, int[] rowShape, float[][] x, int[][] y, int[] globalBatch) implements Serializable {}

    /**
     * {@code timeoutMillis} bounds every wait for a peer; rank 0 writes a checkpoint every {@code checkpointEvery}
     * steps (0: never) into {@code checkpointDir} (null: none).
     */
    public record Options(long timeoutMillis, int checkpointEvery, String checkpointDir) implements Serializable {
        public Options {
            if (timeoutMillis <= 0) throw new IllegalArgumentException("SparkDataParallel: timeout must be > 0 ms, got " + timeoutMillis);
            if (checkpointEvery < 0) throw new IllegalArgumentException("SparkDataParallel: checkpoint interval must be >= 0 steps, got " + checkpointEvery);
            if (checkpointEvery > 0 && checkpointDir == null) throw new IllegalArgumentException("SparkDataParallel: a checkpoint interval needs a checkpoint directory");
        }
    }

    /**
     * The trained model (a copy of the input model, BatchNorm layers kept, with rank 0's final state), the logits of
     * the last step in batch order, its mean loss, the stage attempt that finished, the step it resumed from, and rank
     * 0's wall time of its steps (after the rendezvous, checkpoints included), and where each rank ran ({@code pid@host}
     * of its executor JVM, by rank).
     */
    public record Result(Module model, Tensor lastOutput, double lastLoss, int attempt, int resumedFrom, double stepSeconds,
                         List<String> processes) {}

    /** What a task returns: its last logits, and rank 0's final state (others: only its checksum). */
    record RankResult(int rank, int attempt, int resumedFrom, float[] logits, int classes, double lastLoss,
                      byte[] state, long stateCrc, double stepSeconds, String process) implements Serializable {}

    /** The shards of K = {@code sizes.length} replicas: rank r takes the next {@code sizes[r]} rows of every batch. */
    public static List<Shard> shards(List<Tensor> batches, List<int[]> labels, int[] sizes) {
        if (batches.size() != labels.size()) throw new IllegalArgumentException("SparkDataParallel: " + batches.size() + " batches but " + labels.size() + " label arrays");
        if (batches.isEmpty()) throw new IllegalArgumentException("SparkDataParallel: no batches to train on");
        int k = sizes.length, steps = batches.size();
        if (k < 1) throw new IllegalArgumentException("SparkDataParallel: needs at least one replica");
        int[] rowShape = Arrays.copyOfRange(batches.get(0).shape(), 1, batches.get(0).rank());
        int row = 1;
        for (int d : rowShape) row *= d;
        float[][][] xs = new float[k][steps][];
        int[][][] ys = new int[k][steps][];
        int[] gb = new int[steps];
        for (int t = 0; t < steps; t++) {
            Tensor x = batches.get(t);
            int b = x.dim(0), total = 0;
            for (int s : sizes) {
                if (s < 0) throw new IllegalArgumentException("SparkDataParallel: negative slice size " + s);
                total += s;
            }
            if (total != b) throw new IllegalArgumentException("SparkDataParallel: slice sizes add up to " + total + ", batch " + t + " has " + b + " rows");
            if (labels.get(t).length != b) throw new IllegalArgumentException("SparkDataParallel: batch " + t + " has " + b + " rows but " + labels.get(t).length + " labels");
            if (x.numel() != b * row) throw new IllegalArgumentException("SparkDataParallel: batch " + t + " has shape " + x.shapeString() + ", expected rows of " + Arrays.toString(rowShape));
            gb[t] = b;
            for (int r = 0, off = 0; r < k; off += sizes[r], r++) {
                xs[r][t] = Arrays.copyOfRange(x.data, off * row, (off + sizes[r]) * row);
                ys[r][t] = Arrays.copyOfRange(labels.get(t), off, off + sizes[r]);
            }
        }
        List<Shard> out = new ArrayList<>();
        for (int r = 0; r < k; r++) out.add(new Shard(r, rowShape, xs[r], ys[r], gb));
        return out;
    }

    /**
     * Trains {@code model} (left untouched) with K = {@code shards.size()} replicas, one barrier task each, for as many
     * steps as the shards hold. Needs K free task slots (barrier mode schedules all or none).
     */
    public static Result train(JavaSparkContext sc, Module model, OptimizerFactory optimizer, List<Shard> shards, Options options) {
        int k = shards.size();
        for (int r = 0; r < k; r++) {
            if (shards.get(r).rank() != r) throw new IllegalArgumentException("SparkDataParallel: shard " + r + " is rank " + shards.get(r).rank() + "'s");
            if (shards.get(r).x().length != shards.get(0).x().length) throw new IllegalArgumentException("SparkDataParallel: the shards hold different numbers of steps");
        }
        DataParallel.toSync(LayerTypes.copy(model)); // refuses layers that cannot be synchronized, here on the driver
        Broadcast<ModelSnapshot> snap = sc.broadcast(ModelSnapshot.of(model));
        ClassTag<RankResult> tag = ClassTag$.MODULE$.apply(RankResult.class);
        try {
            RDD<RankResult> trained = sc.parallelize(shards, k).rdd().barrier()
                    .mapPartitions(new RankTask(snap, optimizer, options), false, tag);
            // a shuffle after the barrier stage makes it a shuffle-map stage, which Spark retries as a whole on failure
            List<RankResult> results = new ArrayList<>(JavaRDD.fromRDD(trained, tag)
                    .mapToPair(res -> new Tuple2<>(res.rank(), res))
                    .partitionBy(new HashPartitioner(1))
                    .values()
                    .collect());
            results.sort((a, b) -> Integer.compare(a.rank(), b.rank()));
            return assemble(model, results, k);
        } catch (Exception e) { // SparkException is checked in Java's eyes, thrown undeclared by Scala
            throw userError(e);
        } finally {
            snap.destroy();
        }
    }

    private static Result assemble(Module model, List<RankResult> results, int k) {
        if (results.size() != k) throw new IllegalStateException("SparkDataParallel: " + results.size() + " of " + k + " replicas reported");
        RankResult first = results.get(0);
        for (RankResult r : results) {
            if (r.stateCrc() != first.stateCrc()) {
                throw new IllegalStateException("SparkDataParallel: replica " + r.rank() + " ended with other weights than replica 0");
            }
        }
        Module out = LayerTypes.copy(model);
        try {
            out.loadStateDict(Safetensors.decode(first.state(), "replica 0's state", true).tensors());
        } catch (normlab.io.ModelFileException e) {
            throw new IllegalStateException("SparkDataParallel: " + e.getMessage(), e);
        }
        int rows = 0;
        for (RankResult r : results) rows += r.logits().length / Math.max(1, r.classes());
        int classes = first.classes();
        float[] logits = new float[rows * classes];
        int o = 0;
        for (RankResult r : results) {
            System.arraycopy(r.logits(), 0, logits, o, r.logits().length);
            o += r.logits().length;
        }
        return new Result(out, Tensor.of(logits, rows, classes), first.lastLoss(), first.attempt(), first.resumedFrom(), first.stepSeconds(),
                results.stream().map(RankResult::process).toList());
    }

    /** One barrier task: a replica from rendezvous to its last step. */
    static final class RankTask extends scala.runtime.AbstractFunction1<scala.collection.Iterator<Shard>, scala.collection.Iterator<RankResult>>
            implements Serializable {
        private final Broadcast<ModelSnapshot> snap;
        private final OptimizerFactory optimizer;
        private final Options options;

        RankTask(Broadcast<ModelSnapshot> snap, OptimizerFactory optimizer, Options options) {
            this.snap = snap;
            this.optimizer = optimizer;
            this.options = options;
        }

        @Override
        public scala.collection.Iterator<RankResult> apply(scala.collection.Iterator<Shard> it) {
            BarrierTaskContext ctx = BarrierTaskContext.get();
            Shard shard = it.next();
            int rank = ctx.partitionId();
            if (shard.rank() != rank || it.hasNext()) throw new IllegalStateException("SparkDataParallel: task " + rank + " got shard " + shard.rank() + " (one shard per task expected)");
            String host = SparkEnv.get().blockManager().blockManagerId().host();
            TcpCollective.Endpoint ep = TcpCollective.Endpoint.open(host);
            String[] addresses;
            try {
                addresses = ctx.allGather(ep.address());
            } catch (RuntimeException e) {
                ep.close();
                throw e;
            }
            // allGather returns to the tasks up to ~1 s apart (it polls the driver once a second): joining waits longer
            TcpCollective c = ep.join(rank, List.of(addresses), Math.max(options.timeoutMillis(), JOIN_MILLIS), options.timeoutMillis());
            try {
                RankResult res = run(c, shard, ctx.stageAttemptNumber());
                return scala.jdk.javaapi.CollectionConverters.asScala(List.of(res).iterator());
            } catch (RuntimeException e) {
                c.abort(e.getMessage()); // the peers' errors carry this rank's reason
                throw e;
            } finally {
                c.close();
            }
        }

        private RankResult run(TcpCollective c, Shard shard, int attempt) {
            String host = SparkEnv.get().blockManager().blockManagerId().host();
            Module m = DataParallel.toSync(snap.value().build());
            DataParallel.attach(m, c);
            Optimizer opt = optimizer.create(m.parameters());
            Replica replica = new Replica(m, opt, c);
            Path ckpt = options.checkpointDir() == null ? null : Path.of(options.checkpointDir(), "checkpoint.safetensors");
            int start = ckpt != null ? resume(ckpt, m, opt) : 0;
            // every rank must resume from the same step (a checkpoint written while the group formed would split them)
            double[][] starts = c.allGather(new double[] {start});
            for (int r = 0; r < starts.length; r++) {
                if (starts[r][0] != start) throw new CollectiveException("SparkDataParallel: rank " + c.rank() + " resumed from step " + start + ", rank " + r + " from step " + (int) starts[r][0]);
            }
            int steps = shard.x().length, row = 1;
            for (int d : shard.rowShape()) row *= d;
            Replica.Result last = null;
            long t0 = System.nanoTime();
            for (int t = start; t < steps; t++) {
                int n = shard.y()[t].length;
                int[] shape = new int[shard.rowShape().length + 1];
                shape[0] = n;
                System.arraycopy(shard.rowShape(), 0, shape, 1, shard.rowShape().length);
                if (shard.x()[t].length != n * row) throw new IllegalArgumentException("SparkDataParallel: rank " + c.rank() + " step " + t + ": " + shard.x()[t].length + " values for " + n + " rows");
                last = replica.step(Tensor.of(shard.x()[t], shape), shard.y()[t], shard.globalBatch()[t]);
                int done = t + 1;
                if (c.rank() == 0 && ckpt != null && options.checkpointEvery() > 0 && done % options.checkpointEvery() == 0 && done < steps) {
                    save(ckpt, m, opt, done);
                }
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            byte[] state = Safetensors.encode(m.stateDict(), Map.of());
            CRC32C crc = new CRC32C();
            crc.update(state);
            float[] logits = last == null ? new float[0] : last.logits().data.clone();
            int classes = last == null ? 0 : last.logits().dim(1);
            return new RankResult(c.rank(), attempt, start, logits, classes, last == null ? Double.NaN : last.loss(),
                    c.rank() == 0 ? state : null, crc.getValue(), seconds, ProcessHandle.current().pid() + "@" + host);
        }
    }

    /** Writes the model's state, the optimizer's state and the step reached, atomically (temp file, fsync, rename). */
    static void save(Path file, Module m, Optimizer opt, int step) {
        Map<String, Tensor> all = new HashMap<>();
        m.stateDict().forEach((k, v) -> all.put("model/" + k, v));
        opt.state().forEach((k, v) -> all.put("optimizer/" + k, v));
        try {
            Safetensors.write(file, all, Map.of("step", Integer.toString(step), "format", "normlab-spark-dp-1"));
        } catch (IOException e) {
            throw new IllegalStateException("SparkDataParallel: cannot write checkpoint " + file + ": " + e.getMessage(), e);
        }
    }

    /** Loads the checkpoint into the model and optimizer if it exists; returns its step (0 without one). */
    static int resume(Path file, Module m, Optimizer opt) {
        if (!Files.exists(file)) return 0;
        try {
            Safetensors.Contents c = Safetensors.read(file, true);
            Map<String, Tensor> model = new HashMap<>(), optim = new HashMap<>();
            c.tensors().forEach((k, v) -> {
                if (k.startsWith("model/")) model.put(k.substring(6), v);
                else if (k.startsWith("optimizer/")) optim.put(k.substring(10), v);
            });
            m.loadStateDict(model);
            opt.loadState(optim);
            return Integer.parseInt(c.metadata().getOrDefault("step", "0"));
        } catch (IOException | RuntimeException e) {
            throw new IllegalStateException("SparkDataParallel: cannot resume from checkpoint " + file + ": " + e.getMessage(), e);
        }
    }

    private static final Pattern TASK_ERROR = Pattern.compile(
            "(normlab\\.[\\w.]+Exception|java\\.lang\\.Illegal(?:Argument|State)Exception): (.*)");

    /**
     * A task's own one-line error instead of Spark's job-abort text: the innermost collective, shape, argument or
     * state error among the causes; else, since a barrier stage's abort keeps only the text, the first such exception
     * line in the messages; else {@code e}.
     */
    static RuntimeException userError(Exception e) {
        Throwable found = null;
        for (Throwable t = e; t != null && t != t.getCause(); t = t.getCause()) {
            if (t instanceof CollectiveException || t instanceof IllegalArgumentException || t instanceof IllegalStateException
                    || t instanceof normlab.tensor.ShapeException) found = t;
        }
        if (found != null) return rethrow(found.getClass().getName(), found.getMessage(), e);
        for (Throwable t = e; t != null && t != t.getCause(); t = t.getCause()) {
            if (t.getMessage() == null) continue;
            Matcher mt = TASK_ERROR.matcher(t.getMessage());
            if (mt.find()) return rethrow(mt.group(1), mt.group(2), e);
        }
        return e instanceof RuntimeException re ? re : new IllegalStateException("SparkDataParallel: " + e.getMessage(), e);
    }

    /** The first line of {@code message} as an exception of (about) the class named. */
    private static RuntimeException rethrow(String className, String message, Exception cause) {
        String line = message == null ? className : message.lines().findFirst().orElse("");
        if (className.endsWith("CollectiveException")) {
            CollectiveException c = new CollectiveException(line);
            c.initCause(cause);
            return c;
        }
        if (className.endsWith("IllegalArgumentException") || className.endsWith("ShapeException")) return new IllegalArgumentException(line, cause);
        return new IllegalStateException(line, cause);
    }
}
