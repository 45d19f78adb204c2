package normlab.testing;

import normlab.kernels.Kernels;
import normlab.kernels.Parallel;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The process-wide kernel switches in tests. As an extension ({@code @ExtendWith(KernelSwitches.class)}) it saves
 * SIMD on/off and the thread count before each test and restores them after, so a test that flips them leaves no
 * trace; {@link #onBothPaths} runs a check on the SIMD kernels and on the scalar reference loops.
 */
public final class KernelSwitches implements BeforeEachCallback, AfterEachCallback {
    private boolean simd;
    private int threads;

    @Override
    public void beforeEach(ExtensionContext context) {
        simd = Kernels.simd();
        threads = Parallel.threads();
    }

    @Override
    public void afterEach(ExtensionContext context) {
        Kernels.setSimd(simd);
        Parallel.setThreads(threads);
    }

    /** A check run with the given setting of the SIMD switch. */
    public interface Check {
        void run(boolean simd) throws Exception;
    }

    /** Runs {@code check} on the Vector API kernels, then on the scalar reference loops; restores the switch after. */
    public static void onBothPaths(Check check) throws Exception {
        for (boolean simd : new boolean[] {true, false}) {
            boolean old = Kernels.setSimd(simd);
            try {
                check.run(simd);
            } finally {
                Kernels.setSimd(old);
            }
        }
    }
}
