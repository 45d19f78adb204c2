package normlab.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import normlab.data.Dataset;
import normlab.nn.Sequential;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import org.junit.jupiter.api.Test;

/** What a {@link Trainer.Listener} can see and steer: the batch before each step, early stop, a non-finite step. */
class TrainerListenerTest {
    @Test
    void beforeStepSeesTheBatchesStepDrawsAndStopEndsTheRun() {
        Dataset train = TrainerTest.quadrants(100, 1);
        Sequential a = TrainerTest.model(new Rng(5)), b = TrainerTest.model(new Rng(5));
        Trainer ta = new Trainer(a, new SGD(a.parameters(), 0.1), train, 10, new Rng(7), true);
        Trainer tb = new Trainer(b, new SGD(b.parameters(), 0.1), train, 10, new Rng(7), true);
        List<int[]> seen = new ArrayList<>();
        List<Integer> done = new ArrayList<>();
        Evaluation e = ta.fit(50, 50, null, null, new Trainer.Listener() {
            @Override
            public void beforeStep(int stepsDone, int[] batch) {
                done.add(stepsDone);
                seen.add(batch.clone());
            }

            @Override
            public boolean stop() {
                return ta.steps() == 7;
            }
        });
        assertNull(e, "no test set, no evaluation");
        assertEquals(7, ta.steps());
        assertEquals(List.of(0, 1, 2, 3, 4, 5, 6), done);
        BatchSampler sampler = new BatchSampler(100, 10, new Rng(7));
        assertEquals(7, seen.size());
        for (int[] batch : seen) assertArrayEquals(sampler.next(), batch);
        for (int i = 0; i < 7; i++) tb.step();
        // Same batches, same arithmetic as plain steps.
        for (var en : a.stateDict().entrySet()) assertArrayEquals(en.getValue().data, b.stateDict().get(en.getKey()).data, en.getKey());
    }

    @Test
    void nonFiniteStepThrowsByDefaultOrEndsTheRunForAListenerThatReturns() {
        Dataset train = TrainerTest.quadrants(100, 1);
        Sequential m = TrainerTest.model(new Rng(5));
        Trainer t = new Trainer(m, new SGD(m.parameters(), 1e38), train, 10, new Rng(7), true);
        assertThrows(NonFiniteException.class, () -> t.fit(100, 100, null, null, new Trainer.Listener() {}));
        Sequential m2 = TrainerTest.model(new Rng(5));
        Trainer t2 = new Trainer(m2, new SGD(m2.parameters(), 1e38), train, 10, new Rng(7), true);
        int[] failed = {0};
        t2.fit(100, 100, null, null, new Trainer.Listener() {
            @Override
            public void onNonFinite(NonFiniteException e) {
                failed[0] = e.step;
            }
        });
        assertEquals(t2.steps() + 1, failed[0], "the run ends at the failing step, which is not counted");
    }
}
