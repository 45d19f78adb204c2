package normlab.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import normlab.tensor.Rng;
import org.junit.jupiter.api.Test;

class BatchSamplerTest {
    @Test
    void everyEpochIsAPermutationAndBatchesAreFull() {
        BatchSampler s = new BatchSampler(10, 4, new Rng(3));
        int[] stream = new int[40];
        for (int b = 0; b < 10; b++) {
            int[] idx = s.next();
            assertEquals(4, idx.length);
            System.arraycopy(idx, 0, stream, b * 4, 4);
        }
        // 40 draws = 4 epochs of 10: each consecutive block of 10 holds every index once.
        for (int e = 0; e < 4; e++) {
            int[] block = Arrays.copyOfRange(stream, e * 10, e * 10 + 10);
            Arrays.sort(block);
            for (int i = 0; i < 10; i++) assertEquals(i, block[i]);
        }
        assertEquals(3, s.epoch());
        // Shuffled, not the identity order, and not the same order every epoch.
        assertFalse(Arrays.equals(Arrays.copyOfRange(stream, 0, 10), new int[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
        assertFalse(Arrays.equals(Arrays.copyOfRange(stream, 0, 10), Arrays.copyOfRange(stream, 10, 20)));
    }

    @Test
    void sameSeedSameOrder() {
        BatchSampler a = new BatchSampler(100, 7, new Rng(42)), b = new BatchSampler(100, 7, new Rng(42));
        BatchSampler c = new BatchSampler(100, 7, new Rng(43));
        boolean differs = false;
        for (int i = 0; i < 50; i++) {
            int[] x = a.next();
            assertArrayEquals(x, b.next());
            differs |= !Arrays.equals(x, c.next());
        }
        assertEquals(true, differs);
    }

    @Test
    void rejectsImpossibleBatch() {
        assertThrows(IllegalArgumentException.class, () -> new BatchSampler(5, 6, new Rng(1)));
        assertThrows(IllegalArgumentException.class, () -> new BatchSampler(0, 1, new Rng(1)));
        assertEquals(3000, BatchSampler.stepsForEpochs(60_000, 60, 3));
        assertEquals(6, BatchSampler.stepsForEpochs(100, 30, 2)); // 3 full batches per pass
    }
}
