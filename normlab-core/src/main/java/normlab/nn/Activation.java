package normlab.nn;

import normlab.tensor.Tensor;

/** Elementwise activations: Sigmoid, Tanh, ReLU and GELU. Each saves what its derivative needs (its output, or its input for ReLU). */
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

    /**
     * GELU (Hendrycks &amp; Gimpel 2016) as PyTorch's {@code nn.GELU}: saves its input.
     * <pre>
     *   exact (approximate = "none", the default):  y = x·Φ(x),  Φ(x) = ½·erfc(−x/√2);   y' = Φ(x) + x·φ(x),  φ(x) = e^(−x²/2)/√(2π)
     *   approximate = "tanh":  y = ½x·(1 + t),  t = tanh(u),  u = √(2/π)·(x + 0.044715x³);   y' = ½(1 + t) + ½x·(1 − t²)·√(2/π)·(1 + 3·0.044715x²)
     * </pre>
     * erfc is the Chebyshev-fitted form of Numerical Recipes (fractional error below 1.2e-7 everywhere, so Φ keeps its
     * relative accuracy in the far negative tail), evaluated in double on the scalar path ({@code Kernels.setSimd(false)})
     * and on float lanes otherwise ({@link #exactSimd}).
     */
    public static final class GELU extends Activation {
        /** "none" (exact, erf) or "tanh", PyTorch's argument. */
        public final String approximate;
        private final boolean tanh;

        public GELU() {
            this("none");
        }

        public GELU(String approximate) {
            if (!"none".equals(approximate) && !"tanh".equals(approximate)) {
                throw new IllegalArgumentException("GELU: approximate must be 'none' or 'tanh', got '" + approximate + "'");
            }
            this.approximate = approximate;
            this.tanh = approximate.equals("tanh");
        }

        private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
        private static final double INV_SQRT_2 = 1 / Math.sqrt(2);
        private static final double INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

        /** erfc(z) for z ≥ 0 (Numerical Recipes' erfcc, fractional error &lt; 1.2e-7); erfc(−z) = 2 − erfc(z). */
        static double erfc(double z) {
            double a = Math.abs(z), t = 1 / (1 + 0.5 * a);
            double r = t * Math.exp(-a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
                    + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223
                    + t * 0.17087277)))))))));
            return z >= 0 ? r : 2 - r;
        }

        /** Φ(x), the standard normal distribution function. */
        static double phi(double x) {
            return 0.5 * erfc(-x * INV_SQRT_2);
        }

        private float[] derivative; // y'(x) of the last SIMD forward (exact form); null after a scalar one

        @Override
        public Tensor forward(Tensor x) {
            Tensor y = outputTensor(0, x.shape());
            float[] a = x.data, b = y.data;
            derivative = null;
            if (tanh) {
                for (int i = 0; i < a.length; i++) {
                    double v = a[i];
                    b[i] = (float) (0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))));
                }
            } else if (normlab.kernels.Kernels.simd()) {
                float[] d = new float[a.length];
                exactSimd(b, d, a);
                derivative = d;
            } else {
                for (int i = 0; i < a.length; i++) b[i] = (float) (a[i] * phi(a[i]));
            }
            saved = x;
            return y;
        }

        /**
         * The exact form on float lanes, for y and y' at once (the backward is then one multiply):
         * <pre>
         *   s = |x|/√2,  t = 1/(1 + s/2),  r = t·exp(−s² − 1.26551223 + t·P(t)) = erfc(s)     (P: erfcc's polynomial)
         *   Φ(x) = r/2 for x ≤ 0, 1 − r/2 for x &gt; 0;   y = x·Φ;   y' = Φ + x·exp(−x²/2)/√(2π)
         * </pre>
         * The two exponentials are {@link normlab.kernels.Elementwise#exp} passes (SIMD, bit-reproducible); the
         * relative error of Φ stays near 1e-6 (float rounding of the exponent), against 1.2e-7 in double.
         */
        static void exactSimd(float[] y, float[] d, float[] x) {
            int n = x.length;
            float[] g = new float[n];
            for (int i = 0; i < n; i++) {
                float v = x[i], s = Math.abs(v) * (float) INV_SQRT_2, t = 1f / (1f + 0.5f * s);
                float p = t * (1.00002368f + t * (0.37409196f + t * (0.09678418f + t * (-0.18628806f + t * (0.27886807f
                        + t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f))))))));
                y[i] = -s * s - 1.26551223f + p; // erfc's exponent
                d[i] = t;
                g[i] = -0.5f * v * v;             // the density's exponent
            }
            normlab.kernels.Elementwise.exp(y, y, n);
            normlab.kernels.Elementwise.exp(g, g, n);
            for (int i = 0; i < n; i++) {
                float v = x[i], r = d[i] * y[i], cdf = v <= 0f ? 0.5f * r : 1f - 0.5f * r;
                y[i] = v * cdf;
                d[i] = cdf + v * g[i] * (float) INV_SQRT_2PI;
            }
        }

        @Override
        public Tensor backward(Tensor dy) {
            requireForward(saved, this);
            Tensor.requireShape(label() + " backward", dy, saved.shape());
            Tensor dx = outputTensor(1, dy.shape());
            float[] a = saved.data, g = dy.data, d = dx.data;
            if (derivative != null) {
                for (int i = 0; i < a.length; i++) d[i] = g[i] * derivative[i];
            } else if (tanh) {
                for (int i = 0; i < a.length; i++) {
                    double v = a[i], t = Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v));
                    d[i] = (float) (g[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v)));
                }
            } else {
                for (int i = 0; i < a.length; i++) {
                    double v = a[i];
                    d[i] = (float) (g[i] * (phi(v) + v * Math.exp(-0.5 * v * v) * INV_SQRT_2PI));
                }
            }
            return dx;
        }
    }
}
