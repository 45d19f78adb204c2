package normlab.lab.evidence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The shared uncertainty rule: difference of means, its standard error, and when an effect counts. */
class EffectTest {
    @Test
    void welchStandardErrorOfTwoGroups() {
        // a: mean 2, s² = 1 (n 3); b: mean 1, s² = 4 (n 3) → se = √(1/3 + 4/3) = √(5/3)
        Effect e = Effect.between(new double[] {1, 2, 3}, new double[] {-1, 1, 3});
        assertEquals(1.0, e.diff(), 1e-12);
        assertEquals(Math.sqrt(5.0 / 3), e.se(), 1e-12);
        assertEquals(3, e.n());
        assertFalse(e.shows(0)); // 1 < 2·1.29
        Effect big = Effect.between(new double[] {11, 12, 13}, new double[] {-1, 1, 3});
        assertTrue(big.shows(0));
        assertTrue(big.shows(11));
        assertFalse(big.shows(11.5)); // beyond 2 s.e., but below the minimum effect
        assertFalse(big.negate().shows(0)); // one-sided: a negative difference never shows
    }

    @Test
    void pairedDifferencesRemoveTheSharedSeedEffect() {
        // the seeds differ a lot, the per-seed difference is always +1: between groups it drowns, paired it shows
        double[] a = {11, 21, 31}, b = {10, 20, 30.2};
        assertFalse(Effect.between(a, b).shows(0));
        Effect p = Effect.paired(a, b);
        assertEquals((1 + 1 + 0.8) / 3, p.diff(), 1e-12);
        assertEquals(Spread.of(1, 1, 0.8).sd() / Math.sqrt(3), p.se(), 1e-12);
        assertTrue(p.shows(0.5));
        assertThrows(IllegalArgumentException.class, () -> Effect.paired(a, new double[] {1}));
    }

    @Test
    void fewerThanThreeRunsNeverShowAndNonFiniteValuesAreLeftOut() {
        assertFalse(Effect.paired(new double[] {5, 5.1}).shows(0));
        assertFalse(Effect.paired(new double[] {5}).shows(0));
        Effect e = Effect.paired(new double[] {5, 5.1, Double.NaN, 4.9});
        assertEquals(3, e.n());
        assertTrue(e.shows(1));
        assertEquals("+500.0 ± 5.8 points (s.e., n = 3)", e.points());
        assertTrue(Effect.rule("2 points").contains("2 standard errors") && Effect.rule("2 points").endsWith("at least 2 points"));
    }
}
