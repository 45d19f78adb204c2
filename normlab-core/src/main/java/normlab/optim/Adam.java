package normlab.optim;

import java.util.ArrayList;
import java.util.List;
import normlab.nn.Parameter;

/**
 * Adam (Kingma &amp; Ba 2015) as PyTorch's {@code torch.optim.Adam}, and with decoupled weight decay as
 * {@code torch.optim.AdamW} (Loshchilov &amp; Hutter 2019). At step t = 1, 2, …, for every element:
 * <pre>
 *   θ ← θ·(1 − lr·λ)                      AdamW only (decoupled decay λ)
 *   g ← ∇ + λ·θ                           Adam only (L2 decay λ, added to the gradient)
 *   m ← β₁·m + (1−β₁)·g                   first moment
 *   v ← β₂·v + (1−β₂)·g²                  second moment
 *   v̂ ← max(v̂, v)                         AMSGrad only; otherwise v̂ = v
 *   θ ← θ − (lr/(1−β₁ᵗ)) · m / (√v̂/√(1−β₂ᵗ) + ε)
 * </pre>
 * With {@code exemptNormAndBias}, biases and normalization parameters get no weight decay of either kind (what
 * PyTorch does with a second parameter group whose weight_decay is 0).
 */
public final class Adam implements Optimizer {
    private final List<Parameter> params;
    private double lr;
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private final boolean decoupled;
    private final boolean amsgrad;
    private final boolean exemptNormAndBias;
    private final float[][] m;
    private final float[][] v;
    private final float[][] vMax; // null entries unless amsgrad
    private long t;

    /** Adam with PyTorch's defaults: β = (0.9, 0.999), ε = 1e-8, no weight decay. */
    public Adam(List<Parameter> params, double lr) {
        this(params, lr, 0.9, 0.999, 1e-8, 0, false, false, false);
    }

    /** AdamW with PyTorch's defaults (β = (0.9, 0.999), ε = 1e-8) and decoupled weight decay λ. */
    public static Adam adamW(List<Parameter> params, double lr, double weightDecay, boolean exemptNormAndBias) {
        return new Adam(params, lr, 0.9, 0.999, 1e-8, weightDecay, true, false, exemptNormAndBias);
    }

    /**
     * @param decoupled         true: AdamW's θ ← θ·(1 − lr·λ); false: Adam's L2 term g ← ∇ + λ·θ
     * @param amsgrad           use the running maximum of v (Reddi et al. 2018)
     * @param exemptNormAndBias when true, weight decay does not apply to biases and normalization parameters
     */
    public Adam(List<Parameter> params, double lr, double beta1, double beta2, double eps, double weightDecay,
                boolean decoupled, boolean amsgrad, boolean exemptNormAndBias) {
        if (!(lr >= 0)) throw new IllegalArgumentException("Adam: lr must be >= 0, got " + lr);
        if (!(beta1 >= 0 && beta1 < 1)) throw new IllegalArgumentException("Adam: beta1 must be in [0, 1), got " + beta1);
        if (!(beta2 >= 0 && beta2 < 1)) throw new IllegalArgumentException("Adam: beta2 must be in [0, 1), got " + beta2);
        if (!(eps >= 0)) throw new IllegalArgumentException("Adam: eps must be >= 0, got " + eps);
        if (!(weightDecay >= 0)) throw new IllegalArgumentException("Adam: weight decay must be >= 0, got " + weightDecay);
        this.params = new ArrayList<>(params);
        this.lr = lr;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.decoupled = decoupled;
        this.amsgrad = amsgrad;
        this.exemptNormAndBias = exemptNormAndBias;
        int n = this.params.size();
        this.m = new float[n][];
        this.v = new float[n][];
        this.vMax = new float[n][];
        for (int i = 0; i < n; i++) {
            int size = this.params.get(i).value.numel();
            m[i] = new float[size];
            v[i] = new float[size];
            if (amsgrad) vMax[i] = new float[size];
        }
    }

    public double lr() {
        return lr;
    }

    public void setLr(double lr) {
        this.lr = lr;
    }

    /** Number of steps taken. */
    public long steps() {
        return t;
    }

    /** {@code exp_avg.i}, {@code exp_avg_sq.i}, {@code max_exp_avg_sq.i} (amsgrad) per parameter, and {@code step}. */
    @Override
    public java.util.Map<String, normlab.tensor.Tensor> state() {
        if (t >= 1L << 24) throw new IllegalStateException("Adam: step count " + t + " is not exact as a float");
        java.util.Map<String, normlab.tensor.Tensor> out = new java.util.LinkedHashMap<>();
        Optimizer.putBuffers(out, "exp_avg", m);
        Optimizer.putBuffers(out, "exp_avg_sq", v);
        Optimizer.putBuffers(out, "max_exp_avg_sq", vMax);
        out.put("step", normlab.tensor.Tensor.scalar(t));
        return out;
    }

    @Override
    public void loadState(java.util.Map<String, normlab.tensor.Tensor> state) {
        Optimizer.loadBuffers(state, "Adam", "exp_avg", m);
        Optimizer.loadBuffers(state, "Adam", "exp_avg_sq", v);
        Optimizer.loadBuffers(state, "Adam", "max_exp_avg_sq", vMax);
        t = (long) Optimizer.require(state, "Adam", "step").data[0];
    }

    @Override
    public List<Parameter> parameters() {
        return params;
    }

    @Override
    public void step() {
        t++;
        float b1 = (float) beta1, b2 = (float) beta2, oneMinusB1 = (float) (1 - beta1), oneMinusB2 = (float) (1 - beta2);
        float stepSize = (float) (lr / (1 - StrictMath.pow(beta1, t)));
        float bc2Sqrt = (float) Math.sqrt(1 - StrictMath.pow(beta2, t));
        float epsF = (float) eps;
        for (int pi = 0; pi < params.size(); pi++) {
            Parameter p = params.get(pi);
            p.changed();
            boolean decay = weightDecay > 0 && !(exemptNormAndBias && p.kind != Parameter.Kind.WEIGHT);
            float l2 = decay && !decoupled ? (float) weightDecay : 0f;
            float shrink = decay && decoupled ? (float) (1 - lr * weightDecay) : 1f;
            float[] w = p.value.data, g = p.grad.data, mm = m[pi], vv = v[pi], vm = vMax[pi];
            // The update of the class comment, element by element.
            for (int i = 0; i < w.length; i++) {
                w[i] *= shrink;
                float gi = g[i] + l2 * w[i];
                mm[i] = mm[i] * b1 + oneMinusB1 * gi;
                vv[i] = vv[i] * b2 + oneMinusB2 * gi * gi;
                float vh = vv[i];
                if (vm != null) vh = vm[i] = Math.max(vm[i], vh);
                float denom = (float) Math.sqrt(vh) / bc2Sqrt + epsF;
                w[i] -= stepSize * (mm[i] / denom);
            }
        }
    }
}
