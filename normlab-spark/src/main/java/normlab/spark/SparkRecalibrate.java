package normlab.spark;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import normlab.infer.Recalibrate;
import normlab.infer.Recalibrate.LayerStats;
import normlab.infer.Recalibrate.Moments;
import normlab.nn.Module;
import normlab.tensor.Tensor;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

/**
 * Distributed PreciseBN: {@link Recalibrate} over data partitioned across Spark executors. The data is an RDD of
 * samples (one model input row each, {@code sampleShape} values); each partition is cut into batches of
 * {@code batchSize} rows. Layer by layer in forward order, as the local {@code Recalibrate}:
 * <pre>
 *   broadcast the model (every earlier BN already holding its population statistics)
 *   each partition: the per-channel (n, mean, M2) of the inputs this BN sees ({@link Recalibrate#moments}, eval mode)
 *   treeAggregate: merge the partitions' moments by Chan's parallel update ({@link Moments#merge})
 *   running_mean = mean, running_var = M2/(n − 1)     ({@link Recalibrate#apply}, on the driver's model)
 * </pre>
 * Every BN's input in eval mode depends only on its own sample, so how the rows are cut into partitions and batches
 * changes nothing but rounding (the merge is exact up to double rounding): the result equals the local
 * {@code Recalibrate} over the same rows to far below float32's resolution.
 */
public final class SparkRecalibrate {
    private SparkRecalibrate() {}

    /**
     * Recalibrates every BN of {@code model} in place from the rows of {@code samples}; returns per-layer stats in
     * forward order. One Spark job per BN layer.
     */
    public static List<LayerStats> run(JavaSparkContext sc, Module model, JavaRDD<float[]> samples, int[] sampleShape, int batchSize) {
        if (batchSize < 1) throw new IllegalArgumentException("recalibrate: batch size must be >= 1, got " + batchSize);
        int row = 1;
        for (int d : sampleShape) {
            if (d < 1) throw new IllegalArgumentException("recalibrate: sample shape " + java.util.Arrays.toString(sampleShape) + " has a size < 1");
            row *= d;
        }
        int rowSize = row;
        int[] shape = sampleShape.clone();
        List<LayerStats> out = new ArrayList<>();
        for (String path : Recalibrate.layers(model)) {
            Broadcast<ModelSnapshot> snap = sc.broadcast(ModelSnapshot.of(model));
            int channels = channelsOf(model, path);
            Moments zero = Moments.empty(channels);
            JavaRDD<Moments> parts = samples.mapPartitions(it -> {
                Module m = snap.value().build();
                Iterable<Tensor> batches = () -> batches(it, shape, rowSize, batchSize);
                return Collections.singletonList(Recalibrate.moments(m, path, batches)).iterator();
            });
            Moments all;
            try {
                all = parts.treeAggregate(zero, Moments::merge, Moments::merge);
            } catch (Exception e) { // SparkException is checked in Java's eyes, thrown undeclared by Scala
                throw userError(e);
            } finally {
                snap.destroy();
            }
            out.add(Recalibrate.apply(model, path, all));
        }
        return out;
    }

    /**
     * A task's own one-line error (bad sample length, a shape the model rejects) instead of Spark's job-abort message
     * with the executor's stack trace: the innermost cause thrown by normlab's checks, else {@code e} itself.
     */
    static RuntimeException userError(Exception e) {
        Throwable found = null;
        for (Throwable t = e; t != null && t != t.getCause(); t = t.getCause()) {
            if (t instanceof IllegalArgumentException || t instanceof IllegalStateException
                    || t instanceof normlab.tensor.ShapeException) found = t;
        }
        if (found == null) return e instanceof RuntimeException re ? re : new IllegalStateException("recalibrate: " + firstLine(e), e);
        String msg = firstLine(found);
        return found instanceof IllegalStateException ? new IllegalStateException(msg, e) : new IllegalArgumentException(msg, e);
    }

    private static String firstLine(Throwable t) {
        return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage().lines().findFirst().orElse("");
    }

    /** The number of channels of the layer at {@code path} (from its running mean). */
    private static int channelsOf(Module model, String path) {
        for (Module m : walk(model)) {
            if (m.path().equals(path) && m instanceof normlab.norm.RunningStatsNorm r && r.runningAffine() != null) {
                return r.runningAffine().channels();
            }
        }
        throw new IllegalStateException("recalibrate: no layer at " + path);
    }

    private static List<Module> walk(Module m) {
        List<Module> out = new ArrayList<>();
        out.add(m);
        for (Module c : m.children().values()) out.addAll(walk(c));
        return out;
    }

    /** The rows of {@code it} as batches of up to {@code batchSize} rows of shape (n, sampleShape...). */
    static Iterator<Tensor> batches(Iterator<float[]> it, int[] sampleShape, int rowSize, int batchSize) {
        return new Iterator<>() {
            @Override
            public boolean hasNext() {
                return it.hasNext();
            }

            @Override
            public Tensor next() {
                List<float[]> rows = new ArrayList<>();
                while (it.hasNext() && rows.size() < batchSize) {
                    float[] r = it.next();
                    if (r.length != rowSize) {
                        throw new IllegalArgumentException("recalibrate: a sample has " + r.length + " values, expected "
                                + rowSize + " (shape " + java.util.Arrays.toString(sampleShape) + ")");
                    }
                    rows.add(r);
                }
                int[] shape = new int[sampleShape.length + 1];
                shape[0] = rows.size();
                System.arraycopy(sampleShape, 0, shape, 1, sampleShape.length);
                float[] data = new float[rows.size() * rowSize];
                for (int i = 0; i < rows.size(); i++) System.arraycopy(rows.get(i), 0, data, i * rowSize, rowSize);
                return Tensor.of(data, shape);
            }
        };
    }
}
