package normlab.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Transcendental activations on vector lanes, for the layers' forward passes when {@link Kernels#simd()} is on; the
 * layers keep their scalar double-precision loops as the reference.
 *
 * <p>Why not the JDK's {@code VectorOperators.EXP}/{@code TANH}: compiled code computes them with a native library while
 * interpreted code falls back to per-lane {@code Math} calls, and the two differ in the last bit. A run's results would
 * then depend on when the JIT kicked in, which breaks bit-reproducibility (a resumed run diverged from an uninterrupted
 * one by an ulp). Here exp is built from IEEE additions, multiplications and fused multiply-adds only, which give the
 * same bits interpreted or compiled, on lanes and in the scalar tail alike. Elementwise work is light, so it stays on
 * the calling thread.
 */
public final class Elementwise {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    // exp(x) = 2^n · e^r with n = round(x·log₂e) and r = x − n·ln2 (ln2 split in two for an exact product), |r| ≤ ln2/2;
    // e^r by its Taylor polynomial to degree 7 (remainder below 5e-9 relative), in Horner form with FMAs.
    private static final float LOG2E = 1.44269504f;
    private static final float LN2_HI = 0.693145752f; // ln2 rounded to 16 significant bits: n·LN2_HI is exact
    private static final float LN2_LO = 1.42860677e-6f;
    private static final float ROUNDER = 12582912f; // 1.5·2²³: adding and subtracting it rounds to the nearest integer
    private static final int ROUNDER_BITS = Float.floatToRawIntBits(ROUNDER);
    // Outside [MIN_X, MAX_X] the result is 0 or +∞ (true values below 1.7e-38 or above 1.6e38), which keeps 2^n a
    // normal float inside and makes σ(−∞) = 0 and σ(+∞) = 1 exactly, as PyTorch. NaN stays NaN.
    private static final float MAX_X = 88f, MIN_X = -87f;
    private static final float[] C = {1f / 5040, 1f / 720, 1f / 120, 1f / 24, 1f / 6, 0.5f, 1f, 1f};

    private Elementwise() {}

    /** e^x for one value, bit-identical to a lane of {@link #exp(FloatVector)}. */
    public static float exp(float x) {
        if (x > MAX_X) return Float.POSITIVE_INFINITY;
        if (x < MIN_X) return 0f;
        float n = (x * LOG2E + ROUNDER) - ROUNDER;
        float r = Math.fma(-n, LN2_LO, Math.fma(-n, LN2_HI, x));
        float p = C[0];
        for (int i = 1; i < C.length; i++) p = Math.fma(p, r, C[i]);
        return p * Float.intBitsToFloat(((int) n + 127) << 23);
    }

    /** e^x on every lane (the same operations as {@link #exp(float)}). */
    static FloatVector exp(FloatVector x0) {
        FloatVector x = x0.max(MIN_X).min(MAX_X);
        FloatVector t = x.mul(LOG2E).add(ROUNDER);
        FloatVector n = t.sub(ROUNDER);
        FloatVector nn = n.neg();
        FloatVector r = nn.fma(FloatVector.broadcast(S, LN2_LO), nn.fma(FloatVector.broadcast(S, LN2_HI), x));
        FloatVector p = FloatVector.broadcast(S, C[0]);
        for (int i = 1; i < C.length; i++) p = p.fma(r, FloatVector.broadcast(S, C[i]));
        // 2^n without a float→int conversion (which C2 does not intrinsify for every vector shape on JDK 17 and then
        // runs lane by lane through arrays): t = 1.5·2²³ + n holds n in its low mantissa bits, so
        // bits(2^n) = (n + 127) << 23 = (bits(t) − bits(1.5·2²³) + 127) << 23 — the same n, the same bits.
        IntVector bits = ((IntVector) t.reinterpretAsInts()).sub(ROUNDER_BITS - 127).lanewise(VectorOperators.LSHL, 23);
        return p.mul(bits.reinterpretAsFloats())
                .blend(Float.POSITIVE_INFINITY, x0.compare(VectorOperators.GT, MAX_X))
                .blend(0f, x0.compare(VectorOperators.LT, MIN_X));
    }

    /** y = e^x over n values (y may be x). */
    public static void exp(float[] y, float[] x, int n) {
        int bound = S.loopBound(n), i = 0;
        for (; i < bound; i += S.length()) exp(FloatVector.fromArray(S, x, i)).intoArray(y, i);
        for (; i < n; i++) y[i] = exp(x[i]);
    }

    /** y = σ(x) = 1/(1 + e^(−x)) over n values. */
    public static void sigmoid(float[] y, float[] x, int n) {
        sigmoid(y, 0, x, 0, n);
    }

    /** y[yo + i] = σ(x[xo + i]) for i &lt; n; every value bit-identical to {@code 1f / (1f + exp(-x))}. */
    public static void sigmoid(float[] y, int yo, float[] x, int xo, int n) {
        int bound = S.loopBound(n), i = 0;
        FloatVector one = FloatVector.broadcast(S, 1f);
        for (; i < bound; i += S.length()) {
            FloatVector e = exp(FloatVector.fromArray(S, x, xo + i).neg());
            one.div(e.add(one)).intoArray(y, yo + i);
        }
        for (; i < n; i++) y[yo + i] = 1f / (1f + exp(-x[xo + i]));
    }

    // tanh(x) = 1 − 2/(e^(2x) + 1); for |x| < 1/8, where that loses digits to cancellation, the odd Taylor polynomial
    // x − x³/3 + 2x⁵/15 − 17x⁷/315 (remainder below 1e-10).
    private static final float SMALL = 0.125f;

    /** tanh for one value, bit-identical to a lane of {@link #tanh(float[], float[], int)}. */
    public static float tanh(float x) {
        if (Math.abs(x) < SMALL) {
            float x2 = x * x;
            return x * Math.fma(Math.fma(Math.fma(-17f / 315, x2, 2f / 15), x2, -1f / 3), x2, 1f);
        }
        return 1f - 2f / (exp(2f * x) + 1f);
    }

    /** y = tanh(x) over n values. */
    public static void tanh(float[] y, float[] x, int n) {
        tanh(y, 0, x, 0, n);
    }

    /** y[yo + i] = tanh(x[xo + i]) for i &lt; n; every value bit-identical to {@link #tanh(float)}. */
    public static void tanh(float[] y, int yo, float[] x, int xo, int n) {
        int bound = S.loopBound(n), i = 0;
        FloatVector one = FloatVector.broadcast(S, 1f), two = FloatVector.broadcast(S, 2f);
        for (; i < bound; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, x, xo + i);
            FloatVector big = one.sub(two.div(exp(v.mul(2f)).add(one)));
            FloatVector x2 = v.mul(v);
            FloatVector small = v.mul(x2.fma(-17f / 315, 2f / 15).fma(x2, FloatVector.broadcast(S, -1f / 3)).fma(x2, one));
            big.blend(small, v.abs().compare(VectorOperators.LT, SMALL)).intoArray(y, yo + i);
        }
        for (; i < n; i++) y[yo + i] = tanh(x[xo + i]);
    }

    /**
     * True when all of a[0..n) are finite. v − v is 0 for finite v and NaN for ±∞ and NaN, so one vector sum of
     * (v − v) is NaN exactly when some value is not finite: one pass, no branch per element.
     */
    public static boolean allFinite(float[] a, int n) {
        int bound = S.loopBound(n), i = 0;
        FloatVector acc = FloatVector.zero(S);
        for (; i < bound; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, a, i);
            acc = acc.add(v.sub(v));
        }
        float tail = 0f;
        for (; i < n; i++) tail += a[i] - a[i];
        return !acc.test(VectorOperators.IS_NAN).anyTrue() && tail == tail;
    }
}
