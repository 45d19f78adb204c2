package normlab.optim;

import java.util.ArrayList;
import java.util.List;
import normlab.nn.Parameter;

/**
 * Stochastic gradient descent as PyTorch's {@code torch.optim.SGD} (dampening 0):
 * <pre>
 *   g ← ∇ + λ·θ                  (weight decay λ; skipped for biases and normalization parameters if exempted)
 *   v ← μ·v + g                  (momentum μ; v = g on the first step)
 *   g ← g + μ·v  if Nesterov, else g ← v
 *   θ ← θ − lr·g
 * </pre>
 */
public final class SGD implements Optimizer {
    private final List<Parameter> params;
    private double lr;
    private final double momentum;
    private final boolean nesterov;
    private final double weightDecay;
    private final boolean exemptNormAndBias;
    private final float[][] velocity;
    private boolean started;

    /** Plain SGD. */
    public SGD(List<Parameter> params, double lr) {
        this(params, lr, 0, false, 0, false);
    }

    /**
     * @param exemptNormAndBias when true, weight decay does not apply to biases and normalization parameters
     */
    public SGD(List<Parameter> params, double lr, double momentum, boolean nesterov, double weightDecay, boolean exemptNormAndBias) {
        if (!(lr >= 0)) throw new IllegalArgumentException("SGD: lr must be >= 0, got " + lr);
        if (!(momentum >= 0)) throw new IllegalArgumentException("SGD: momentum must be >= 0, got " + momentum);
        if (!(weightDecay >= 0)) throw new IllegalArgumentException("SGD: weight decay must be >= 0, got " + weightDecay);
        if (nesterov && momentum <= 0) throw new IllegalArgumentException("SGD: Nesterov momentum requires momentum > 0");
        this.params = new ArrayList<>(params);
        this.lr = lr;
        this.momentum = momentum;
        this.nesterov = nesterov;
        this.weightDecay = weightDecay;
        this.exemptNormAndBias = exemptNormAndBias;
        this.velocity = new float[this.params.size()][];
        if (momentum > 0) for (int i = 0; i < velocity.length; i++) velocity[i] = new float[this.params.get(i).value.numel()];
    }

    public double lr() {
        return lr;
    }

    public void setLr(double lr) {
        this.lr = lr;
    }

    @Override
    public List<Parameter> parameters() {
        return params;
    }

    @Override
    public void step() {
        float lrF = (float) lr, mu = (float) momentum;
        for (int pi = 0; pi < params.size(); pi++) {
            Parameter p = params.get(pi);
            p.changed();
            float[] w = p.value.data, g = p.grad.data;
            boolean decay = weightDecay > 0 && !(exemptNormAndBias && p.kind != Parameter.Kind.WEIGHT);
            float wd = decay ? (float) weightDecay : 0f;
            float[] v = velocity[pi];
            for (int i = 0; i < w.length; i++) {
                float d = g[i] + wd * w[i];
                if (v != null) {
                    v[i] = started ? mu * v[i] + d : d;
                    d = nesterov ? d + mu * v[i] : v[i];
                }
                w[i] -= lrF * d;
            }
        }
        started = true;
    }

    /** {@code momentum_buffer.i} per parameter (when momentum > 0) and {@code started} (0 or 1: whether v was set). */
    @Override
    public java.util.Map<String, normlab.tensor.Tensor> state() {
        java.util.Map<String, normlab.tensor.Tensor> out = new java.util.LinkedHashMap<>();
        Optimizer.putBuffers(out, "momentum_buffer", velocity);
        out.put("started", normlab.tensor.Tensor.scalar(started ? 1f : 0f));
        return out;
    }

    @Override
    public void loadState(java.util.Map<String, normlab.tensor.Tensor> state) {
        Optimizer.loadBuffers(state, "SGD", "momentum_buffer", velocity);
        started = Optimizer.require(state, "SGD", "started").data[0] != 0f;
    }

    /** Momentum buffers (for checkpoints); null entries when momentum is 0. */
    public float[][] velocity() {
        return velocity;
    }
}
