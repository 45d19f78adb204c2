package normlab.dist;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * {@link Collective} for replicas that are threads of one JVM. {@link #group(int, long)} makes the K rank handles of
 * one group; each thread uses its own.
 *
 * <p>One operation: every rank puts its array (and the operation's name) in its slot and waits at a barrier; then each
 * rank reads all slots and computes the result itself, in rank order, so all get the same bits whatever the
 * threads' timing. Consecutive operations use two slot sets in turn, so one barrier per operation suffices. Mismatched calls (another
 * operation, another length) are seen by every rank after the first barrier, and every rank throws the same one-line
 * error. A rank that fails outside a collective calls {@link #abort}: the others' pending and later calls throw
 * naming it. A rank missing for longer than the timeout fails the operation on every waiting rank, naming the ranks
 * that did not arrive.
 */
public final class ThreadCollective implements Collective {
    /** What the ranks of one group share. */
    private static final class Group {
        final int size;
        final long timeoutMillis;
        final CyclicBarrier barrier;
        final Object[][] slots;
        final String[][] ops;
        final long[] calls;
        volatile String failure;

        Group(int size, long timeoutMillis) {
            this.size = size;
            this.timeoutMillis = timeoutMillis;
            this.barrier = new CyclicBarrier(size);
            this.slots = new Object[2][size];
            this.ops = new String[2][size];
            this.calls = new long[size];
        }
    }

    private final Group group;
    private final int rank;

    private ThreadCollective(Group group, int rank) {
        this.group = group;
        this.rank = rank;
    }

    /** The {@code size} rank handles of a new group (index = rank); an operation waits at most {@code timeoutMillis}. */
    public static List<ThreadCollective> group(int size, long timeoutMillis) {
        if (size < 1) throw new IllegalArgumentException("ThreadCollective: group size must be >= 1, got " + size);
        if (timeoutMillis <= 0) throw new IllegalArgumentException("ThreadCollective: timeout must be > 0 ms, got " + timeoutMillis);
        Group g = new Group(size, timeoutMillis);
        List<ThreadCollective> out = new ArrayList<>();
        for (int r = 0; r < size; r++) out.add(new ThreadCollective(g, r));
        return out;
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return group.size;
    }

    /** Marks this rank failed: every other rank's pending and later operations throw naming it and {@code why}. */
    public void abort(String why) {
        if (group.failure == null) group.failure = "rank " + rank + " failed: " + why;
        group.barrier.reset();
    }

    @Override
    public double[][] allGather(double[] local) {
        Object[] all = exchange("allGather", local.clone());
        double[][] out = new double[group.size][];
        for (int r = 0; r < group.size; r++) out[r] = ((double[]) all[r]).clone();
        return out;
    }

    @Override
    public void allReduceSum(double[] data) {
        Object[] all = exchange("allReduceSum(double[" + data.length + "])", data.clone());
        double[] sum = new double[data.length];
        for (Object o : all) {
            double[] d = (double[]) o;
            for (int i = 0; i < sum.length; i++) sum[i] += d[i]; // rank order
        }
        System.arraycopy(sum, 0, data, 0, sum.length);
    }

    @Override
    public void allReduceSum(float[] data) {
        Object[] all = exchange("allReduceSum(float[" + data.length + "])", data.clone());
        double[] sum = new double[data.length];
        for (Object o : all) {
            float[] d = (float[]) o;
            for (int i = 0; i < sum.length; i++) sum[i] += d[i]; // rank order, in double
        }
        for (int i = 0; i < sum.length; i++) data[i] = (float) sum[i];
    }

    /** Puts {@code mine} in this rank's slot, waits for every rank, checks the calls match; returns all slots (a copy). */
    private Object[] exchange(String op, Object mine) {
        Group g = group;
        String failed = g.failure;
        if (failed != null) throw new CollectiveException(op + " on rank " + rank + ": " + failed);
        // Two slot sets, alternating by call number: a rank can write set p again (call i + 2) only after every rank
        // passed the barrier of call i + 1, so after every rank read set p in call i. One barrier per operation.
        int set = (int) (g.calls[rank] & 1);
        g.slots[set][rank] = mine;
        g.ops[set][rank] = op;
        g.calls[rank]++;
        await(op);
        Object[] all = g.slots[set].clone();
        String[] ops = g.ops[set].clone();
        for (int r = 0; r < g.size; r++) {
            if (!ops[r].equals(ops[0])) {
                throw new CollectiveException("collective mismatch: rank 0 called " + ops[0] + ", rank " + r + " called " + ops[r]);
            }
        }
        return all;
    }

    private void await(String op) {
        Group g = group;
        try {
            g.barrier.await(g.timeoutMillis, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            String why = "timed out after " + g.timeoutMillis + " ms waiting for rank(s) " + missing();
            if (g.failure == null) g.failure = "rank " + rank + " " + why;
            throw new CollectiveException(op + " on rank " + rank + ": " + why);
        } catch (BrokenBarrierException e) {
            // the rank that broke the barrier (abort or timeout) sets the reason right after: give it a moment
            long until = System.nanoTime() + 200_000_000L;
            while (g.failure == null && System.nanoTime() < until) Thread.onSpinWait();
            String f = g.failure;
            throw new CollectiveException(op + " on rank " + rank + ": "
                    + (f != null ? f : "the group broke while waiting for rank(s) " + missing()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            abort("interrupted");
            throw new CollectiveException(op + " on rank " + rank + ": interrupted");
        }
    }

    /** The ranks that have made fewer collective calls than this one (they have not arrived). */
    private List<Integer> missing() {
        List<Integer> out = new ArrayList<>();
        long mine = group.calls[rank];
        for (int r = 0; r < group.size; r++) if (group.calls[r] < mine) out.add(r);
        return out;
    }

    @Override
    public String toString() {
        return "ThreadCollective(rank " + rank + " of " + group.size + ", calls " + Arrays.toString(group.calls) + ")";
    }
}
