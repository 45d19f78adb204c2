package normlab.norm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import normlab.nn.Layout;
import normlab.norm.RunningStatsNorm.RunningAffine;
import org.junit.jupiter.api.Test;

/** What each BN-family layer answers to {@link RunningStatsNorm#runningAffine()}. */
class RunningStatsNormTest {
    @Test
    void batchNormAnswersItsLiveBuffersAndLayout() {
        BatchNorm2d bn = new BatchNorm2d(3, Layout.NHWC);
        RunningAffine a = bn.runningAffine();
        assertSame(bn.weight.value, a.gamma());
        assertSame(bn.bias.value, a.beta());
        assertSame(bn.runningMean, a.runningMean());
        assertSame(bn.runningVar, a.runningVar());
        assertEquals(bn.eps, a.eps());
        assertEquals(Layout.NHWC, a.layout());
        assertTrue(a.estimated());
        assertEquals(3, a.channels());
    }

    @Test
    void withoutAffineGammaAndBetaAreNull() {
        RunningAffine a = new BatchNorm1d(4, 1e-3, 0.1, false, true).runningAffine();
        assertNull(a.gamma());
        assertNull(a.beta());
        assertEquals(1e-3, a.eps());
        assertEquals(Layout.NCHW, a.layout());
    }

    @Test
    void withoutRunningStatisticsTheAnswerIsNull() {
        assertNull(new BatchNorm1d(4, 1e-5, 0.1, true, false).runningAffine());
    }

    @Test
    void descendantsAreEstimatesAndFrozenIsNot() {
        BatchRenorm r = new BatchRenorm(2);
        assertSame(r.runningMean, r.runningAffine().runningMean());
        assertTrue(r.runningAffine().estimated());
        GhostBatchNorm g = new GhostBatchNorm(2, 4);
        assertSame(g.runningVar, g.runningAffine().runningVar());
        assertTrue(g.runningAffine().estimated());
        FrozenBatchNorm2d f = new FrozenBatchNorm2d(2);
        assertSame(f.weight, f.runningAffine().gamma());
        assertFalse(f.runningAffine().estimated());
        Object in = new InstanceNorm2d(2, 1e-5, 0.1, true, true);
        assertFalse(in instanceof RunningStatsNorm);
    }

    @Test
    void momentumIsADoubleEverywhereAndNullIsRejectedWherePyTorchRejectsIt() {
        assertNull(new BatchNorm1d(2, 1e-5, null, true, true).momentum);
        assertNull(new GhostBatchNorm(2, 4, 1e-5, null, true).momentum);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new BatchRenorm(2, 1e-5, null, true, BatchRenorm.Schedule.PAPER));
        assertEquals("BatchRenorm: momentum must be in [0, 1], got null", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new InstanceNorm1d(2, 1e-5, null, false, false));
        assertEquals("InstanceNorm1d: momentum must be in [0, 1], got null", e.getMessage());
    }
}
