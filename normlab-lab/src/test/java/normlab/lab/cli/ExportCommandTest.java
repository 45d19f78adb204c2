package normlab.lab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import normlab.io.ModelFiles;
import normlab.lab.Main;
import normlab.nn.Activation;
import normlab.nn.Linear;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm1d;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code normlab export}: a saved model becomes an ONNX file that ONNX Runtime runs to normlab's outputs (max rel err 1e-5). */
class ExportCommandTest {
    @TempDir
    Path dir;

    @Test
    void exportsASavedModelThatOnnxRuntimeRuns() throws Exception {
        Rng rng = new Rng(41);
        Sequential m = new Sequential(new Linear(6, 8, rng), new BatchNorm1d(8), new Activation.ReLU(), new Linear(8, 3, rng));
        BatchNorm1d bn = (BatchNorm1d) m.get(1);
        for (int c = 0; c < 8; c++) {
            bn.runningMean.data[c] = (float) rng.nextGaussian();
            bn.runningVar.data[c] = (float) (0.5 + rng.nextDouble());
        }
        Path weights = dir.resolve("m.safetensors");
        ModelFiles.save(m, weights);
        Path out = dir.resolve("m.onnx");
        int code = new CommandLine(new Main()).execute("export", weights.toString(), "--input-shape", "6", "--out", out.toString());
        assertEquals(0, code);

        Tensor x = Tensor.zeros(4, 6);
        for (int i = 0; i < x.numel(); i++) x.data[i] = (float) rng.nextGaussian();
        m.eval();
        Tensor ref = m.forward(x);
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession s = env.createSession(out.toString(), new OrtSession.SessionOptions());
             OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x.data), new long[] {4, 6});
             OrtSession.Result r = s.run(Map.of("input", in))) {
            float[][] got = (float[][]) r.get(0).getValue();
            double maxDiff = 0, maxRef = 1;
            for (int i = 0; i < 4; i++) {
                for (int j = 0; j < 3; j++) {
                    maxDiff = Math.max(maxDiff, Math.abs(got[i][j] - ref.at(i, j)));
                    maxRef = Math.max(maxRef, Math.abs(ref.at(i, j)));
                }
            }
            assertTrue(maxDiff / maxRef <= 1e-5, "rel err " + maxDiff / maxRef);
        }
    }

    @Test
    void missingModelFileIsAnErrorNotAnOnnxFile() {
        CommandLine cl = new CommandLine(new Main());
        StringWriter err = new StringWriter();
        cl.setErr(new PrintWriter(err));
        Path out = dir.resolve("none.onnx");
        int code = cl.execute("export", dir.resolve("absent.safetensors").toString(), "--input-shape", "6", "--out", out.toString());
        assertNotEquals(0, code);
        assertTrue(err.toString().contains("absent"), err.toString());
        assertTrue(!Files.exists(out));
    }
}
