package normlab.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The seeded random source: fixed stream per seed (bit for bit), sane distributions. */
class RngTest {
    /** SplitMix64 from seed 0 starts with this value (Steele, Lea and Flood's reference generator). */
    @Test
    void splitMix64ReferenceValue() {
        assertEquals(0xE220A8397B1DCDAFL, new Rng(0).nextLong());
    }

    @Test
    void sameSeedSameStream() {
        Rng a = new Rng(42), b = new Rng(42), c = new Rng(43);
        long[] sa = new long[100], sb = new long[100], sc = new long[100];
        for (int i = 0; i < 100; i++) {
            sa[i] = a.nextLong() ^ Double.doubleToLongBits(a.nextGaussian()) ^ a.nextInt(1000) ^ Float.floatToIntBits(a.nextFloat());
            sb[i] = b.nextLong() ^ Double.doubleToLongBits(b.nextGaussian()) ^ b.nextInt(1000) ^ Float.floatToIntBits(b.nextFloat());
            sc[i] = c.nextLong() ^ Double.doubleToLongBits(c.nextGaussian()) ^ c.nextInt(1000) ^ Float.floatToIntBits(c.nextFloat());
        }
        assertArrayEquals(sa, sb);
        assertNotEquals(Arrays.toString(sa), Arrays.toString(sc));
        Rng s1 = new Rng(7).split(), s2 = new Rng(7).split();
        assertEquals(s1.nextLong(), s2.nextLong(), "split is deterministic too");
    }

    @Test
    void distributions() {
        Rng r = new Rng(3);
        int n = 200_000;
        double sum = 0, sq = 0;
        for (int i = 0; i < n; i++) {
            double g = r.nextGaussian();
            sum += g;
            sq += g * g;
        }
        double mean = sum / n, std = Math.sqrt(sq / n - mean * mean);
        assertEquals(0, mean, 5 / Math.sqrt(n), "gaussian mean");
        assertEquals(1, std, 5 / Math.sqrt(2.0 * n), "gaussian std");
        int[] counts = new int[7];
        for (int i = 0; i < 70_000; i++) {
            double u = r.nextDouble();
            float f = r.nextFloat();
            assertTrue(u >= 0 && u < 1 && f >= 0 && f < 1);
            counts[r.nextInt(7)]++;
        }
        for (int k : counts) assertEquals(10_000, k, 5 * Math.sqrt(10_000), "nextInt(7) counts " + Arrays.toString(counts));
        assertThrows(IllegalArgumentException.class, () -> r.nextInt(0));
    }

    @Test
    void shuffleIsAPermutation() {
        int[] a = new int[50];
        for (int i = 0; i < a.length; i++) a[i] = i;
        int[] b = a.clone();
        new Rng(9).shuffle(b);
        assertNotEquals(Arrays.toString(a), Arrays.toString(b));
        int[] sorted = b.clone();
        Arrays.sort(sorted);
        assertArrayEquals(a, sorted);
        int[] c = a.clone();
        new Rng(9).shuffle(c);
        assertArrayEquals(b, c);
    }
}
