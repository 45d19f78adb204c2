package normlab.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The warm-up's rates: base/W at the first step, linear, base from step W − 1 on; W = 0 is constant. */
class LinearWarmupTest {
    @Test
    void rampsLinearlyThenHolds() {
        LinearWarmup w = new LinearWarmup(1e-3, 4);
        assertEquals(0.25e-3, w.lr(0), 1e-15);
        assertEquals(0.5e-3, w.lr(1), 1e-15);
        assertEquals(1e-3, w.lr(3), 1e-15);
        assertEquals(1e-3, w.lr(1000), 1e-15);
        assertEquals(2e-3, new LinearWarmup(2e-3, 0).lr(0), 0);
    }

    @Test
    void refusesBadArguments() {
        assertEquals("LinearWarmup: warm-up steps must be >= 0, got -1",
                assertThrows(IllegalArgumentException.class, () -> new LinearWarmup(1e-3, -1)).getMessage());
        assertThrows(IllegalArgumentException.class, () -> new LinearWarmup(1e-3, 2).lr(-1));
    }
}
