package normlab.nn;

import normlab.tensor.Tensor;

/** Elementwise activations: Sigmoid, Tanh and ReLU. Each saves what its derivative needs (its output, or its input for ReLU). */
public abstract class Activation extends Module {
    protected Tensor saved;

    /** An activation whose derivative is a function of its output (Sigmoid, Tanh): it keeps y = f(x). */
    abstract static class OfOutput extends Activation {
        /** b = f(a) elementwise. */
        abstract void map(float[] b, float[] a);

        /** d = g·f'(x), written with y = f(x). */
        abstract void gradient(float[] d, float[] g, float[] y);

        @Override
        public final Tensor forward(Tensor x) {
            Tensor y = outputTensor(0, x.shape());
            map(y.data, x.data);
            saved = y;
            return y;
        }

        @Override
        public final Tensor backward(Tensor dy) {
            requireForward(saved, this);
            Tensor.requireShape(label() + " backward", dy, saved.shape());
            Tensor dx = outputTensor(1, dy.shape());
            gradient(dx.data, dy.data, saved.data);
            return dx;
        }
    }

    /** σ(x) = 1/(1+e^(−x)); σ'(x) = σ(1−σ). */
    public static final class Sigmoid extends OfOutput {
        @Override
        void map(float[] b, float[] a) {
            if (normlab.kernels.Kernels.simd()) normlab.kernels.Elementwise.sigmoid(b, a, a.length);
            else for (int i = 0; i < a.length; i++) b[i] = (float) (1.0 / (1.0 + Math.exp(-a[i])));
        }

        @Override
        void gradient(float[] d, float[] g, float[] y) {
            for (int i = 0; i < g.length; i++) d[i] = g[i] * y[i] * (1f - y[i]);
        }
    }

    /** tanh(x); tanh' = 1 − tanh². */
    public static final class Tanh extends OfOutput {
        @Override
        void map(float[] b, float[] a) {
            if (normlab.kernels.Kernels.simd()) normlab.kernels.Elementwise.tanh(b, a, a.length);
            else for (int i = 0; i < a.length; i++) b[i] = (float) Math.tanh(a[i]);
        }

        @Override
        void gradient(float[] d, float[] g, float[] y) {
            for (int i = 0; i < g.length; i++) d[i] = g[i] * (1f - y[i] * y[i]);
        }
    }

    /**
     * max(0, x), NaN staying NaN as in PyTorch; derivative 1 where x > 0, else 0 (PyTorch's choice at 0 and NaN).
     * Vector path: y = x with the lanes where x ≤ 0 (false for NaN) set to 0; dx = dy on the lanes where x > 0, else 0.
     */
    public static final class ReLU extends Activation {
        private static final jdk.incubator.vector.VectorSpecies<Float> S = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;

        @Override
        public Tensor forward(Tensor x) {
            Tensor y = outputTensor(0, x.shape());
            float[] a = x.data, b = y.data;
            int i = 0;
            if (normlab.kernels.Kernels.simd()) {
                for (int bound = S.loopBound(a.length); i < bound; i += S.length()) {
                    jdk.incubator.vector.FloatVector v = jdk.incubator.vector.FloatVector.fromArray(S, a, i);
                    v.blend(0f, v.compare(jdk.incubator.vector.VectorOperators.LE, 0f)).intoArray(b, i);
                }
            }
            for (; i < a.length; i++) b[i] = a[i] > 0f || a[i] != a[i] ? a[i] : 0f;
            saved = x;
            return y;
        }

        @Override
        public Tensor backward(Tensor dy) {
            requireForward(saved, this);
            Tensor.requireShape(label() + " backward", dy, saved.shape());
            // With reused buffers dx takes the output's buffer (y is not needed by this backward, and a returned tensor
            // is valid only until the module's next call): one activation less to keep in cache during a step.
            Tensor dx = outputTensor(reusesOutputs() ? 0 : 1, dy.shape());
            float[] x = saved.data, g = dy.data, d = dx.data;
            int i = 0;
            if (normlab.kernels.Kernels.simd()) {
                jdk.incubator.vector.FloatVector zero = jdk.incubator.vector.FloatVector.zero(S);
                for (int bound = S.loopBound(g.length); i < bound; i += S.length()) {
                    jdk.incubator.vector.FloatVector xv = jdk.incubator.vector.FloatVector.fromArray(S, x, i);
                    zero.blend(jdk.incubator.vector.FloatVector.fromArray(S, g, i), xv.compare(jdk.incubator.vector.VectorOperators.GT, 0f))
                            .intoArray(d, i);
                }
            }
            for (; i < g.length; i++) d[i] = x[i] > 0f ? g[i] : 0f;
            return dx;
        }
    }
}
