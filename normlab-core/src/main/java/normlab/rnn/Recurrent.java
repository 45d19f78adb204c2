package normlab.rnn;

import java.util.ArrayList;
import java.util.List;
import normlab.nn.Init;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.tensor.Rng;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * What PyTorch's {@code nn.LSTM} and {@code nn.GRU} share (PyTorch's {@code RNNBase}): a stack of {@code numLayers}
 * layers, layer l with {@code weight_ih_l{l}} (G·H, in_l), {@code weight_hh_l{l}} (G·H, H), {@code bias_ih_l{l}},
 * {@code bias_hh_l{l}} (G·H) where G is the number of gates (LSTM 4, GRU 3) and in_0 = input size, in_l = H above;
 * every value initialised uniform in ±1/√H (PyTorch's default). Input (N, T, F) when {@code batchFirst}, else
 * (T, N, F); output the last layer's hidden states in the same layout. An optional initial state (h0, and c0 for the
 * LSTM), each (numLayers, N, H), is taken by {@link #setInitialState} (zeros when none); the final states of the last
 * forward are {@link #finalHidden()} (and {@code LSTM.finalCell()}); after backward, {@link #initialHiddenGrad()}
 * holds dL/dh0.
 *
 * <p>Inside, every sequence is time-major and flat ((T·N, ·) row-major), so the input projections of all steps are
 * one GEMM ({@code x·W_ihᵀ} over T·N rows) and so are the weight gradients ({@code dW_ih += dAᵀ·x},
 * {@code dW_hh += dAᵀ·h_prev}); only the recurrent product {@code h_{t−1}·W_hhᵀ} and its backward run per step.
 * Deliberate differences from PyTorch: no dropout between layers, no bidirectional, no projections, bias always on.
 */
public abstract class Recurrent extends Module {
    public final int inputSize;
    public final int hiddenSize;
    public final int numLayers;
    public final boolean batchFirst;
    /** Gates per layer: 4 (LSTM) or 3 (GRU). */
    final int gates;
    final Parameter[] wIh, wHh, bIh, bHh;
    /** Initial states for the next forward (null: zeros), each (numLayers, N, H). */
    Tensor h0, c0;
    /** Sizes of the last forward. */
    int lastN = -1, lastT = -1;

    Recurrent(String kind, int gates, int inputSize, int hiddenSize, int numLayers, boolean batchFirst, Rng rng) {
        if (inputSize <= 0 || hiddenSize <= 0 || numLayers <= 0) {
            throw new IllegalArgumentException(kind + ": sizes must be positive, got input_size=" + inputSize + " hidden_size="
                    + hiddenSize + " num_layers=" + numLayers);
        }
        this.inputSize = inputSize;
        this.hiddenSize = hiddenSize;
        this.numLayers = numLayers;
        this.batchFirst = batchFirst;
        this.gates = gates;
        wIh = new Parameter[numLayers];
        wHh = new Parameter[numLayers];
        bIh = new Parameter[numLayers];
        bHh = new Parameter[numLayers];
        int gh = gates * hiddenSize;
        double bound = 1.0 / Math.sqrt(hiddenSize);
        for (int l = 0; l < numLayers; l++) {
            int in = l == 0 ? inputSize : hiddenSize;
            wIh[l] = new Parameter("weight_ih_l" + l, Tensor.zeros(gh, in), Parameter.Kind.WEIGHT);
            wHh[l] = new Parameter("weight_hh_l" + l, Tensor.zeros(gh, hiddenSize), Parameter.Kind.WEIGHT);
            bIh[l] = new Parameter("bias_ih_l" + l, Tensor.zeros(gh), Parameter.Kind.BIAS);
            bHh[l] = new Parameter("bias_hh_l" + l, Tensor.zeros(gh), Parameter.Kind.BIAS);
            if (rng != null) {
                for (Parameter p : new Parameter[] {wIh[l], wHh[l], bIh[l], bHh[l]}) Init.uniform(p.value, -bound, bound, rng);
            }
        }
    }

    /** PyTorch's order: weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, then layer 1, … */
    @Override
    protected List<Parameter> ownParameters() {
        List<Parameter> out = new ArrayList<>();
        for (int l = 0; l < numLayers; l++) out.addAll(List.of(wIh[l], wHh[l], bIh[l], bHh[l]));
        return out;
    }

    /** The parameters of layer l: weight_ih, weight_hh, bias_ih, bias_hh. */
    public Parameter[] layerParameters(int l) {
        return new Parameter[] {wIh[l], wHh[l], bIh[l], bHh[l]};
    }

    /** Number of state tensors: 1 (h) for the GRU, 2 (h, c) for the LSTM. */
    abstract int stateCount();

    /**
     * Sets the initial state of the following forwards: h0 and (LSTM) c0, each (numLayers, N, H); null for zeros. The
     * shapes are checked against the batch at forward.
     */
    public void setInitialState(Tensor h0, Tensor c0) {
        if (c0 != null && stateCount() == 1) throw new IllegalArgumentException(label() + ": has no cell state, got c0 " + c0.shapeString());
        this.h0 = h0;
        this.c0 = c0;
    }

    /** The last forward's final hidden state h_n, (numLayers, N, H). */
    public abstract Tensor finalHidden();

    /** dL/dh0 of the last backward, (numLayers, N, H) (the initial state's gradient; zeros state included). */
    public abstract Tensor initialHiddenGrad();

    /** Checks the input's rank and feature size, returns {N, T}. */
    int[] sizes(Tensor x) {
        if (x.rank() != 3) {
            throw new ShapeException(label() + ": expected input of rank 3 " + (batchFirst ? "(N, T, " : "(T, N, ") + inputSize
                    + "), got shape " + x.shapeString());
        }
        if (x.dim(2) != inputSize) {
            throw new ShapeException(label() + ": expected " + inputSize + " input features (dim 2) in input of shape "
                    + x.shapeString() + ", got " + x.dim(2));
        }
        int n = batchFirst ? x.dim(0) : x.dim(1), t = batchFirst ? x.dim(1) : x.dim(0);
        if (t == 0) throw new ShapeException(label() + ": expected at least one time step, got input of shape " + x.shapeString());
        return new int[] {n, t};
    }

    /** Checks an initial state tensor (numLayers, N, H) and returns its data, or a zero array. */
    float[] initial(Tensor s, String name, int n) {
        if (s == null) return new float[numLayers * n * hiddenSize];
        if (!s.hasShape(numLayers, n, hiddenSize)) {
            throw new ShapeException(label() + ": expected " + name + " of shape [" + numLayers + ", " + n + ", " + hiddenSize
                    + "], got " + s.shapeString());
        }
        return s.data;
    }

    /**
     * out[(t·N + n)·F + f] = x[(n·T + t)·F + f] when {@code batchFirst} (batch-major to time-major), a copy otherwise;
     * {@link #fromTimeMajor} is the inverse.
     */
    static void toTimeMajor(float[] out, float[] x, int n, int t, int f, boolean batchFirst) {
        if (!batchFirst) {
            System.arraycopy(x, 0, out, 0, n * t * f);
            return;
        }
        for (int b = 0; b < n; b++)
            for (int s = 0; s < t; s++) System.arraycopy(x, (b * t + s) * f, out, (s * n + b) * f, f);
    }

    /** x[(n·T + t)·F + f] = tm[(t·N + n)·F + f] when {@code batchFirst}, a copy otherwise. */
    static void fromTimeMajor(float[] x, float[] tm, int tmOff, int n, int t, int f, boolean batchFirst) {
        if (!batchFirst) {
            System.arraycopy(tm, tmOff, x, 0, n * t * f);
            return;
        }
        for (int b = 0; b < n; b++)
            for (int s = 0; s < t; s++) System.arraycopy(tm, tmOff + (s * n + b) * f, x, (b * t + s) * f, f);
    }

    /** σ(x) = 1/(1 + e^(−x)), with the exp that the SIMD activations use (the same bits interpreted or compiled). */
    static float sigmoid(float x) {
        return 1f / (1f + normlab.kernels.Elementwise.exp(-x));
    }

    static float tanh(float x) {
        return normlab.kernels.Elementwise.tanh(x);
    }

    /** Σ over rows of a (rows, cols) block into acc (bias gradients). */
    static void addColumnSums(float[] acc, float[] a, int rows, int cols) {
        for (int r = 0; r < rows; r++) {
            int o = r * cols;
            for (int j = 0; j < cols; j++) acc[j] += a[o + j];
        }
    }
}
