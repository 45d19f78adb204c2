package normlab.io.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import normlab.io.onnx.proto.Onnx;
import normlab.nn.Activation;
import normlab.nn.Flatten;
import normlab.nn.Linear;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm1d;
import normlab.tensor.Rng;
import normlab.models.MnistMlp;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Exported models run in ONNX Runtime and give normlab's eval-mode outputs. Metric: max |ort − normlab| /
 * max(1, max |normlab|) <= 1e-5, over batches of several sizes (the batch dimension is symbolic).
 */
class OnnxExportTest {
    static final double TOL = 1e-5;

    @TempDir
    Path dir;

    /** The paper's MNIST network (Section 4.1): 784-100-100-100-10, BN before each sigmoid (layers 1, 4, 7). */
    static Sequential paperMlp(Rng rng) {
        return MnistMlp.build(true, 0.1, rng);
    }

    /** Exports {@code model}, runs ORT and normlab (eval) on batches of 1 and {@code n}; returns the worst error. */
    static double compare(Module model, int[] inShape, Path file, Rng rng, int n) throws Exception {
        OnnxExport.export(model, inShape, file);
        double worst = 0;
        for (int b : new int[] {1, n}) {
            int[] shape = new int[inShape.length + 1];
            shape[0] = b;
            System.arraycopy(inShape, 0, shape, 1, inShape.length);
            Tensor x = Ort.randn(rng, shape);
            model.eval();
            Tensor ref = model.forward(x);
            Tensor got = Ort.run(file, x);
            worst = Math.max(worst, Ort.relErr(got, ref));
        }
        System.out.printf("%s: ORT vs normlab max rel err %.3g%n", file.getFileName(), worst);
        return worst;
    }

    @Test
    void paperMlpWithBatchNormMatchesOnnxRuntime() throws Exception {
        Rng rng = new Rng(6);
        Sequential mlp = paperMlp(rng);
        Ort.randomizeNorms(mlp, rng);
        double err = compare(mlp, new int[] {784}, dir.resolve("mlp.onnx"), rng, 64);
        assertTrue(err <= TOL, "MLP: ORT vs normlab rel err " + err);
        // The comparison is sharp: a model whose statistics moved after export no longer matches the file.
        for (int c = 0; c < 100; c++) ((BatchNorm1d) mlp.get(4)).runningMean.data[c] += 0.5f;
        Tensor x = Ort.randn(rng, 8, 784);
        double drift = Ort.relErr(Ort.run(dir.resolve("mlp.onnx"), x), mlp.forward(x));
        assertTrue(drift > 100 * TOL, "a changed running mean must show, rel err " + drift);
    }

    @Test
    void paperBaselineMlpAndAFlattenedInputMatch() throws Exception {
        Rng rng = new Rng(5);
        Sequential m = new Sequential(new Flatten(), MnistMlp.build(false, 0.1, rng));
        double err = compare(m, new int[] {1, 28, 28}, dir.resolve("baseline.onnx"), rng, 32);
        assertTrue(err <= TOL, "baseline MLP: ORT vs normlab rel err " + err);
    }

    @Test
    void reluTanhAndNonAffineBatchNormMatch() throws Exception {
        Rng rng = new Rng(7);
        Sequential m = new Sequential(
                new Linear(20, 30, rng), new BatchNorm1d(30, 1e-3, 0.1, false, true), new Activation.ReLU(),
                new Linear(30, 16, false, rng), new Activation.Tanh(), new Linear(16, 5, rng));
        Ort.randomizeNorms(m, rng);
        double err = compare(m, new int[] {20}, dir.resolve("m.onnx"), rng, 9);
        assertTrue(err <= TOL, "rel err " + err);
    }

    @Test
    void softmaxOutputIsOptionalAndSumsToOne() throws Exception {
        Rng rng = new Rng(8);
        Sequential m = new Sequential(new Linear(12, 4, rng));
        Path f = dir.resolve("sm.onnx");
        OnnxExport.export(m, new int[] {12}, f, true);
        Tensor x = Ort.randn(rng, 5, 12);
        Tensor logits = m.forward(x);
        Tensor p = Ort.run(f, x);
        for (int i = 0; i < 5; i++) {
            double max = Double.NEGATIVE_INFINITY, z = 0;
            for (int j = 0; j < 4; j++) max = Math.max(max, logits.at(i, j));
            for (int j = 0; j < 4; j++) z += Math.exp(logits.at(i, j) - max);
            for (int j = 0; j < 4; j++) {
                double want = Math.exp(logits.at(i, j) - max) / z;
                assertEquals(want, p.at(i, j), 1e-6, "softmax (" + i + "," + j + ")");
            }
        }
    }

    @Test
    void fileIsAValidModelProtoWithSymbolicBatchAndNamedInitializers() throws Exception {
        Rng rng = new Rng(9);
        Sequential mlp = paperMlp(rng);
        Path f = dir.resolve("mlp.onnx");
        OnnxExport.export(mlp, new int[] {784}, f);
        Onnx.ModelProto m = Onnx.ModelProto.parseFrom(Files.readAllBytes(f));
        assertEquals(OnnxExport.IR_VERSION, m.getIrVersion());
        assertEquals(OnnxExport.OPSET, m.getOpsetImport(0).getVersion());
        Onnx.TensorShapeProto in = m.getGraph().getInput(0).getType().getTensorType().getShape();
        assertEquals("N", in.getDim(0).getDimParam());
        assertEquals(784, in.getDim(1).getDimValue());
        Onnx.TensorShapeProto out = m.getGraph().getOutput(0).getType().getTensorType().getShape();
        assertEquals("N", out.getDim(0).getDimParam());
        assertEquals(10, out.getDim(1).getDimValue());
        // Every state tensor except num_batches_tracked is an initializer under its state-dict key, with equal bytes.
        java.util.Map<String, Onnx.TensorProto> inits = new java.util.HashMap<>();
        for (Onnx.TensorProto t : m.getGraph().getInitializerList()) inits.put(t.getName(), t);
        for (java.util.Map.Entry<String, Tensor> e : mlp.stateTensors().entrySet()) {
            if (e.getKey().endsWith("num_batches_tracked")) continue;
            Onnx.TensorProto t = inits.get(e.getKey());
            assertTrue(t != null, "initializer " + e.getKey());
            assertEquals(Onnx.TensorProto.DataType.FLOAT_VALUE, t.getDataType());
            java.nio.FloatBuffer fb = t.getRawData().asReadOnlyByteBuffer().order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            float[] v = new float[fb.remaining()];
            fb.get(v);
            assertTrue(java.util.Arrays.equals(e.getValue().data, v), "values of " + e.getKey());
        }
        long gemms = m.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("Gemm")).count();
        long bns = m.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("BatchNormalization")).count();
        assertEquals(4, gemms);
        assertEquals(3, bns);
    }

    @Test
    void exportLeavesEveryModuleInItsMode() throws Exception {
        Rng rng = new Rng(10);
        Sequential mlp = paperMlp(rng);
        mlp.train();
        mlp.get(1).eval();
        OnnxExport.export(mlp, new int[] {784}, dir.resolve("x.onnx"));
        assertTrue(mlp.isTraining());
        assertFalse(mlp.get(1).isTraining());
        assertTrue(mlp.get(4).isTraining());
        assertEquals(0f, ((BatchNorm1d) mlp.get(4)).numBatchesTracked.data[0], "export must not update running stats");
    }

    @Test
    void unsupportedLayerIsAnErrorNamingIt() {
        Module odd = new Module() {
            @Override
            public Tensor forward(Tensor x) {
                return x;
            }

            @Override
            public Tensor backward(Tensor g) {
                return g;
            }

            @Override
            public String label() {
                return "Mystery '1'";
            }
        };
        Sequential m = new Sequential(new Linear(4, 4, new Rng(1)), odd);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> OnnxExport.export(m, new int[] {4}, dir.resolve("y.onnx")));
        assertTrue(e.getMessage().contains("Mystery '1'"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("y.onnx")));
    }

    @Test
    void batchNormWithoutRunningStatisticsIsRefused() {
        Sequential m = new Sequential(new Linear(4, 4, new Rng(1)), new BatchNorm1d(4, 1e-5, 0.1, true, false));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> OnnxExport.export(m, new int[] {4}, dir.resolve("z.onnx")));
        assertTrue(e.getMessage().contains("BatchNorm1d '1'") && e.getMessage().contains("running statistics"), e.getMessage());
    }

    @Test
    void wrongInputShapeIsNormlabsShapeErrorNamingTheLayer() {
        Sequential m = paperMlp(new Rng(2));
        RuntimeException e = assertThrows(RuntimeException.class,
                () -> OnnxExport.export(m, new int[] {100}, dir.resolve("w.onnx")));
        assertTrue(e.getMessage().contains("Linear '0'"), e.getMessage());
    }
}
