package normlab.dist;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ExecutionException;
import java.util.function.Function;
import normlab.io.LayerTypes;
import normlab.nn.Layout;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.norm.BatchNorm;
import normlab.norm.BatchRenorm;
import normlab.norm.GhostBatchNorm;
import normlab.norm.SyncBatchNorm;
import normlab.optim.Optimizer;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * Synchronous data-parallel training on threads of one JVM: K replicas of a model, each a slice of the global batch,
 * every BatchNorm replaced by a {@link SyncBatchNorm} over the replicas' {@link ThreadCollective}, so one step equals
 * one step of the model on the whole batch. One step, on every replica r at once:
 * <pre>
 *   zero gradients;  z_r = replica_r(x_r)                        (SyncBatchNorm all-gathers its statistics)
 *   L = (1/B) Σ_all rows CE(z, y),  dL/dz_r = (softmax(z_r) − onehot(y_r))/B     (the mean over the global batch B)
 *   backward of dL/dz_r                                         (SyncBatchNorm all-reduces Σdy, Σdy·(x−μ))
 *   g ← Σ_r g_r for every parameter (one all-reduce, in rank order), then each replica's optimizer steps
 * </pre>
 * All replicas start from the same weights and get the same summed gradients, so their optimizers apply the same
 * update and the replicas stay identical (checked in the tests bit for bit). Slices may be uneven and may be empty
 * (a replica with no rows still joins every collective). A failure on one replica aborts the group: the step throws
 * that replica's error, the others' waits end instead of hanging.
 *
 * <p>BatchNorm layers must be channels-first (NCHW); other batch-statistics layers (BatchRenorm, GhostBatchNorm)
 * keep per-replica statistics and are rejected, since the replicas would then compute something else than one process.
 */
public final class DataParallel implements AutoCloseable {
    private final List<Module> replicas = new ArrayList<>();
    private final List<Optimizer> optimizers = new ArrayList<>();
    private final List<ThreadCollective> group;
    private final ExecutorService pool;

    /** The outcome of a step: the mean loss over the global batch and the logits of all rows, in batch order. */
    public record Step(double loss, Tensor output) {}

    /**
     * K = {@code replicas} copies of {@code model} (left untouched) with its BatchNorms made {@link SyncBatchNorm}s, each
     * with its own optimizer from {@code optimizer}; a collective waits at most {@code timeoutMillis} for a replica.
     */
    public DataParallel(Module model, int replicas, Function<List<Parameter>, Optimizer> optimizer, long timeoutMillis) {
        if (replicas < 1) throw new IllegalArgumentException("DataParallel: replicas must be >= 1, got " + replicas);
        this.group = ThreadCollective.group(replicas, timeoutMillis);
        for (int r = 0; r < replicas; r++) {
            Module m = toSync(LayerTypes.copy(model));
            attach(m, group.get(r));
            this.replicas.add(m);
            optimizers.add(optimizer.apply(m.parameters()));
        }
        this.pool = Executors.newFixedThreadPool(replicas, run -> {
            Thread t = new Thread(run, "normlab-replica");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * A new tree in which every BatchNorm of {@code model} is a {@link SyncBatchNorm} with the same options, state and
     * mode (the old tree must not be used afterwards, as {@link LayerTypes#rebuild}); throws for channels-last BatchNorm.
     */
    public static Module toSync(Module model) {
        return LayerTypes.rebuild(model, m -> {
            if (m instanceof BatchRenorm || m instanceof GhostBatchNorm) {
                throw new IllegalArgumentException("DataParallel: " + m.label() + " keeps per-replica batch statistics; only BatchNorm is synchronized (SyncBatchNorm)");
            }
            if (!(m instanceof BatchNorm bn)) return null;
            if (bn.layout != Layout.NCHW) {
                throw new IllegalArgumentException("DataParallel: " + bn.label() + " is channels-last (NHWC); SyncBatchNorm takes channels at dim 1");
            }
            SyncBatchNorm s = new SyncBatchNorm(bn.numFeatures, bn.eps, bn.momentum, bn.affine, bn.trackRunningStats);
            s.loadStateDict(bn.stateDict());
            s.setTraining(bn.isTraining());
            return s;
        });
    }

    /** Sets {@code c} as the collective of every {@link SyncBatchNorm} in {@code model}. */
    public static void attach(Module model, Collective c) {
        if (model instanceof SyncBatchNorm s) s.setCollective(c);
        for (Module ch : model.children().values()) attach(ch, c);
    }

    /** Replica {@code r} (its weights, buffers and mode). */
    public Module replica(int r) {
        return replicas.get(r);
    }

    /** The number of replicas. */
    public int size() {
        return replicas.size();
    }

    /** Sets every replica to training or evaluation mode. */
    public void setTraining(boolean on) {
        for (Module m : replicas) m.setTraining(on);
    }

    /** {@link #step(Tensor, int[], int[])} with the batch split as evenly as possible, the first ranks one row more. */
    public Step step(Tensor x, int[] labels) {
        int k = replicas.size(), b = x.dim(0);
        int[] sizes = new int[k];
        for (int r = 0; r < k; r++) sizes[r] = b / k + (r < b % k ? 1 : 0);
        return step(x, labels, sizes);
    }

    /** One training step on batch {@code x} (rows) with class {@code labels}; replica r takes the next {@code sizes[r]} rows. */
    public Step step(Tensor x, int[] labels, int[] sizes) {
        int k = replicas.size();
        if (sizes.length != k) throw new IllegalArgumentException("DataParallel: " + sizes.length + " slice sizes for " + k + " replicas");
        if (x.rank() < 1) throw new ShapeException("DataParallel: expected a batch of rows, got shape " + x.shapeString());
        int b = x.dim(0), total = 0;
        for (int sz : sizes) {
            if (sz < 0) throw new IllegalArgumentException("DataParallel: negative slice size " + sz);
            total += sz;
        }
        if (total != b) throw new IllegalArgumentException("DataParallel: slice sizes add up to " + total + ", the batch has " + b + " rows");
        if (labels.length != b) throw new ShapeException("DataParallel: " + labels.length + " labels for a batch of " + b + " rows");
        int row = x.numel() / Math.max(1, b);
        List<Future<double[]>> jobs = new ArrayList<>();
        List<Tensor> outputs = new ArrayList<>();
        for (int r = 0, off = 0; r < k; off += sizes[r], r++) {
            int rr = r, start = off, n = sizes[r];
            int[] shape = x.shape();
            shape[0] = n;
            float[] data = new float[n * row];
            System.arraycopy(x.data, start * row, data, 0, n * row);
            Tensor xr = Tensor.of(data, shape);
            int[] yr = java.util.Arrays.copyOfRange(labels, start, start + n);
            outputs.add(null);
            jobs.add(pool.submit(() -> {
                try {
                    Tensor z = replicaStep(rr, xr, yr, b);
                    synchronized (outputs) {
                        outputs.set(rr, z);
                    }
                    return new double[0];
                } catch (RuntimeException e) {
                    group.get(rr).abort(e.getMessage());
                    throw e;
                }
            }));
        }
        RuntimeException first = null;
        for (Future<double[]> f : jobs) {
            try {
                f.get();
            } catch (ExecutionException e) {
                RuntimeException c = e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
                // the replica's own error, not the other replicas' "rank r failed" that follow from it
                if (first == null || (first instanceof CollectiveException && !(c instanceof CollectiveException))) first = c;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("DataParallel: interrupted");
            }
        }
        if (first != null) throw first;
        int classes = outputs.get(0).dim(1);
        Tensor out = Tensor.zeros(b, classes);
        int o = 0;
        for (Tensor z : outputs) {
            System.arraycopy(z.data, 0, out.data, o, z.numel());
            o += z.numel();
        }
        return new Step(lastLoss, out);
    }

    private volatile double lastLoss;

    /** Replica r's part of a step ({@link Replica#step}); returns its logits. */
    private Tensor replicaStep(int r, Tensor x, int[] y, int globalBatch) {
        Replica.Result res = new Replica(replicas.get(r), optimizers.get(r), group.get(r)).step(x, y, globalBatch);
        if (r == 0) lastLoss = res.loss();
        return res.logits();
    }

    /** Stops the replica threads. */
    @Override
    public void close() {
        pool.shutdownNow();
    }
}
