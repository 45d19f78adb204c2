package normlab.rnn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The LSTM's vectorized cell step ({@link LSTM#cellStep}) gives the bits of the scalar formulas it replaced, for hidden
 * sizes with and without a vector tail (so results and the PyTorch goldens do not move).
 */
class LstmCellStepTest {
    @Test
    void vectorCellStepEqualsTheScalarFormulasBitForBit() {
        Random r = new Random(3);
        for (int hs : new int[] {1, 3, 8, 13, 128}) {
            int g4 = 4 * hs, nh = 2 * hs, ao = 5, ro = 2, co = 1;
            float[] a = new float[ao + g4], rec = new float[ro + g4], bi = new float[g4], bh = new float[g4];
            float[] cl = new float[co + nh + hs], tcl = new float[co + hs], hl = new float[co + nh + hs];
            for (float[] v : new float[][] {a, rec, bi, bh, cl}) for (int i = 0; i < v.length; i++) v[i] = (float) (3 * r.nextGaussian());
            a[ao] = 0.01f; // the tanh's small-argument branch and large arguments (saturation) both occur
            rec[ro] = 0f;
            bi[0] = 0f;
            bh[0] = 30f;
            float[] ea = a.clone(), ec = cl.clone(), et = tcl.clone(), eh = hl.clone();
            for (int j = 0; j < hs; j++) {
                float ig = Recurrent.sigmoid(ea[ao + j] + rec[ro + j] + bi[j] + bh[j]);
                float fg = Recurrent.sigmoid(ea[ao + hs + j] + rec[ro + hs + j] + bi[hs + j] + bh[hs + j]);
                float gg = Recurrent.tanh(ea[ao + 2 * hs + j] + rec[ro + 2 * hs + j] + bi[2 * hs + j] + bh[2 * hs + j]);
                float og = Recurrent.sigmoid(ea[ao + 3 * hs + j] + rec[ro + 3 * hs + j] + bi[3 * hs + j] + bh[3 * hs + j]);
                ea[ao + j] = ig;
                ea[ao + hs + j] = fg;
                ea[ao + 2 * hs + j] = gg;
                ea[ao + 3 * hs + j] = og;
                float ct = fg * ec[co + j] + ig * gg;
                float th = Recurrent.tanh(ct);
                ec[co + nh + j] = ct;
                et[co + j] = th;
                eh[co + nh + j] = og * th;
            }
            LSTM.cellStep(a, ao, rec, ro, bi, bh, cl, tcl, hl, co, nh, hs);
            for (int i = 0; i < a.length; i++) assertEquals(Float.floatToIntBits(ea[i]), Float.floatToIntBits(a[i]), "gates, hidden " + hs + ", index " + i);
            for (int i = 0; i < cl.length; i++) assertEquals(Float.floatToIntBits(ec[i]), Float.floatToIntBits(cl[i]), "c, hidden " + hs + ", index " + i);
            for (int i = 0; i < tcl.length; i++) assertEquals(Float.floatToIntBits(et[i]), Float.floatToIntBits(tcl[i]), "tanh c, hidden " + hs);
            for (int i = 0; i < hl.length; i++) assertEquals(Float.floatToIntBits(eh[i]), Float.floatToIntBits(hl[i]), "h, hidden " + hs + ", index " + i);
        }
    }

    /** The vectorized backward of one row's cell step ({@link LSTM#cellStepBackward}) against the scalar formulas, bit for bit. */
    @Test
    void vectorCellStepBackwardEqualsTheScalarFormulasBitForBit() {
        Random r = new Random(5);
        for (int hs : new int[] {1, 3, 8, 13, 128}) {
            int g4 = 4 * hs, ao = 3, co = 2, o = 1, dao = 4;
            float[] a = new float[ao + g4], cl = new float[co + hs], tcl = new float[co + hs], dOut = new float[co + hs];
            float[] dh = new float[o + hs], dc = new float[o + hs], da = new float[dao + g4];
            for (float[] v : new float[][] {cl, dOut, dh, dc}) for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
            for (int i = 0; i < a.length; i++) a[i] = r.nextFloat();            // gate activations in (0, 1)
            for (int i = 0; i < tcl.length; i++) tcl[i] = 2 * r.nextFloat() - 1; // tanh values in (−1, 1)
            float[] eda = da.clone(), edc = dc.clone();
            for (int j = 0; j < hs; j++) {
                float ig = a[ao + j], fg = a[ao + hs + j], gg = a[ao + 2 * hs + j], og = a[ao + 3 * hs + j];
                float th = tcl[co + j], dht = dOut[co + j] + dh[o + j];
                float dct = edc[o + j] + dht * og * (1 - th * th);
                eda[dao + j] = dct * gg * ig * (1 - ig);
                eda[dao + hs + j] = dct * cl[co + j] * fg * (1 - fg);
                eda[dao + 2 * hs + j] = dct * ig * (1 - gg * gg);
                eda[dao + 3 * hs + j] = dht * th * og * (1 - og);
                edc[o + j] = dct * fg;
            }
            LSTM.cellStepBackward(da, dao, a, ao, cl, tcl, co, dOut, dh, dc, o, hs);
            for (int i = 0; i < da.length; i++) assertEquals(Float.floatToIntBits(eda[i]), Float.floatToIntBits(da[i]), "da, hidden " + hs + ", index " + i);
            for (int i = 0; i < dc.length; i++) assertEquals(Float.floatToIntBits(edc[i]), Float.floatToIntBits(dc[i]), "dc, hidden " + hs + ", index " + i);
        }
    }
}
