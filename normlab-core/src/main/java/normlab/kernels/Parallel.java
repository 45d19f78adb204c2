package normlab.kernels;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed pool of worker threads for the kernels, sized by {@link #setThreads} (the CLI's {@code --threads}; default:
 * every core the JVM sees, or the system property {@code normlab.threads}).
 *
 * <p>Kernels split their work into chunks whose boundaries depend only on the problem size, never on the thread
 * count; threads merely pick chunks. Each chunk writes its own outputs (or its own partial sums, which the caller then
 * combines in chunk order), so every result is bit-identical at any thread count.
 *
 * <p>{@link #forChunks} runs chunk indices [0, count) on the caller plus up to threads−1 workers, handing out indices
 * through an atomic counter, and returns when all are done. A call from inside a chunk body runs serially (no nested
 * parallelism, so no deadlock). The workers are daemons that park when idle.
 */
public final class Parallel {
    /** Body of a parallel loop: processes chunk {@code i}. */
    @FunctionalInterface
    public interface Chunk {
        void run(int i);
    }

    private static final Object LOCK = new Object();
    private static volatile int threads = initialThreads();
    private static Worker[] workers = new Worker[0];
    private static final ThreadLocal<Boolean> INSIDE = ThreadLocal.withInitial(() -> false);
    /** How long an idle worker spins before parking (system property {@code normlab.spinMicros}, default 200 µs). */
    private static final long SPIN_NANOS = 1000L * Long.getLong("normlab.spinMicros", 200L);

    private Parallel() {}

    private static int initialThreads() {
        String p = System.getProperty("normlab.threads");
        if (p != null && !p.isBlank()) {
            int n = Integer.parseInt(p.trim());
            if (n >= 1) return n;
        }
        return Runtime.getRuntime().availableProcessors();
    }

    /** Number of threads kernels may use (the caller included). */
    public static int threads() {
        return threads;
    }

    /** Sets the number of threads kernels may use (≥ 1); returns the previous value. Results do not depend on it. */
    public static int setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("Parallel.setThreads: thread count must be >= 1, got " + n);
        synchronized (LOCK) {
            int old = threads;
            threads = n;
            return old;
        }
    }

    /** One parallel loop in flight: chunk indices handed out by {@code next}, completion counted by {@code done}. */
    private static final class Job {
        final Chunk body;
        final int count;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger done = new AtomicInteger();
        final Thread caller;
        volatile Throwable error;

        Job(Chunk body, int count, Thread caller) {
            this.body = body;
            this.count = count;
            this.caller = caller;
        }

        /** Takes chunks until none are left. */
        void work() {
            int i;
            while ((i = next.getAndIncrement()) < count) {
                try {
                    if (error == null) body.run(i);
                } catch (Throwable t) {
                    error = t;
                } finally {
                    if (done.incrementAndGet() == count) LockSupport.unpark(caller);
                }
            }
        }
    }

    private static final class Worker extends Thread {
        final java.util.concurrent.atomic.AtomicReference<Job> job = new java.util.concurrent.atomic.AtomicReference<>();

        Worker(int id) {
            super("normlab-kernel-" + id);
            setDaemon(true);
        }

        @Override
        public void run() {
            INSIDE.set(true);
            long idleSince = System.nanoTime();
            while (true) {
                Job j = job.get();
                if (j == null) {
                    // Kernels come in bursts (a training step calls dozens): stay awake for a while after a job so the
                    // next one starts without a futex wake-up (tens of µs, more than many whole kernels take), then park.
                    if (System.nanoTime() - idleSince < SPIN_NANOS) Thread.onSpinWait();
                    else LockSupport.park(this);
                    continue;
                }
                j.work();
                job.compareAndSet(j, null); // a newer job may already be waiting: keep it
                idleSince = System.nanoTime();
            }
        }
    }

    /**
     * Runs {@code body.run(i)} for every i in [0, count), in parallel when more than one thread is set and count > 1.
     * Exceptions from a chunk are rethrown to the caller after all chunks finished.
     */
    public static void forChunks(int count, Chunk body) {
        int t = Math.min(threads, count);
        if (t <= 1 || INSIDE.get()) {
            for (int i = 0; i < count; i++) body.run(i);
            return;
        }
        synchronized (LOCK) { // one parallel loop at a time: kernels are called from one training thread
            ensureWorkers(t - 1);
            Job job = new Job(body, count, Thread.currentThread());
            for (int w = 0; w < t - 1; w++) {
                workers[w].job.set(job);
                LockSupport.unpark(workers[w]); // cheap when the worker is still spinning
            }
            INSIDE.set(true);
            try {
                job.work();
            } finally {
                INSIDE.set(false);
            }
            // Every chunk has finished once done == count (a worker still holding this job finds no chunk left).
            long spinUntil = System.nanoTime() + 20_000; // the last chunk usually ends within microseconds: spin first
            while (job.done.get() < count) {
                if (System.nanoTime() < spinUntil) Thread.onSpinWait();
                else LockSupport.park(job);
            }
            if (job.error != null) {
                if (job.error instanceof RuntimeException) throw (RuntimeException) job.error;
                if (job.error instanceof Error) throw (Error) job.error;
                throw new RuntimeException(job.error);
            }
        }
    }

    /**
     * Runs {@code body} with every kernel it calls serial on the calling thread. For callers that parallelize above the
     * kernels (two trainings side by side, one per core): they would otherwise queue for the one shared pool. Results
     * are unchanged, since they never depend on the thread count.
     */
    public static <T> T serially(java.util.concurrent.Callable<T> body) throws Exception {
        boolean outer = INSIDE.get();
        INSIDE.set(true);
        try {
            return body.call();
        } finally {
            INSIDE.set(outer);
        }
    }

    private static void ensureWorkers(int n) {
        if (workers.length >= n) return;
        Worker[] w = java.util.Arrays.copyOf(workers, n);
        for (int i = workers.length; i < n; i++) {
            w[i] = new Worker(i + 1);
            w[i].start();
        }
        workers = w;
    }

    /** Body of a range loop: processes items [lo, hi). */
    @FunctionalInterface
    public interface Range {
        void run(int lo, int hi);
    }

    /**
     * Runs {@code body} over [0, count) split into contiguous ranges of at least {@code grain} items (about four per
     * thread, for balance on a busy machine). The grouping may change with the thread count, so each item's result
     * must not depend on which range it falls in.
     */
    public static void forRange(int count, int grain, Range body) {
        forRange(count, grain, 4, body);
    }

    /**
     * {@link #forRange(int, int, Range)} with up to {@code perThread} ranges per thread, handed out in order as threads
     * become free: the threads finish at most one range apart, so more ranges mean a shorter wait for the last one (the
     * channel-by-channel norm passes, whose items are whole channels, use 8: at 2 threads a range is 1/16 of the work).
     */
    public static void forRange(int count, int grain, int perThread, Range body) {
        if (count <= 0) return;
        int t = threads;
        int tasks = Math.max(1, Math.min(count / Math.max(1, grain), t == 1 ? 1 : perThread * t));
        if (tasks == 1 || INSIDE.get()) {
            body.run(0, count);
            return;
        }
        int per = count / tasks, extra = count % tasks;
        forChunks(tasks, i -> {
            int lo = i * per + Math.min(i, extra);
            body.run(lo, lo + per + (i < extra ? 1 : 0));
        });
    }
}
