package normlab.io.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import normlab.nn.Linear;
import normlab.nn.Sequential;
import normlab.rnn.GRU;
import normlab.rnn.LSTM;
import normlab.rnn.LastStep;
import normlab.rnn.NormLSTM;
import normlab.rnn.Unflatten;
import normlab.tensor.Rng;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Recurrent layers through ONNX Runtime (ONNX LSTM / GRU with the gates reordered, LastStep as Gather, Unflatten as
 * Reshape). Metric as {@link OnnxExportTest}: max |ort − normlab| / max(1, max |normlab|) ≤ 1e-5 at batch 1 and 5.
 * A NormLSTM has no ONNX form and its export fails with one line naming it.
 */
class OnnxRecurrentTest {
    static final double TOL = 1e-5;

    @TempDir
    Path dir;

    @Test
    void lstmClassifierMatchesOnnxRuntime() throws Exception {
        Rng rng = new Rng(17);
        Sequential m = new Sequential(new Unflatten(7, 4), new LSTM(4, 6, 2, true, rng), new LastStep(), new Linear(6, 3, rng));
        double err = OnnxExportTest.compare(m, new int[] {28}, dir.resolve("lstm.onnx"), rng, 5);
        assertTrue(err <= TOL, "LSTM classifier: ORT vs normlab rel err " + err);
        // Sharp: a gate bias changed after export no longer matches (a misordered gate would not either).
        OnnxExport.export(m, new int[] {28}, dir.resolve("lstm2.onnx"));
        float[] b = ((LSTM) m.get(1)).layerParameters(1)[2].value.data; // layer 1's bias_ih, gates i, f, g, o of 6
        for (int j = 6; j < 12; j++) b[j] += 2f; // the forget gate
        var x = Ort.randn(rng, 2, 28);
        assertTrue(Ort.relErr(Ort.run(dir.resolve("lstm2.onnx"), x), m.forward(x)) > 1e-3);
    }

    @Test
    void gruAndTimeMajorLstmMatchOnnxRuntime() throws Exception {
        Rng rng = new Rng(18);
        Sequential gru = new Sequential(new GRU(3, 5, 2, true, rng), new LastStep(), new Linear(5, 2, rng));
        assertTrue(OnnxExportTest.compare(gru, new int[] {6, 3}, dir.resolve("gru.onnx"), rng, 5) <= TOL);
        // Time-major (T, N, F): the exported model's leading (symbolic) dimension is T.
        Sequential tm = new Sequential(new LSTM(3, 4, 1, false, rng), new GRU(4, 3, 1, false, rng));
        assertTrue(OnnxExportTest.compare(tm, new int[] {2, 3}, dir.resolve("tm.onnx"), rng, 5) <= TOL);
    }

    @Test
    void normalizedCellsAreNotExportable() {
        Sequential m = new Sequential(new NormLSTM(NormLSTM.Kind.LAYER, 3, 4, 0, true, new Rng(1)), new LastStep());
        var e = assertThrows(IllegalArgumentException.class, () -> OnnxExport.export(m, new int[] {5, 3}, dir.resolve("n.onnx")));
        assertTrue(e.getMessage().startsWith("OnnxExport: NormLSTM(layer) '0' has no ONNX mapping"), e.getMessage());
        assertEquals(-1, e.getMessage().indexOf('\n'));
    }
}
