package normlab.rnn;

import jdk.incubator.vector.FloatVector;

import normlab.kernels.Gemm;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;

/**
 * Long short-term memory as PyTorch's {@code nn.LSTM} (gate order i, f, g, o; see {@link Recurrent} for layouts,
 * parameters, initial and final states). Per layer and step, with x_t the layer's input and h_{t−1}, c_{t−1} its state:
 * <pre>
 *   a = x_t·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh            (N, 4H) = [a_i | a_f | a_g | a_o]
 *   i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)
 *   c_t = f ⊙ c_{t−1} + i ⊙ g        h_t = o ⊙ tanh(c_t)
 * </pre>
 * Backward through time, from the last step down, with dh = dL/dh_t (output gradient plus what step t+1 sent back):
 * <pre>
 *   dc = dc_next + dh ⊙ o ⊙ (1 − tanh²c_t)
 *   da_i = dc⊙g⊙i(1−i)   da_f = dc⊙c_{t−1}⊙f(1−f)   da_g = dc⊙i⊙(1−g²)   da_o = dh⊙tanh(c_t)⊙o(1−o)
 *   dh_next = da·W_hh     dc_next = dc ⊙ f
 *   dW_ih += daᵀ·x   dW_hh += daᵀ·h_prev   db_ih = db_hh += Σ da   dx = da·W_ih      (all steps at once)
 * </pre>
 */
public final class LSTM extends Recurrent {
    /** Per layer, time-major: the layer's input (T·N, in_l), activated gates (T·N, 4H), c and h with slot 0 = c0/h0
     * ((T+1)·N, H), tanh(c_t) (T·N, H). */
    private float[][] in, act, c, h, tc;
    private float[] dh0, dc0;

    /** One layer, batch-first, PyTorch's initialization from {@code rng} (zeros when null). */
    public LSTM(int inputSize, int hiddenSize, Rng rng) {
        this(inputSize, hiddenSize, 1, true, rng);
    }

    public LSTM(int inputSize, int hiddenSize, int numLayers, boolean batchFirst, Rng rng) {
        super("LSTM", 4, inputSize, hiddenSize, numLayers, batchFirst, rng);
    }

    @Override
    int stateCount() {
        return 2;
    }

    /**
     * One row's LSTM cell at one step, in vector passes (each value bit-identical to the scalar formulas):
     * <pre>
     *   z = ((x·W_ihᵀ + h·W_hhᵀ) + b_ih) + b_hh          (a[ao..ao+4h) holds x·W_ihᵀ, rec[ro..] holds h·W_hhᵀ)
     *   i, f, o = σ(z_i), σ(z_f), σ(z_o);  g = tanh(z_g)  (written back into a: the saved activations)
     *   c_t = f·c_{t−1} + i·g;   h_t = o·tanh(c_t)         (c_{t−1} at cl[co..], c_t and h_t one step (nh) later)
     * </pre>
     */
    static void cellStep(float[] a, int ao, float[] rec, int ro, float[] bi, float[] bh, float[] cl, float[] tcl, float[] hl,
                         int co, int nh, int hs) {
        int g4 = 4 * hs, bound = F.loopBound(g4), j = 0;
        for (; j < bound; j += F.length()) {
            FloatVector z = FloatVector.fromArray(F, a, ao + j).add(FloatVector.fromArray(F, rec, ro + j))
                    .add(FloatVector.fromArray(F, bi, j)).add(FloatVector.fromArray(F, bh, j));
            z.intoArray(a, ao + j);
        }
        for (; j < g4; j++) a[ao + j] = a[ao + j] + rec[ro + j] + bi[j] + bh[j];
        normlab.kernels.Elementwise.sigmoid(a, ao, a, ao, 2 * hs);                   // i, f
        normlab.kernels.Elementwise.tanh(a, ao + 2 * hs, a, ao + 2 * hs, hs);        // g
        normlab.kernels.Elementwise.sigmoid(a, ao + 3 * hs, a, ao + 3 * hs, hs);     // o
        int hb = F.loopBound(hs);
        j = 0;
        for (; j < hb; j += F.length()) {
            FloatVector ig = FloatVector.fromArray(F, a, ao + j), fg = FloatVector.fromArray(F, a, ao + hs + j);
            FloatVector gg = FloatVector.fromArray(F, a, ao + 2 * hs + j);
            fg.mul(FloatVector.fromArray(F, cl, co + j)).add(ig.mul(gg)).intoArray(cl, co + nh + j);
        }
        for (; j < hs; j++) cl[co + nh + j] = a[ao + hs + j] * cl[co + j] + a[ao + j] * a[ao + 2 * hs + j];
        normlab.kernels.Elementwise.tanh(tcl, co, cl, co + nh, hs);
        j = 0;
        for (; j < hb; j += F.length()) {
            FloatVector.fromArray(F, a, ao + 3 * hs + j).mul(FloatVector.fromArray(F, tcl, co + j)).intoArray(hl, co + nh + j);
        }
        for (; j < hs; j++) hl[co + nh + j] = a[ao + 3 * hs + j] * tcl[co + j];
    }

    /**
     * The backward of {@link #cellStep} for one row, in vector passes with the scalar formulas' bits (same operation
     * order, no fused multiply-adds):
     * <pre>
     *   dh_t = dy_t + dh          dc_t = dc + dh_t·o·(1 − tanh²c_t)
     *   da_i = dc_t·g·i·(1 − i)   da_f = dc_t·c_{t−1}·f·(1 − f)   da_g = dc_t·i·(1 − g²)   da_o = dh_t·tanh c_t·o·(1 − o)
     *   dc ← dc_t·f               (dh for the step before comes from da·W_hh, outside)
     * </pre>
     */
    static void cellStepBackward(float[] da, int dao, float[] a, int ao, float[] cl, float[] tcl, int co, float[] dOut, float[] dh,
                                 float[] dc, int o, int hs) {
        int bound = F.loopBound(hs), j = 0;
        for (; j < bound; j += F.length()) {
            FloatVector ig = FloatVector.fromArray(F, a, ao + j), fg = FloatVector.fromArray(F, a, ao + hs + j);
            FloatVector gg = FloatVector.fromArray(F, a, ao + 2 * hs + j), og = FloatVector.fromArray(F, a, ao + 3 * hs + j);
            FloatVector th = FloatVector.fromArray(F, tcl, co + j);
            FloatVector dht = FloatVector.fromArray(F, dOut, co + j).add(FloatVector.fromArray(F, dh, o + j));
            FloatVector one = FloatVector.broadcast(F, 1f);
            FloatVector dct = FloatVector.fromArray(F, dc, o + j).add(dht.mul(og).mul(one.sub(th.mul(th))));
            dct.mul(gg).mul(ig).mul(one.sub(ig)).intoArray(da, dao + j);
            dct.mul(FloatVector.fromArray(F, cl, co + j)).mul(fg).mul(one.sub(fg)).intoArray(da, dao + hs + j);
            dct.mul(ig).mul(one.sub(gg.mul(gg))).intoArray(da, dao + 2 * hs + j);
            dht.mul(th).mul(og).mul(one.sub(og)).intoArray(da, dao + 3 * hs + j);
            dct.mul(fg).intoArray(dc, o + j);
        }
        for (; j < hs; j++) {
            float ig = a[ao + j], fg = a[ao + hs + j], gg = a[ao + 2 * hs + j], og = a[ao + 3 * hs + j];
            float th = tcl[co + j], dht = dOut[co + j] + dh[o + j];
            float dct = dc[o + j] + dht * og * (1 - th * th);
            da[dao + j] = dct * gg * ig * (1 - ig);
            da[dao + hs + j] = dct * cl[co + j] * fg * (1 - fg);
            da[dao + 2 * hs + j] = dct * ig * (1 - gg * gg);
            da[dao + 3 * hs + j] = dht * th * og * (1 - og);
            dc[o + j] = dct * fg;
        }
    }

    private static final jdk.incubator.vector.VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    @Override
    public Tensor forward(Tensor x) {
        int[] nt = sizes(x);
        int n = nt[0], t = nt[1], hs = hiddenSize, g4 = 4 * hs, nh = n * hs;
        float[] hInit = initial(h0, "h0", n), cInit = initial(c0, "c0", n);
        in = new float[numLayers][];
        act = new float[numLayers][];
        c = new float[numLayers][];
        h = new float[numLayers][];
        tc = new float[numLayers][];
        float[] layerIn = new float[t * n * inputSize];
        toTimeMajor(layerIn, x.data, n, t, inputSize, batchFirst);
        float[] hPrev = new float[nh], rec = new float[n * g4];
        for (int l = 0; l < numLayers; l++) {
            int inL = l == 0 ? inputSize : hs;
            float[] a = new float[t * n * g4], cl = new float[(t + 1) * nh], hl = new float[(t + 1) * nh], tcl = new float[t * nh];
            System.arraycopy(cInit, l * nh, cl, 0, nh);
            System.arraycopy(hInit, l * nh, hl, 0, nh);
            // a = x·W_ihᵀ for all T·N rows at once
            Gemm.matmulNT(a, layerIn, wIh[l].value.data, t * n, inL, g4);
            float[] bi = bIh[l].value.data, bh = bHh[l].value.data, whh = wHh[l].value.data;
            for (int s = 0; s < t; s++) {
                System.arraycopy(hl, s * nh, hPrev, 0, nh);
                Gemm.matmulNT(rec, hPrev, whh, n, hs, g4); // h_{t−1}·W_hhᵀ
                for (int b = 0; b < n; b++) {
                    int ao = (s * n + b) * g4, ro = b * g4, co = (s * n + b) * hs;
                    cellStep(a, ao, rec, ro, bi, bh, cl, tcl, hl, co, nh, hs);
                }
            }
            in[l] = layerIn;
            act[l] = a;
            c[l] = cl;
            h[l] = hl;
            tc[l] = tcl;
            if (l + 1 < numLayers) layerIn = java.util.Arrays.copyOfRange(hl, nh, (t + 1) * nh);
        }
        lastN = n;
        lastT = t;
        Tensor y = outputTensor(0, batchFirst ? new int[] {n, t, hs} : new int[] {t, n, hs});
        fromTimeMajor(y.data, h[numLayers - 1], nh, n, t, hs, batchFirst);
        return y;
    }

    @Override
    public Tensor backward(Tensor dy) {
        requireForward(act, this);
        int n = lastN, t = lastT, hs = hiddenSize, g4 = 4 * hs, nh = n * hs;
        Tensor.requireShape(label() + " backward", dy, batchFirst ? new int[] {n, t, hs} : new int[] {t, n, hs});
        float[] dOut = new float[t * nh];
        toTimeMajor(dOut, dy.data, n, t, hs, batchFirst);
        dh0 = new float[numLayers * nh];
        dc0 = new float[numLayers * nh];
        float[] dh = new float[nh], dc = new float[nh], da = new float[n * g4];
        for (int l = numLayers - 1; l >= 0; l--) {
            int inL = l == 0 ? inputSize : hs;
            float[] a = act[l], cl = c[l], tcl = tc[l], dA = new float[t * n * g4], whh = wHh[l].value.data;
            java.util.Arrays.fill(dh, 0f);
            java.util.Arrays.fill(dc, 0f);
            for (int s = t - 1; s >= 0; s--) {
                for (int b = 0; b < n; b++) {
                    int ao = (s * n + b) * g4, co = (s * n + b) * hs, o = b * hs;
                    cellStepBackward(da, b * g4, a, ao, cl, tcl, co, dOut, dh, dc, o, hs);
                }
                System.arraycopy(da, 0, dA, s * n * g4, n * g4);
                Gemm.matmulNN(dh, da, whh, n, g4, hs); // dh_{t−1} = da·W_hh
            }
            System.arraycopy(dh, 0, dh0, l * nh, nh);
            System.arraycopy(dc, 0, dc0, l * nh, nh);
            // dW_ih += dAᵀ·x, dW_hh += dAᵀ·h_prev (h slots 0..T−1), db += Σ dA
            Gemm.matmulTNAcc(wIh[l].grad.data, dA, in[l], t * n, g4, inL);
            Gemm.matmulTNAcc(wHh[l].grad.data, dA, h[l], t * n, g4, hs);
            addColumnSums(bIh[l].grad.data, dA, t * n, g4);
            addColumnSums(bHh[l].grad.data, dA, t * n, g4);
            float[] dIn = new float[t * n * inL];
            Gemm.matmulNN(dIn, dA, wIh[l].value.data, t * n, g4, inL);
            dOut = dIn;
        }
        Tensor dx = outputTensor(1, batchFirst ? new int[] {n, t, inputSize} : new int[] {t, n, inputSize});
        fromTimeMajor(dx.data, dOut, 0, n, t, inputSize, batchFirst);
        return dx;
    }

    @Override
    public Tensor finalHidden() {
        return finalState(h, "final hidden state");
    }

    /** The last forward's final cell state c_n, (numLayers, N, H). */
    public Tensor finalCell() {
        return finalState(c, "final cell state");
    }

    private Tensor finalState(float[][] s, String what) {
        if (s == null) throw new IllegalStateException(label() + ": no " + what + " before a forward");
        int nh = lastN * hiddenSize;
        Tensor out = Tensor.zeros(numLayers, lastN, hiddenSize);
        for (int l = 0; l < numLayers; l++) System.arraycopy(s[l], lastT * nh, out.data, l * nh, nh);
        return out;
    }

    @Override
    public Tensor initialHiddenGrad() {
        requireForward(dh0, this);
        return Tensor.of(dh0.clone(), numLayers, lastN, hiddenSize);
    }

    /** dL/dc0 of the last backward, (numLayers, N, H). */
    public Tensor initialCellGrad() {
        requireForward(dc0, this);
        return Tensor.of(dc0.clone(), numLayers, lastN, hiddenSize);
    }
}
