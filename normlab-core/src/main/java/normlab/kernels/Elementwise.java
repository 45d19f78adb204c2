package normlab.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Transcendental activations on vector lanes (the JDK's vector exp and tanh, accurate to about an ulp in float), for
 * the layers' forward passes when {@link Kernels#simd()} is on; the layers keep their scalar double-precision loops as
 * the reference. Elementwise work is memory- or latency-light, so it stays on the calling thread.
 */
public final class Elementwise {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private Elementwise() {}

    /** y = σ(x) = 1/(1 + e^(−x)) over n values. */
    public static void sigmoid(float[] y, float[] x, int n) {
        int bound = S.loopBound(n), i = 0;
        FloatVector one = FloatVector.broadcast(S, 1f);
        for (; i < bound; i += S.length()) {
            FloatVector e = FloatVector.fromArray(S, x, i).neg().lanewise(VectorOperators.EXP);
            one.div(e.add(one)).intoArray(y, i);
        }
        for (; i < n; i++) y[i] = (float) (1.0 / (1.0 + Math.exp(-x[i])));
    }

    /** y = tanh(x) over n values. */
    public static void tanh(float[] y, float[] x, int n) {
        int bound = S.loopBound(n), i = 0;
        for (; i < bound; i += S.length()) {
            FloatVector.fromArray(S, x, i).lanewise(VectorOperators.TANH).intoArray(y, i);
        }
        for (; i < n; i++) y[i] = (float) Math.tanh(x[i]);
    }
}
