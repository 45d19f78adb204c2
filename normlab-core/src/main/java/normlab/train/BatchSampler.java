package normlab.train;

import normlab.tensor.Rng;

/**
 * Mini-batch indices for SGD: the examples are visited in a random order (a fresh Fisher–Yates permutation from a
 * seeded {@link Rng} each epoch), {@code batchSize} at a time. Batches are always full: a batch that would run past
 * the end of an epoch takes its remaining indices from the start of the next permutation, so every step sees exactly
 * {@code batchSize} examples (which BatchNorm needs) and the same seed gives the same sequence on every machine.
 */
public final class BatchSampler {
    private final int n;
    private final int batchSize;
    private final Rng rng;
    private final int[] order;
    private int pos;
    private long epoch;

    public BatchSampler(int n, int batchSize, Rng rng) {
        if (n <= 0) throw new IllegalArgumentException("BatchSampler: dataset is empty");
        if (batchSize <= 0 || batchSize > n) {
            throw new IllegalArgumentException("BatchSampler: batch size " + batchSize + " must be in [1, " + n + "]");
        }
        this.n = n;
        this.batchSize = batchSize;
        this.rng = rng;
        this.order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        rng.shuffle(order);
    }

    /** The next batch's indices. */
    public int[] next() {
        int[] idx = new int[batchSize];
        for (int i = 0; i < batchSize; i++) {
            if (pos == n) {
                rng.shuffle(order);
                pos = 0;
                epoch++;
            }
            idx[i] = order[pos++];
        }
        return idx;
    }

    /** Completed passes over the data. */
    public long epoch() {
        return epoch;
    }

    /** The current permutation (a copy) and the position in it: with the Rng's state, all a checkpoint needs. */
    int[] order() {
        return order.clone();
    }

    int position() {
        return pos;
    }

    Rng rng() {
        return rng;
    }

    /** Restores the permutation, position and epoch saved by a checkpoint (the Rng is restored by its owner). */
    void restore(int[] savedOrder, int savedPos, long savedEpoch) {
        if (savedOrder.length != n || savedPos < 0 || savedPos > n) {
            throw new IllegalArgumentException("BatchSampler: saved order of " + savedOrder.length + " at position " + savedPos
                    + " does not fit " + n + " examples");
        }
        System.arraycopy(savedOrder, 0, order, 0, n);
        pos = savedPos;
        epoch = savedEpoch;
    }

    public int batchSize() {
        return batchSize;
    }

    /** Steps in {@code epochs} passes over {@code n} examples (floor of n / batch per pass). */
    public static int stepsForEpochs(int n, int batchSize, int epochs) {
        long s = (long) (n / batchSize) * epochs;
        if (s > Integer.MAX_VALUE) throw new IllegalArgumentException("too many steps: " + s);
        return (int) s;
    }
}
