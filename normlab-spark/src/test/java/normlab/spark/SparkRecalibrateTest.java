package normlab.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import normlab.data.Dataset;
import normlab.data.Datasets;
import normlab.infer.Recalibrate;
import normlab.io.LayerTypes;
import normlab.models.MnistMlp;
import normlab.models.SmallCnn;
import normlab.nn.Module;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Distributed PreciseBN in {@code local[2]} equals the local {@link Recalibrate} over the same rows: the paper's BN MLP
 * (three BatchNorm1d) and the small CNN (BatchNorm2d, 4-d input), on Fashion-MNIST rows split into uneven partitions.
 */
@Tag("spark")
class SparkRecalibrateTest {
    static final int ROWS = 1500;
    static JavaSparkContext sc;
    static Dataset data;

    @BeforeAll
    static void start() throws Exception {
        data = Datasets.fashionMnist(true).slice(0, ROWS);
        sc = new JavaSparkContext(Spark.conf("local[2]", "normlab-test"));
    }

    @AfterAll
    static void stop() {
        if (sc != null) sc.stop();
    }

    /** The rows as single samples, and as the local run's batches of 100. */
    static List<float[]> rows() {
        List<float[]> out = new ArrayList<>();
        for (int i = 0; i < ROWS; i++) out.add(Arrays.copyOfRange(data.images, i * 784, (i + 1) * 784));
        return out;
    }

    static List<Tensor> localBatches(int[] sampleShape) {
        List<Tensor> out = new ArrayList<>();
        for (int from = 0; from < ROWS; from += 100) {
            int[] shape = new int[sampleShape.length + 1];
            shape[0] = 100;
            System.arraycopy(sampleShape, 0, shape, 1, sampleShape.length);
            out.add(Tensor.of(Arrays.copyOfRange(data.images, from * 784, (from + 100) * 784), shape));
        }
        return out;
    }

    /** Trains {@code model} a few steps so its running statistics are the moving averages PreciseBN replaces. */
    static void warmUp(Module model, int[] sampleShape) {
        normlab.optim.SGD opt = new normlab.optim.SGD(model.parameters(), 0.1);
        normlab.nn.CrossEntropyLoss ce = new normlab.nn.CrossEntropyLoss();
        List<Tensor> bs = localBatches(sampleShape);
        model.train();
        for (int t = 0; t < 5; t++) {
            opt.zeroGrad();
            ce.forward(model.forward(bs.get(t)), Arrays.copyOfRange(data.labels, t * 100, t * 100 + 100));
            model.backward(ce.backward());
            opt.step();
        }
    }

    void check(Module model, int[] sampleShape, int expectLayers) {
        warmUp(model, sampleShape);
        Module local = LayerTypes.copy(model);
        List<Recalibrate.LayerStats> want = Recalibrate.run(local, localBatches(sampleShape));
        // 5 uneven partitions (Spark slices 1500 rows as 300 each; the union makes them uneven), batches of 64
        List<float[]> rows = rows();
        JavaRDD<float[]> rdd = sc.parallelize(rows.subList(0, 700), 3).union(sc.parallelize(rows.subList(700, ROWS), 2));
        List<Recalibrate.LayerStats> got = SparkRecalibrate.run(sc, model, rdd, sampleShape, 64);
        assertEquals(expectLayers, got.size());
        double worst = 0;
        for (int l = 0; l < want.size(); l++) {
            assertEquals(want.get(l).layer(), got.get(l).layer());
            assertEquals(ROWS * (want.get(l).count() / ROWS), got.get(l).count());
            for (int ch = 0; ch < want.get(l).mean().length; ch++) {
                worst = Math.max(worst, Math.abs(want.get(l).mean()[ch] - got.get(l).mean()[ch]));
                worst = Math.max(worst, Math.abs(want.get(l).var()[ch] - got.get(l).var()[ch]) / Math.max(1, Math.abs(want.get(l).var()[ch])));
            }
            assertTrue(want.get(l).maxMeanChange() > 1e-4, "recalibration changed " + want.get(l).layer() + "'s statistics");
        }
        Map<String, Tensor> a = local.stateDict(), b = model.stateDict();
        for (String k : a.keySet()) {
            for (int i = 0; i < a.get(k).numel(); i++) {
                worst = Math.max(worst, Math.abs(a.get(k).data[i] - b.get(k).data[i]) / Math.max(1, Math.abs(a.get(k).data[i])));
            }
        }
        System.out.printf("Spark PreciseBN (%d layers, local[2], 5 partitions) vs local Recalibrate: max |diff| %.2e%n", got.size(), worst);
        assertTrue(worst <= 1e-6, "distributed PreciseBN differs from the local one by " + worst);
    }

    @Test
    void badSamplesGiveOneLineErrors() {
        Module model = MnistMlp.build(true, 0.01, new Rng(7));
        JavaRDD<float[]> rdd = sc.parallelize(List.of(new float[784], new float[783]), 1);
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> SparkRecalibrate.run(sc, model, rdd, new int[] {784}, 8));
        assertEquals("recalibrate: a sample has 783 values, expected 784 (shape [784])", e.getMessage());
        JavaRDD<float[]> ok = sc.parallelize(List.of(new float[10], new float[10]), 1);
        IllegalArgumentException s = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> SparkRecalibrate.run(sc, model, ok, new int[] {10}, 8));
        assertTrue(s.getMessage().contains("Linear") && s.getMessage().contains("784") && !s.getMessage().contains("\n"), s.getMessage());
    }

    @Test
    void mlpEqualsLocalRecalibrate() {
        check(MnistMlp.build(true, 0.01, new Rng(7)), new int[] {784}, 3);
    }

    @Test
    void cnnEqualsLocalRecalibrate() {
        check(SmallCnn.build(SmallCnn.Norm.BN, 4, 8, new Rng(8)), new int[] {1, 28, 28}, 2);
    }
}
