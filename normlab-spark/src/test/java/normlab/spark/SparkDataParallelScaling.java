package normlab.spark;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import normlab.data.Dataset;
import normlab.data.Datasets;
import normlab.io.LayerTypes;
import normlab.models.MnistMlp;
import normlab.nn.CrossEntropyLoss;
import normlab.nn.Module;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * Steps/s of the paper's BN MLP (batch 60, 300 steps) trained by one process, and by {@link SparkDataParallel} with 1
 * and 2 replicas in {@code local[2]}, in alternating rounds so a shared machine's slow phases hit all three alike.
 * Spark's time is the step loop on rank 0 (after the rendezvous). Not a test: run with the test classpath,
 * {@code java --add-modules jdk.incubator.vector -cp ... normlab.spark.SparkDataParallelScaling [rounds]}.
 */
public final class SparkDataParallelScaling {
    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3, b = 60, steps = 300;
        Dataset fm = Datasets.fashionMnist(true).slice(0, 6000);
        List<Tensor> xs = new ArrayList<>();
        List<int[]> ys = new ArrayList<>();
        for (int t = 0; t < steps; t++) {
            int from = (t * b) % 6000;
            xs.add(Tensor.of(Arrays.copyOfRange(fm.images, from * 784, (from + b) * 784), b, 784));
            ys.add(Arrays.copyOfRange(fm.labels, from, from + b));
        }
        Module model = MnistMlp.build(true, 0.01, new Rng(11));
        JavaSparkContext sc = new JavaSparkContext(Spark.conf("local[2]", "normlab-dp-scaling"));
        try {
            for (int r = 0; r < rounds; r++) {
                Module single = LayerTypes.copy(model);
                SGD opt = new SGD(single.parameters(), 0.1);
                long t0 = System.nanoTime();
                for (int t = 0; t < steps; t++) {
                    opt.zeroGrad();
                    CrossEntropyLoss ce = new CrossEntropyLoss();
                    ce.forward(single.forward(xs.get(t)), ys.get(t));
                    single.backwardParams(ce.backward());
                    opt.step();
                }
                double one = steps / ((System.nanoTime() - t0) / 1e9);
                double[] k = new double[2];
                for (int rep = 1; rep <= 2; rep++) {
                    int[] sizes = rep == 1 ? new int[] {60} : new int[] {30, 30};
                    SparkDataParallel.Result res = SparkDataParallel.train(sc, model, ps -> new SGD(ps, 0.1),
                            SparkDataParallel.shards(xs, ys, sizes), new SparkDataParallel.Options(60_000, 0, null));
                    k[rep - 1] = steps / res.stepSeconds();
                }
                System.out.printf("round %d: one process %.1f steps/s, Spark 1 replica %.1f steps/s, Spark 2 replicas %.1f steps/s%n", r, one, k[0], k[1]);
            }
        } finally {
            sc.stop();
        }
    }
}
