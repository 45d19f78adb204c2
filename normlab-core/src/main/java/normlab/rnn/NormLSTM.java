package normlab.rnn;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import normlab.kernels.Gemm;
import normlab.nn.Init;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;

/**
 * A one-layer LSTM with normalized pre-activations and cell (no PyTorch module; checked against a torch reference in
 * tools/golden/gen_rnn.py). Gate order i, f, g, o as {@link LSTM}; per step, with N_ih, N_hh, N_c the three
 * normalizations:
 * <pre>
 *   a = N_ih(x_t·W_ihᵀ) + N_hh(h_{t−1}·W_hhᵀ) + b        (N, 4H)
 *   i, f, o = σ(a_i, a_f, a_o)   g = tanh(a_g)   c_t = f ⊙ c_{t−1} + i ⊙ g   h_t = o ⊙ tanh(N_c(c_t))
 * </pre>
 * {@link Kind#LAYER} — LayerNorm-LSTM (Ba, Kiros &amp; Hinton 2016 §3.1): each N is a LayerNorm over the sample's 4H
 * (or H) values with its own gain (1) and bias (0). {@link Kind#BATCH} — BatchNorm-LSTM (Cooijmans et al. 2017):
 * each N is a BatchNorm over the batch at step t with running statistics kept per time step up to
 * {@code maxLength} (steps beyond it use, and in training update, the last step's slot); N_ih and N_hh have a gain
 * (initialised to 0.1) and no shift (the bias b carries it), N_c has gain 0.1 and shift 0. {@link Kind#BATCH_SHARED}
 * — the naive BN-LSTM: the same, but one set of running statistics shared by all steps (as one BatchNorm1d called at
 * every step), the contrast Cooijmans et al. warn against. In training the batch statistics of each step are used by
 * both BN kinds; evaluation uses the running ones. ε = 1e-5, momentum 0.1, variance updates unbiased (PyTorch's).
 * At t = 0, h_0 = 0 makes W_hh·h_0 exactly 0 for every sample: per step, N_hh's slot 0 keeps running mean exactly 0
 * and a variance decaying toward 0, and outputs exactly 0 in training and evaluation alike (0·γ/√(σ²+ε) whatever σ²);
 * its γ/√ε-sized gradient meets only h_0 = 0 (no dW_hh, nothing upstream). So that step needs no special case; a
 * step whose <em>input</em> has no batch spread in training but varies at test time (pixels blank in every training image)
 * does: its slot divides by ≈ √ε at evaluation — a property of the data the experiments avoid, not patched here.
 *
 * <p>Parameters: {@code weight_ih} (4H, in), {@code weight_hh} (4H, H), {@code bias} (4H), all uniform in ±1/√H as
 * PyTorch's LSTM; {@code norm_ih.weight}, {@code norm_hh.weight}, {@code norm_c.weight}, {@code norm_c.bias}, plus
 * {@code norm_ih.bias} and {@code norm_hh.bias} for LAYER; buffers {@code norm_*.running_mean/var} ((S, 4H) or
 * (S, H), S = maxLength or 1) for the BN kinds. Input (N, T, in) when batch-first, else (T, N, in); output all hidden
 * states in the same layout; initial state zeros. Backward runs through time and through each normalization
 * ({@link StepNorm}). Not exportable to ONNX (no operator for it).
 */
public final class NormLSTM extends Module {
    /** Which normalization the cell uses. */
    public enum Kind {
        LAYER("layer"), BATCH("batch"), BATCH_SHARED("batch_shared");

        /** The name in model files and on the command line. */
        public final String id;

        Kind(String id) {
            this.id = id;
        }

        public static Kind of(String id) {
            for (Kind k : values()) if (k.id.equals(id)) return k;
            throw new IllegalArgumentException("NormLSTM: unknown norm '" + id + "' (expected layer, batch or batch_shared)");
        }
    }

    public static final double EPS = 1e-5, MOMENTUM = 0.1;
    /** BN gains start at 0.1 (Cooijmans et al. 2017 §4: keeps tanh and σ out of saturation early). */
    public static final float BN_GAMMA_INIT = 0.1f;

    public final Kind kind;
    public final int inputSize, hiddenSize, maxLength;
    public final boolean batchFirst;
    public final Parameter weightIh, weightHh, bias;
    final StepNorm nIh, nHh, nC;
    private final List<Parameter> params = new ArrayList<>();

    /** Per step: x·W_ihᵀ and h·W_hhᵀ (kept by the norms), normalized sums, activated gates, c (slot 0 = c0), tanh(N_c(c)), h. */
    private float[][] px, ph, act, c, tnc, h;
    private float[] xTm;
    private int lastN, lastT;

    /**
     * @param maxLength T_max, the number of per-step statistic slots (BATCH); ignored by the other kinds
     */
    public NormLSTM(Kind kind, int inputSize, int hiddenSize, int maxLength, boolean batchFirst, Rng rng) {
        if (inputSize <= 0 || hiddenSize <= 0) {
            throw new IllegalArgumentException("NormLSTM: sizes must be positive, got input_size=" + inputSize + " hidden_size=" + hiddenSize);
        }
        if (kind == Kind.BATCH && maxLength <= 0) {
            throw new IllegalArgumentException("NormLSTM: per-step batch statistics need max_length > 0, got " + maxLength);
        }
        this.kind = kind;
        this.inputSize = inputSize;
        this.hiddenSize = hiddenSize;
        this.maxLength = kind == Kind.BATCH ? maxLength : 0;
        this.batchFirst = batchFirst;
        int g4 = 4 * hiddenSize;
        weightIh = add(new Parameter("weight_ih", Tensor.zeros(g4, inputSize), Parameter.Kind.WEIGHT));
        weightHh = add(new Parameter("weight_hh", Tensor.zeros(g4, hiddenSize), Parameter.Kind.WEIGHT));
        bias = add(new Parameter("bias", Tensor.zeros(g4), Parameter.Kind.BIAS));
        if (rng != null) {
            double bound = 1.0 / Math.sqrt(hiddenSize);
            for (Parameter p : params) Init.uniform(p.value, -bound, bound, rng);
        }
        boolean bn = kind != Kind.LAYER;
        float g0 = bn ? BN_GAMMA_INIT : 1f;
        int slots = kind == Kind.BATCH ? maxLength : 1;
        nIh = new StepNorm(bn, g4, slots, EPS, MOMENTUM, add(norm("norm_ih.weight", g4, g0)), bn ? null : add(norm("norm_ih.bias", g4, 0f)));
        nHh = new StepNorm(bn, g4, slots, EPS, MOMENTUM, add(norm("norm_hh.weight", g4, g0)), bn ? null : add(norm("norm_hh.bias", g4, 0f)));
        nC = new StepNorm(bn, hiddenSize, slots, EPS, MOMENTUM, add(norm("norm_c.weight", hiddenSize, g0)), add(norm("norm_c.bias", hiddenSize, 0f)));
    }

    private Parameter add(Parameter p) {
        params.add(p);
        return p;
    }

    private static Parameter norm(String name, int size, float v) {
        return new Parameter(name, Tensor.full(v, size), Parameter.Kind.NORM);
    }

    @Override
    protected List<Parameter> ownParameters() {
        return params;
    }

    /** The running statistics of the BN kinds, norm_ih, norm_hh, norm_c (mean, then variance); none for LAYER. */
    @Override
    protected Map<String, Tensor> ownBuffers() {
        Map<String, Tensor> b = new LinkedHashMap<>();
        if (kind == Kind.LAYER) return b;
        String[] names = {"norm_ih", "norm_hh", "norm_c"};
        StepNorm[] norms = {nIh, nHh, nC};
        for (int i = 0; i < 3; i++) {
            b.put(names[i] + ".running_mean", norms[i].runningMean);
            b.put(names[i] + ".running_var", norms[i].runningVar);
        }
        return b;
    }

    @Override
    public String label() {
        return super.label().replaceFirst("^NormLSTM", "NormLSTM(" + kind.id + ")");
    }

    @Override
    public Tensor forward(Tensor x) {
        if (x.rank() != 3 || x.dim(2) != inputSize) {
            throw new normlab.tensor.ShapeException(label() + ": expected input of shape " + (batchFirst ? "[N, T, " : "[T, N, ")
                    + inputSize + "], got " + x.shapeString());
        }
        int n = batchFirst ? x.dim(0) : x.dim(1), t = batchFirst ? x.dim(1) : x.dim(0), hs = hiddenSize, g4 = 4 * hs, nh = n * hs;
        if (t == 0) throw new normlab.tensor.ShapeException(label() + ": expected at least one time step, got input of shape " + x.shapeString());
        boolean training = isTraining();
        nIh.begin(t, n, training, this);
        nHh.begin(t, n, training, this);
        nC.begin(t, n, training, this);
        xTm = new float[t * n * inputSize];
        Recurrent.toTimeMajor(xTm, x.data, n, t, inputSize, batchFirst);
        float[] pxAll = new float[t * n * g4];
        Gemm.matmulNT(pxAll, xTm, weightIh.value.data, t * n, inputSize, g4); // x·W_ihᵀ, all steps at once
        px = new float[t][];
        ph = new float[t][];
        act = new float[t][];
        c = new float[t + 1][];
        tnc = new float[t][];
        h = new float[t + 1][];
        c[0] = new float[nh];
        h[0] = new float[nh];
        float[] b = bias.value.data, na = new float[n * g4], nb = new float[n * g4], nc = new float[nh];
        for (int s = 0; s < t; s++) {
            px[s] = java.util.Arrays.copyOfRange(pxAll, s * n * g4, (s + 1) * n * g4);
            ph[s] = new float[n * g4];
            Gemm.matmulNT(ph[s], h[s], weightHh.value.data, n, hs, g4); // h_{t−1}·W_hhᵀ
            nIh.forward(na, px[s], s);
            nHh.forward(nb, ph[s], s);
            float[] a = new float[n * g4], cs = new float[nh];
            float[] cp = c[s];
            for (int r = 0; r < n; r++) {
                int o = r * g4;
                for (int j = 0; j < hs; j++) {
                    float ig = Recurrent.sigmoid(na[o + j] + nb[o + j] + b[j]);
                    float fg = Recurrent.sigmoid(na[o + hs + j] + nb[o + hs + j] + b[hs + j]);
                    float gg = Recurrent.tanh(na[o + 2 * hs + j] + nb[o + 2 * hs + j] + b[2 * hs + j]);
                    float og = Recurrent.sigmoid(na[o + 3 * hs + j] + nb[o + 3 * hs + j] + b[3 * hs + j]);
                    a[o + j] = ig;
                    a[o + hs + j] = fg;
                    a[o + 2 * hs + j] = gg;
                    a[o + 3 * hs + j] = og;
                    cs[r * hs + j] = fg * cp[r * hs + j] + ig * gg;
                }
            }
            act[s] = a;
            c[s + 1] = cs;
            nC.forward(nc, cs, s);
            float[] th = new float[nh], hn = new float[nh];
            for (int r = 0; r < n; r++)
                for (int j = 0; j < hs; j++) {
                    int i = r * hs + j;
                    th[i] = Recurrent.tanh(nc[i]);
                    hn[i] = a[r * g4 + 3 * hs + j] * th[i];
                }
            tnc[s] = th;
            h[s + 1] = hn;
        }
        lastN = n;
        lastT = t;
        float[] hAll = new float[t * nh];
        for (int s = 0; s < t; s++) System.arraycopy(h[s + 1], 0, hAll, s * nh, nh);
        Tensor y = outputTensor(0, batchFirst ? new int[] {n, t, hs} : new int[] {t, n, hs});
        Recurrent.fromTimeMajor(y.data, hAll, 0, n, t, hs, batchFirst);
        return y;
    }

    @Override
    public Tensor backward(Tensor dy) {
        requireForward(act, this);
        int n = lastN, t = lastT, hs = hiddenSize, g4 = 4 * hs, nh = n * hs;
        Tensor.requireShape(label() + " backward", dy, batchFirst ? new int[] {n, t, hs} : new int[] {t, n, hs});
        float[] dOut = new float[t * nh];
        Recurrent.toTimeMajor(dOut, dy.data, n, t, hs, batchFirst);
        float[] dh = new float[nh], dc = new float[nh], dnc = new float[nh], dcn = new float[nh], da = new float[n * g4];
        float[] dPx = new float[t * n * g4], dPh = new float[t * n * g4], hPrev = new float[t * nh];
        float[] dpx = new float[n * g4], dph = new float[n * g4], db = bias.grad.data;
        for (int s = t - 1; s >= 0; s--) {
            float[] a = act[s], th = tnc[s], cp = c[s];
            // through h = o ⊙ tanh(N_c(c)) and N_c
            for (int r = 0; r < n; r++)
                for (int j = 0; j < hs; j++) {
                    int i = r * hs + j;
                    float d = dOut[s * nh + i] + dh[i];
                    dh[i] = d; // dL/dh_t, kept for da_o below
                    dnc[i] = d * a[r * g4 + 3 * hs + j] * (1 - th[i] * th[i]);
                }
            nC.backward(dcn, dnc, s);
            for (int r = 0; r < n; r++) {
                int o = r * g4;
                for (int j = 0; j < hs; j++) {
                    int i = r * hs + j;
                    float ig = a[o + j], fg = a[o + hs + j], gg = a[o + 2 * hs + j], og = a[o + 3 * hs + j];
                    float dct = dc[i] + dcn[i];
                    da[o + j] = dct * gg * ig * (1 - ig);
                    da[o + hs + j] = dct * cp[i] * fg * (1 - fg);
                    da[o + 2 * hs + j] = dct * ig * (1 - gg * gg);
                    da[o + 3 * hs + j] = dh[i] * th[i] * og * (1 - og);
                    dc[i] = dct * fg;
                }
            }
            addColumnSums(db, da, n, g4);
            nIh.backward(dpx, da, s);
            nHh.backward(dph, da, s);
            System.arraycopy(dpx, 0, dPx, s * n * g4, n * g4);
            System.arraycopy(dph, 0, dPh, s * n * g4, n * g4);
            System.arraycopy(h[s], 0, hPrev, s * nh, nh);
            Gemm.matmulNN(dh, dph, weightHh.value.data, n, g4, hs); // dh_{t−1} = dph·W_hh
        }
        Gemm.matmulTNAcc(weightIh.grad.data, dPx, xTm, t * n, g4, inputSize);
        Gemm.matmulTNAcc(weightHh.grad.data, dPh, hPrev, t * n, g4, hs);
        float[] dxTm = new float[t * n * inputSize];
        Gemm.matmulNN(dxTm, dPx, weightIh.value.data, t * n, g4, inputSize);
        Tensor dx = outputTensor(1, batchFirst ? new int[] {n, t, inputSize} : new int[] {t, n, inputSize});
        Recurrent.fromTimeMajor(dx.data, dxTm, 0, n, t, inputSize, batchFirst);
        return dx;
    }

    private static void addColumnSums(float[] acc, float[] a, int rows, int cols) {
        Recurrent.addColumnSums(acc, a, rows, cols);
    }

    /**
     * Per step of the last forward, the recurrent pre-activations W_hh·h_{t−1} (before their normalization): {mean over
     * units of the batch mean, mean over units of the batch variance}, shape [T][2].
     */
    public double[][] recurrentMoments() {
        requireForward(act, this);
        double[][] out = new double[lastT][];
        for (int s = 0; s < lastT; s++) out[s] = nHh.batchMoments(s);
        return out;
    }
}
