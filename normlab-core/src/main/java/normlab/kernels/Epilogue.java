package normlab.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * The elementwise function an inference kernel applies to a product's output while it is still in registers:
 * {@code y = f(acc + bias)}. Fusing it saves the separate pass over the output that a following activation layer
 * would make. Each function gives the same bits as the corresponding layer's SIMD forward ({@link Elementwise}), on a
 * lane and on a scalar alike, so a fused model matches the unfused one exactly.
 */
public enum Epilogue {
    /** f(v) = v. */
    IDENTITY {
        public float apply(float v) {
            return v;
        }

        public FloatVector apply(FloatVector v) {
            return v;
        }
    },
    /** f(v) = max(v, 0), NaN kept (as {@code nn.ReLU}). */
    RELU {
        public float apply(float v) {
            return v > 0f || v != v ? v : 0f;
        }

        public FloatVector apply(FloatVector v) {
            return v.blend(0f, v.compare(VectorOperators.LE, 0f));
        }
    },
    /** f(v) = 1/(1 + e^(−v)). */
    SIGMOID {
        public float apply(float v) {
            return 1f / (1f + Elementwise.exp(-v));
        }

        public FloatVector apply(FloatVector v) {
            FloatVector one = FloatVector.broadcast(v.species(), 1f);
            return one.div(Elementwise.exp(v.neg()).add(one));
        }
    },
    /** f(v) = tanh(v). */
    TANH {
        public float apply(float v) {
            return Elementwise.tanh(v);
        }

        public FloatVector apply(FloatVector v) {
            FloatVector one = FloatVector.broadcast(v.species(), 1f), two = FloatVector.broadcast(v.species(), 2f);
            FloatVector big = one.sub(two.div(Elementwise.exp(v.mul(2f)).add(one)));
            FloatVector x2 = v.mul(v);
            FloatVector small = v.mul(x2.fma(-17f / 315, 2f / 15).fma(x2, FloatVector.broadcast(v.species(), -1f / 3)).fma(x2, one));
            return big.blend(small, v.abs().compare(VectorOperators.LT, 0.125f));
        }
    };

    /** f of one value. */
    public abstract float apply(float v);

    /** f on every lane; bit-identical to {@link #apply(float)} on each. */
    public abstract FloatVector apply(FloatVector v);
}
