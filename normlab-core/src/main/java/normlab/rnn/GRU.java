package normlab.rnn;

import normlab.kernels.Gemm;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;

/**
 * Gated recurrent unit as PyTorch's {@code nn.GRU} (gate order r, z, n; see {@link Recurrent} for layouts,
 * parameters and states). Per layer and step:
 * <pre>
 *   gx = x_t·W_ihᵀ + b_ih,  gh = h_{t−1}·W_hhᵀ + b_hh          (N, 3H) each = [r | z | n] parts
 *   r = σ(gx_r + gh_r)   z = σ(gx_z + gh_z)   n = tanh(gx_n + r ⊙ gh_n)
 *   h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}
 * </pre>
 * Backward, with dh = dL/dh_t:
 * <pre>
 *   dn̂ = dh⊙(1−z)⊙(1−n²)   dẑ = dh⊙(h_{t−1}−n)⊙z(1−z)   dr̂ = dn̂⊙gh_n⊙r(1−r)
 *   dgx = [dr̂ | dẑ | dn̂]    dgh = [dr̂ | dẑ | dn̂⊙r]
 *   dh_{t−1} = dh⊙z + dgh·W_hh;   dW_ih += dgxᵀ·x, dW_hh += dghᵀ·h_prev, db_ih += Σdgx, db_hh += Σdgh, dx = dgx·W_ih
 * </pre>
 */
public final class GRU extends Recurrent {
    /** Per layer, time-major: input (T·N, in_l), activated gates r, z, n (T·N, 3H), gh_n = (h·W_hnᵀ + b_hn) (T·N, H),
     * h with slot 0 = h0 ((T+1)·N, H). */
    private float[][] in, act, ghn, h;
    private float[] dh0;

    public GRU(int inputSize, int hiddenSize, Rng rng) {
        this(inputSize, hiddenSize, 1, true, rng);
    }

    public GRU(int inputSize, int hiddenSize, int numLayers, boolean batchFirst, Rng rng) {
        super("GRU", 3, inputSize, hiddenSize, numLayers, batchFirst, rng);
    }

    @Override
    int stateCount() {
        return 1;
    }

    @Override
    public Tensor forward(Tensor x) {
        int[] nt = sizes(x);
        int n = nt[0], t = nt[1], hs = hiddenSize, g3 = 3 * hs, nh = n * hs;
        float[] hInit = initial(h0, "h0", n);
        in = new float[numLayers][];
        act = new float[numLayers][];
        ghn = new float[numLayers][];
        h = new float[numLayers][];
        float[] layerIn = new float[t * n * inputSize];
        toTimeMajor(layerIn, x.data, n, t, inputSize, batchFirst);
        float[] hPrev = new float[nh], rec = new float[n * g3];
        for (int l = 0; l < numLayers; l++) {
            int inL = l == 0 ? inputSize : hs;
            float[] a = new float[t * n * g3], hl = new float[(t + 1) * nh], gn = new float[t * nh];
            System.arraycopy(hInit, l * nh, hl, 0, nh);
            Gemm.matmulNT(a, layerIn, wIh[l].value.data, t * n, inL, g3); // x·W_ihᵀ, all steps
            float[] bi = bIh[l].value.data, bh = bHh[l].value.data, whh = wHh[l].value.data;
            for (int s = 0; s < t; s++) {
                System.arraycopy(hl, s * nh, hPrev, 0, nh);
                Gemm.matmulNT(rec, hPrev, whh, n, hs, g3); // h_{t−1}·W_hhᵀ
                for (int b = 0; b < n; b++) {
                    int ao = (s * n + b) * g3, ro = b * g3, ho = (s * n + b) * hs;
                    for (int j = 0; j < hs; j++) {
                        float r = sigmoid(a[ao + j] + bi[j] + rec[ro + j] + bh[j]);
                        float z = sigmoid(a[ao + hs + j] + bi[hs + j] + rec[ro + hs + j] + bh[hs + j]);
                        float hn = rec[ro + 2 * hs + j] + bh[2 * hs + j];
                        float nn = tanh(a[ao + 2 * hs + j] + bi[2 * hs + j] + r * hn);
                        a[ao + j] = r;
                        a[ao + hs + j] = z;
                        a[ao + 2 * hs + j] = nn;
                        gn[ho + j] = hn;
                        hl[ho + nh + j] = (1 - z) * nn + z * hl[ho + j];
                    }
                }
            }
            in[l] = layerIn;
            act[l] = a;
            ghn[l] = gn;
            h[l] = hl;
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
        int n = lastN, t = lastT, hs = hiddenSize, g3 = 3 * hs, nh = n * hs;
        Tensor.requireShape(label() + " backward", dy, batchFirst ? new int[] {n, t, hs} : new int[] {t, n, hs});
        float[] dOut = new float[t * nh];
        toTimeMajor(dOut, dy.data, n, t, hs, batchFirst);
        dh0 = new float[numLayers * nh];
        float[] dh = new float[nh], dhRec = new float[nh], dgh = new float[n * g3];
        for (int l = numLayers - 1; l >= 0; l--) {
            int inL = l == 0 ? inputSize : hs;
            float[] a = act[l], hl = h[l], gn = ghn[l], dGx = new float[t * n * g3], dGh = new float[t * n * g3];
            float[] whh = wHh[l].value.data;
            java.util.Arrays.fill(dh, 0f);
            for (int s = t - 1; s >= 0; s--) {
                for (int b = 0; b < n; b++) {
                    int ao = (s * n + b) * g3, ho = (s * n + b) * hs, o = b * hs;
                    for (int j = 0; j < hs; j++) {
                        float r = a[ao + j], z = a[ao + hs + j], nn = a[ao + 2 * hs + j];
                        float d = dOut[ho + j] + dh[o + j];
                        float dn = d * (1 - z) * (1 - nn * nn);
                        float dz = d * (hl[ho + j] - nn) * z * (1 - z);
                        float dr = dn * gn[ho + j] * r * (1 - r);
                        dGx[ao + j] = dr;
                        dGx[ao + hs + j] = dz;
                        dGx[ao + 2 * hs + j] = dn;
                        dgh[b * g3 + j] = dr;
                        dgh[b * g3 + hs + j] = dz;
                        dgh[b * g3 + 2 * hs + j] = dn * r;
                        dh[o + j] = d * z; // the direct path; the product through W_hh is added below
                    }
                }
                System.arraycopy(dgh, 0, dGh, s * n * g3, n * g3);
                Gemm.matmulNN(dhRec, dgh, whh, n, g3, hs);
                for (int i = 0; i < nh; i++) dh[i] += dhRec[i];
            }
            System.arraycopy(dh, 0, dh0, l * nh, nh);
            Gemm.matmulTNAcc(wIh[l].grad.data, dGx, in[l], t * n, g3, inL);
            Gemm.matmulTNAcc(wHh[l].grad.data, dGh, hl, t * n, g3, hs);
            addColumnSums(bIh[l].grad.data, dGx, t * n, g3);
            addColumnSums(bHh[l].grad.data, dGh, t * n, g3);
            float[] dIn = new float[t * n * inL];
            Gemm.matmulNN(dIn, dGx, wIh[l].value.data, t * n, g3, inL);
            dOut = dIn;
        }
        Tensor dx = outputTensor(1, batchFirst ? new int[] {n, t, inputSize} : new int[] {t, n, inputSize});
        fromTimeMajor(dx.data, dOut, 0, n, t, inputSize, batchFirst);
        return dx;
    }

    @Override
    public Tensor finalHidden() {
        if (h == null) throw new IllegalStateException(label() + ": no final hidden state before a forward");
        int nh = lastN * hiddenSize;
        Tensor out = Tensor.zeros(numLayers, lastN, hiddenSize);
        for (int l = 0; l < numLayers; l++) System.arraycopy(h[l], lastT * nh, out.data, l * nh, nh);
        return out;
    }

    @Override
    public Tensor initialHiddenGrad() {
        requireForward(dh0, this);
        return Tensor.of(dh0.clone(), numLayers, lastN, hiddenSize);
    }
}
