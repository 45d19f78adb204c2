package normlab.nn;

import normlab.kernels.Elementwise;
import normlab.kernels.Kernels;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * Softmax cross-entropy over logits (N, K) and integer labels, mean over the batch (PyTorch's
 * {@code nn.CrossEntropyLoss()}). Stable for large logits via log-sum-exp with the row maximum subtracted:
 * {@code L = (1/N) Σₙ [log Σₖ e^(zₙₖ−mₙ) + mₙ − z_{n,yₙ}]}; {@code dL/dz = (softmax(z) − onehot(y)) / N}.
 */
public final class CrossEntropyLoss implements Loss {
    private Tensor probs;
    private int[] labels;

    /**
     * {@link Loss} form: {@code target} holds the class indices (N) as whole numbers; the same as
     * {@link #forward(Tensor, int[])} on them.
     */
    @Override
    public float forward(Tensor logits, Tensor target) {
        if (target.rank() != 1) throw new ShapeException("CrossEntropyLoss: expected class-index targets of rank 1 (N), got " + target.shapeString());
        int[] y = new int[target.numel()];
        for (int i = 0; i < y.length; i++) {
            float v = target.data[i];
            if (v != Math.rint(v)) throw new IllegalArgumentException("CrossEntropyLoss: target " + v + " at row " + i + " is not a class index");
            y[i] = (int) v;
        }
        return forward(logits, y);
    }

    /** Returns the mean loss and keeps softmax probabilities for {@link #backward()}. */
    public float forward(Tensor logits, int[] labels) {
        if (logits.rank() != 2) throw new ShapeException("CrossEntropyLoss: expected logits of rank 2 (N, K), got " + logits.shapeString());
        int n = logits.dim(0), k = logits.dim(1);
        if (labels.length != n) {
            throw new ShapeException("CrossEntropyLoss: " + labels.length + " labels for logits of shape " + logits.shapeString());
        }
        if (n == 0) throw new ShapeException("CrossEntropyLoss: empty batch (logits " + logits.shapeString() + ")");
        Tensor p = Tensor.zeros(n, k);
        double total = 0;
        float[] z = logits.data, pd = p.data;
        for (int i = 0; i < n; i++) {
            int y = labels[i];
            if (y < 0 || y >= k) throw new IllegalArgumentException("CrossEntropyLoss: label " + y + " at row " + i + " outside [0, " + k + ")");
        }
        if (Kernels.simd()) {
            // e^(z − m) for the whole batch in one vector pass (Elementwise.exp: the same bits on every JVM and JIT
            // state), then per row the sum in double, the probabilities and the loss.
            float[] rowMax = new float[n];
            for (int i = 0; i < n; i++) {
                int o = i * k;
                float m = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < k; j++) m = Math.max(m, z[o + j]);
                rowMax[i] = m;
                for (int j = 0; j < k; j++) pd[o + j] = z[o + j] - m;
            }
            Elementwise.exp(pd, pd, n * k);
            for (int i = 0; i < n; i++) {
                int o = i * k;
                double s = 0;
                for (int j = 0; j < k; j++) s += pd[o + j];
                double inv = 1 / s;
                for (int j = 0; j < k; j++) pd[o + j] = (float) (pd[o + j] * inv);
                total += StrictMath.log(s) + rowMax[i] - z[o + labels[i]];
            }
        } else {
            for (int i = 0; i < n; i++) {
                int o = i * k;
                float m = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < k; j++) m = Math.max(m, z[o + j]);
                double s = 0;
                for (int j = 0; j < k; j++) {
                    double e = StrictMath.exp(z[o + j] - m); // StrictMath: the same bits on every JVM and JIT state
                    pd[o + j] = (float) e;
                    s += e;
                }
                for (int j = 0; j < k; j++) pd[o + j] = (float) (pd[o + j] / s);
                total += StrictMath.log(s) + m - z[o + labels[i]];
            }
        }
        this.probs = p;
        this.labels = labels.clone();
        return (float) (total / n);
    }

    /** dL/dlogits of the last forward. */
    @Override
    public Tensor backward() {
        if (probs == null) throw new IllegalStateException("CrossEntropyLoss: backward called before forward");
        return backward(probs.dim(0));
    }

    /**
     * dL/dlogits of the last forward's rows when the loss is the mean over {@code meanOver} samples of which this forward
     * saw a part (data parallel: a replica's slice of the global batch): (softmax(z) − onehot(y)) / meanOver.
     */
    public Tensor backward(int meanOver) {
        if (probs == null) throw new IllegalStateException("CrossEntropyLoss: backward called before forward");
        int n = probs.dim(0), k = probs.dim(1);
        if (meanOver < n) throw new IllegalArgumentException("CrossEntropyLoss: mean over " + meanOver + " samples, fewer than the " + n + " of the last forward");
        Tensor g = probs.copy();
        float inv = 1f / meanOver;
        for (int i = 0; i < n; i++) {
            g.data[i * k + labels[i]] -= 1f;
            for (int j = 0; j < k; j++) g.data[i * k + j] *= inv;
        }
        return g;
    }

    /** Softmax probabilities of the last forward. */
    public Tensor probabilities() {
        return probs;
    }
}
