package normlab.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The kernel pool: every item runs exactly once at any thread count, errors reach the caller, nesting is serial. */
class ParallelTest {
    private final int threads0 = Parallel.threads();

    @AfterEach
    void restore() {
        Parallel.setThreads(threads0);
    }

    @Test
    void everyItemRunsExactlyOnce() {
        for (int t : new int[] {1, 2, 3, 5}) {
            Parallel.setThreads(t);
            for (int count : new int[] {0, 1, 7, 1000, 4097}) {
                for (int grain : new int[] {1, 3, 100}) {
                    AtomicIntegerArray hits = new AtomicIntegerArray(count);
                    Parallel.forRange(count, grain, (lo, hi) -> {
                        for (int i = lo; i < hi; i++) hits.incrementAndGet(i);
                    });
                    for (int i = 0; i < count; i++) assertEquals(1, hits.get(i), "threads " + t + " count " + count + " item " + i);
                }
            }
        }
    }

    @Test
    void chunkErrorsReachTheCallerAndThePoolStillWorks() {
        Parallel.setThreads(2);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Parallel.forChunks(8, i -> {
            if (i == 5) throw new IllegalStateException("chunk 5");
        }));
        assertEquals("chunk 5", e.getMessage());
        AtomicIntegerArray hits = new AtomicIntegerArray(8);
        Parallel.forChunks(8, hits::incrementAndGet);
        for (int i = 0; i < 8; i++) assertEquals(1, hits.get(i));
    }

    @Test
    void nestedLoopsRunSerially() {
        Parallel.setThreads(2);
        AtomicIntegerArray hits = new AtomicIntegerArray(16);
        Parallel.forChunks(4, i -> Parallel.forChunks(4, j -> hits.incrementAndGet(i * 4 + j)));
        for (int i = 0; i < 16; i++) assertEquals(1, hits.get(i));
    }

    @Test
    void rejectsNonPositiveThreadCounts() {
        assertThrows(IllegalArgumentException.class, () -> Parallel.setThreads(0));
    }
}
