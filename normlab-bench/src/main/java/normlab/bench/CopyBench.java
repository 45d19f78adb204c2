package normlab.bench;

import java.util.concurrent.TimeUnit;
import normlab.kernels.Parallel;
import org.openjdk.jmh.annotations.*;

/**
 * JMH: the memory-bandwidth ceiling the normalization kernels are measured against, a STREAM-like copy of 128 MB
 * split over the kernel pool. GB/s = 2 · 128 MB / time (read + write, as STREAM counts).
 */
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx2g"})
public class CopyBench extends Bench {
    @Param({"1", "2"})
    public int threads;

    static final int N = 32 << 20, CHUNK = 1 << 16;
    float[] a, b;

    @Setup
    public void setup() {
        Parallel.setThreads(threads);
        a = new float[N];
        b = new float[N];
        java.util.Arrays.fill(a, 1f);
    }

    @Benchmark
    public float[] copy() {
        Parallel.forRange(N / CHUNK, 1, (lo, hi) -> System.arraycopy(a, lo * CHUNK, b, lo * CHUNK, (hi - lo) * CHUNK));
        return b;
    }
}
