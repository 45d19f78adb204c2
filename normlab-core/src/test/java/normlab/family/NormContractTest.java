package normlab.family;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Stream;
import normlab.io.ModelFiles;
import normlab.nn.Layout;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.norm.BatchNorm1d;
import normlab.norm.BatchNorm2d;
import normlab.norm.BatchRenorm;
import normlab.norm.FrozenBatchNorm2d;
import normlab.norm.GhostBatchNorm;
import normlab.norm.GroupNorm;
import normlab.norm.InstanceNorm1d;
import normlab.norm.InstanceNorm2d;
import normlab.norm.LayerNorm;
import normlab.norm.RMSNorm;
import normlab.norm.SyncBatchNorm;
import normlab.tensor.Rng;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;
import normlab.testing.GradCheck;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The contract every normalization layer keeps, one row per layer (and per layout or option set that changes its
 * path): construction and bad options, output shapes, what training and evaluation depend on, the state dict (PyTorch's
 * keys, and a round trip through a model file), gradients by finite differences, and bad input. A new normalization
 * layer gets all of these by adding a row to {@link #rows()}.
 */
class NormContractTest {
    /**
     * One layer under contract: how to build it, an input shape, its state-dict keys in PyTorch's order, whether its
     * training output for one sample depends on the other samples (batch statistics), whether training changes its
     * buffers, how to build it with a bad option, and an input whose channel (or normalized) size is wrong.
     */
    record Row(String name, Supplier<Module> make, int[] shape, List<String> keys, Batch batchDependent,
               boolean trainingUpdatesBuffers, Supplier<Module> badOption, int[] wrongShape) {
        @Override
        public String toString() {
            return name;
        }
    }

    /** When a sample's output depends on the other samples of its batch. */
    enum Batch { NEVER, IN_TRAINING, ALWAYS }

    private static final Batch NEVER = Batch.NEVER, TRAINING = Batch.IN_TRAINING, ALWAYS = Batch.ALWAYS;

    private static final List<String> BN_KEYS = List.of("weight", "bias", "running_mean", "running_var", "num_batches_tracked");

    static Stream<Row> rows() {
        return Stream.of(
                new Row("BatchNorm1d (N, C)", () -> new BatchNorm1d(8), new int[] {6, 8}, BN_KEYS, TRAINING, true,
                        () -> new BatchNorm1d(0), new int[] {6, 7}),
                new Row("BatchNorm1d (N, C, L)", () -> new BatchNorm1d(4), new int[] {3, 4, 5}, BN_KEYS, TRAINING, true,
                        () -> new BatchNorm1d(4, -1, 0.1, true, true), new int[] {3, 5, 5}),
                new Row("BatchNorm2d", () -> new BatchNorm2d(4), new int[] {3, 4, 5, 5}, BN_KEYS, TRAINING, true,
                        () -> new BatchNorm2d(4, 1e-5, 1.5, true, true), new int[] {3, 3, 5, 5}),
                new Row("BatchNorm2d NHWC", () -> new BatchNorm2d(4, Layout.NHWC), new int[] {3, 5, 5, 4}, BN_KEYS, TRAINING, true,
                        () -> new BatchNorm2d(0, Layout.NHWC), new int[] {3, 5, 5, 3}),
                new Row("BatchNorm2d no running stats", () -> new BatchNorm2d(4, 1e-5, 0.1, true, false), new int[] {3, 4, 5, 5},
                        List.of("weight", "bias"), ALWAYS, false, () -> new BatchNorm2d(-2), new int[] {3, 2, 5, 5}),
                new Row("SyncBatchNorm (a group of one)", () -> new SyncBatchNorm(4), new int[] {3, 4, 5, 5}, BN_KEYS, TRAINING, true,
                        () -> new SyncBatchNorm(4, 1e-5, -0.5, true, true), new int[] {3, 5, 5, 5}),
                new Row("BatchRenorm", () -> new BatchRenorm(4), new int[] {3, 4, 5, 5}, BN_KEYS, TRAINING, true,
                        () -> new BatchRenorm(0), new int[] {3, 5, 5, 5}),
                new Row("GhostBatchNorm", () -> new GhostBatchNorm(4, 2), new int[] {6, 4, 3, 3}, BN_KEYS, TRAINING, true,
                        () -> new GhostBatchNorm(4, 0), new int[] {6, 3, 3, 3}),
                new Row("FrozenBatchNorm2d", () -> new FrozenBatchNorm2d(4), new int[] {3, 4, 5, 5},
                        List.of("weight", "bias", "running_mean", "running_var"), NEVER, false,
                        () -> new FrozenBatchNorm2d(0), new int[] {3, 2, 5, 5}),
                new Row("LayerNorm", () -> new LayerNorm(5, 5), new int[] {3, 4, 5, 5}, List.of("weight", "bias"), NEVER, false,
                        () -> new LayerNorm(5, 0), new int[] {3, 4, 5, 6}),
                new Row("GroupNorm", () -> new GroupNorm(2, 4), new int[] {3, 4, 5, 5}, List.of("weight", "bias"), NEVER, false,
                        () -> new GroupNorm(3, 4), new int[] {3, 6, 5, 5}),
                new Row("GroupNorm NHWC", () -> new GroupNorm(2, 4, 1e-5, true, Layout.NHWC), new int[] {3, 5, 5, 4},
                        List.of("weight", "bias"), NEVER, false, () -> new GroupNorm(2, 4, 0, true, Layout.NHWC), new int[] {3, 5, 5, 6}),
                new Row("InstanceNorm1d", () -> new InstanceNorm1d(4), new int[] {3, 4, 7}, List.of(), NEVER, false,
                        () -> new InstanceNorm1d(0), new int[] {3, 5, 7}),
                new Row("InstanceNorm2d affine, running stats", () -> new InstanceNorm2d(4, 1e-5, 0.1, true, true),
                        new int[] {3, 4, 5, 5}, BN_KEYS, NEVER, true, () -> new InstanceNorm2d(4, 1e-5, 2.0, true, true),
                        new int[] {3, 5, 5, 5}),
                new Row("RMSNorm", () -> new RMSNorm(5, 5), new int[] {3, 4, 5, 5}, List.of("weight"), NEVER, false,
                        () -> new RMSNorm(0), new int[] {3, 4, 5, 4}));
    }

    private static Tensor gaussian(Rng rng, int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) t.data[i] = (float) (1.5 + 2 * rng.nextGaussian());
        return t;
    }

    /** γ away from 1, β away from 0, statistics away from (0, 1), so a parameter left out of a formula shows. */
    private static void randomize(Module m, Rng rng) {
        for (Parameter p : m.parameters()) {
            for (int i = 0; i < p.value.numel(); i++) p.value.data[i] = (float) (0.5 + rng.nextDouble());
        }
        for (Map.Entry<String, Tensor> b : m.namedBuffers().entrySet()) {
            float[] d = b.getValue().data;
            String k = b.getKey();
            if (k.endsWith("num_batches_tracked")) continue;
            for (int i = 0; i < d.length; i++) d[i] = (float) (k.endsWith("var") ? 0.5 + rng.nextDouble() : rng.nextGaussian());
        }
    }

    /** The first sample of {@code y} (dim 0). */
    private static float[] first(Tensor y) {
        return Arrays.copyOf(y.data, y.numel() / y.dim(0));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rows")
    void badOptionsAreRejectedNamingTheLayer(Row row) {
        String cls = row.make().get().getClass().getSimpleName();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> row.badOption().get());
        assertTrue(e.getMessage().startsWith(cls.replaceAll("[12]d$", "")), "message names the layer: " + e.getMessage());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rows")
    void shapesAreKeptInBothModes(Row row) {
        Module m = row.make().get();
        Tensor x = gaussian(new Rng(1), row.shape());
        for (boolean training : new boolean[] {true, false}) {
            m.setTraining(training);
            Tensor y = m.forward(x);
            assertArrayEquals(x.shape(), y.shape());
            Tensor dx = m.backward(gaussian(new Rng(2), row.shape()));
            assertArrayEquals(x.shape(), dx.shape());
            for (float v : y.data) assertTrue(Float.isFinite(v));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rows")
    void trainingAndEvaluationDependOnWhatTheyShould(Row row) {
        Module m = row.make().get();
        randomize(m, new Rng(3));
        Tensor x = gaussian(new Rng(4), row.shape());
        Tensor other = x.copy();
        int per = x.numel() / x.dim(0);
        Rng r = new Rng(5);
        for (int i = per; i < other.numel(); i++) other.data[i] = (float) (3 * r.nextGaussian() - 1);

        // Evaluation: a sample's output depends on the rest of the batch only without running statistics (ALWAYS), and
        // the buffers do not move.
        m.eval();
        Map<String, Tensor> before = m.stateDict();
        float[] a = first(m.forward(x)), b = first(m.forward(other));
        double evalDiff = 0;
        for (int i = 0; i < a.length; i++) evalDiff = Math.max(evalDiff, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(a[i])));
        if (row.batchDependent() == Batch.ALWAYS) assertTrue(evalDiff > 1e-3, "eval output should depend on the batch: " + evalDiff);
        else assertTrue(evalDiff <= 1e-6, "eval output should not depend on the batch, max rel diff " + evalDiff);
        for (Map.Entry<String, Tensor> e : m.stateDict().entrySet()) {
            assertArrayEquals(before.get(e.getKey()).data, e.getValue().data, "eval changed " + e.getKey());
        }

        // Training: batch statistics make sample 0 depend on the others; per-sample layers do not.
        m.train();
        Module twin = row.make().get();
        twin.loadStateDict(m.stateDict());
        twin.train();
        float[] ta = first(m.forward(x)), tb = first(twin.forward(other));
        double diff = 0;
        for (int i = 0; i < ta.length; i++) diff = Math.max(diff, Math.abs(ta[i] - tb[i]));
        if (row.batchDependent() != Batch.NEVER) assertTrue(diff > 1e-3, "training output should depend on the batch, max diff " + diff);
        else assertTrue(diff <= 1e-5, "training output should not depend on the batch, max diff " + diff);
        boolean moved = false;
        for (Map.Entry<String, Tensor> e : m.stateDict().entrySet()) {
            if (m.namedParameters().containsKey(e.getKey())) continue;
            moved |= !Arrays.equals(before.get(e.getKey()).data, e.getValue().data);
        }
        assertEquals(row.trainingUpdatesBuffers(), moved, "training forward updates the buffers");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rows")
    void stateDictHasPytorchKeysAndSurvivesAModelFile(Row row, @TempDir Path dir) throws Exception {
        Module m = row.make().get();
        assertEquals(row.keys(), List.copyOf(m.stateDict().keySet()));
        randomize(m, new Rng(6));
        m.eval();
        Path file = dir.resolve("m.safetensors");
        ModelFiles.save(m, file);
        assertTrue(Files.exists(dir.resolve("m.json")));
        Module back = ModelFiles.load(file);
        assertEquals(m.getClass(), back.getClass());
        assertFalse(back.isTraining(), "a loaded model is in eval mode");
        for (Map.Entry<String, Tensor> e : m.stateDict().entrySet()) {
            assertArrayEquals(e.getValue().data, back.stateDict().get(e.getKey()).data, e.getKey());
        }
        Tensor x = gaussian(new Rng(7), row.shape());
        assertArrayEquals(m.forward(x).data, back.forward(x).data);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rows")
    void gradientsMatchFiniteDifferencesInBothModes(Row row) {
        for (boolean training : new boolean[] {true, false}) {
            Module m = row.make().get();
            randomize(m, new Rng(8));
            m.setTraining(training);
            List<GradCheck.Result> results = GradCheck.check(m, gaussian(new Rng(9), row.shape()), GradCheck.TOL);
            assertEquals(1 + m.parameters().size(), results.size(), "dx and every parameter checked");
            for (GradCheck.Result r : results) assertTrue(r.scale() > 0, "gradient identically zero proves nothing: " + r);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rows")
    void badInputIsOneClearErrorAndChangesNothing(Row row) {
        Module m = row.make().get();
        randomize(m, new Rng(10));
        Map<String, Tensor> before = m.stateDict();
        String label = m.label();
        ShapeException e = assertThrows(ShapeException.class, () -> m.forward(Tensor.zeros(row.wrongShape())));
        assertTrue(e.getMessage().startsWith(label), "names the layer: " + e.getMessage());
        String shape = Arrays.toString(row.wrongShape()).replace(" ", "");
        assertTrue(e.getMessage().replace(" ", "").contains(shape.substring(1, shape.length() - 1)), "names the shape: " + e.getMessage());
        assertThrows(ShapeException.class, () -> m.forward(Tensor.zeros(5)));
        for (Map.Entry<String, Tensor> s : m.stateDict().entrySet()) {
            assertArrayEquals(before.get(s.getKey()).data, s.getValue().data, "a refused input changed " + s.getKey());
        }
    }
}
