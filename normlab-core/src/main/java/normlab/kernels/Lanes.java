package normlab.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * What the SIMD normalization kernels ({@link SimdChannelKernels}, {@link SimdGroupKernels}) share: the species, the
 * block sizes that fix every reduction's order, and the row sums both families use.
 *
 * <p>Reductions, for speed and exactness: lanes accumulate in float over short blocks (at most {@link #BLOCK}
 * elements per row), each block's lanes are added into double in lane order, and blocks are combined in index order.
 * Shifted sums keep a large mean harmless: d = x − K with K the first value is exact in float when x and K are within
 * a factor of two, so a channel with mean 1e4 and std 1e-2 sums small exact numbers. The blocks are fixed by the sizes
 * alone, so the results are the same at every thread count. Floating reductions never use {@code reduceLanes}, whose
 * order the API leaves open.
 */
final class Lanes {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    /** Elements of one row summed in float before folding into double (a multiple of the lane count). */
    static final int BLOCK = 1024;
    /** Minimum elements per parallel task (below this a thread hand-off costs more than it saves). */
    static final int GRAIN = 32 * 1024;

    private Lanes() {}

    /**
     * Ranges per thread of the channel-by-channel passes ({@link Parallel#forRange(int, int, int, Parallel.Range)}):
     * their items are whole channels (a large tensor's 64 channels, ~0.1 ms each), and 8 ranges per thread keep the
     * threads' finishing times within 1/16 of the pass at 2 threads, as the row split's 4 per thread did with rows.
     */
    static final int PER_THREAD = 8;

    /** Rows of {@code len} values per parallel task. */
    static int rowsPerTask(int len) {
        return Math.max(1, GRAIN / Math.max(1, len));
    }

    /**
     * A vector's lanes, stored into {@code lane} by the caller, added into a double in lane order. The caller stores
     * them: a helper of ours taking a vector can be left out of line by C2 and then boxes it on every call.
     */
    static double laneSum(float[] lane) {
        double s = 0;
        for (int i = 0; i < L; i++) s += lane[i];
        return s;
    }

    /** Σd and Σd² of one row, d = x − k, folded into p1[r], p2[r]. */
    static void statsRow(double[] p1, double[] p2, int r, float[] x, int o, int len, float k, float[] lane) {
        FloatVector vk = FloatVector.broadcast(S, k);
        double d1 = 0, d2 = 0;
        for (int j0 = 0; j0 < len; j0 += BLOCK) {
            int end = Math.min(len, j0 + BLOCK);
            int vend = j0 + S.loopBound(end - j0);
            FloatVector a1 = FloatVector.zero(S), a2 = a1;
            int j = j0;
            // Σ(x − k), Σ(x − k)²
            for (; j < vend; j += L) {
                FloatVector d = FloatVector.fromArray(S, x, o + j).sub(vk);
                a1 = a1.add(d);
                a2 = d.fma(d, a2);
            }
            float t1 = 0f, t2 = 0f;
            for (; j < end; j++) {
                float d = x[o + j] - k;
                t1 += d;
                t2 = Math.fma(d, d, t2);
            }
            a1.intoArray(lane, 0);
            d1 += laneSum(lane) + t1;
            a2.intoArray(lane, 0);
            d2 += laneSum(lane) + t2;
        }
        p1[r] = d1;
        p2[r] = d2;
    }
}
