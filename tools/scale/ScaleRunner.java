import java.util.Arrays;
import normlab.kernels.Parallel;
import normlab.nn.Module;
import normlab.norm.BatchNorm1d;
import normlab.norm.BatchNorm2d;
import normlab.norm.GroupNorm;
import normlab.norm.InstanceNorm2d;
import normlab.norm.LayerNorm;
import normlab.norm.RMSNorm;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;

/**
 * One build's side of {@code ScaleAb}: loaded in its own class loader with that build's normlab-core classes, it makes
 * the workloads (the peer comparison's 21 norm kernels, as normlab.bench.Peer builds them, and copy/read ceilings of
 * the same sizes on the same pool) and sets the pool's thread count. Workload names: {@code NAME:OP} with NAME one of
 * bn1d, bn2d32, bn2d64, ln, gn32, in2d, rms, bncnn1, bncnn2 (the small CNN's BatchNorm2d inputs at batch 64) and OP one of train, eval, bwd; {@code copy:FLOATS}, {@code read:FLOATS},
 * {@code copy2:FLOATS} (two inputs, one output: the backward's dx pass). Also {@code checksum(NAME:OP)} for bit checks.
 */
public final class ScaleRunner {
    public static void setThreads(int t) {
        Parallel.setThreads(t);
    }

    private static float[] gaussian(Rng rng, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rng.nextGaussian();
        return a;
    }

    static int[] shape(String name) {
        switch (name) {
            case "bn1d": return new int[] {256, 1024};
            case "bn2d32": case "gn32": case "in2d": return new int[] {32, 64, 56, 56};
            case "bn2d64": return new int[] {64, 64, 56, 56};
            case "ln": case "rms": return new int[] {8192, 768};
            case "bncnn1": return new int[] {64, 32, 28, 28}; // the small CNN's two BatchNorm2d layers at batch 64
            case "bncnn2": return new int[] {64, 64, 14, 14};
            default: throw new IllegalArgumentException("ScaleRunner: unknown workload " + name);
        }
    }

    static Module module(String name) {
        switch (name) {
            case "bn1d": return new BatchNorm1d(1024);
            case "bn2d32": case "bn2d64": case "bncnn2": return new BatchNorm2d(64);
            case "bncnn1": return new BatchNorm2d(32);
            case "ln": return new LayerNorm(768);
            case "gn32": return new GroupNorm(32, 64);
            case "in2d": return new InstanceNorm2d(64);
            case "rms": return new RMSNorm(768);
            default: throw new IllegalArgumentException("ScaleRunner: unknown workload " + name);
        }
    }

    /** Last output of a workload (for bit checks). */
    private static Tensor last;

    public static Runnable make(String spec) {
        String[] p = spec.split(":");
        if (p[0].equals("copy") || p[0].equals("read") || p[0].equals("copy2")) return ceiling(p[0], Integer.parseInt(p[1]));
        int[] shape = shape(p[0]);
        int n = 1;
        for (int d : shape) n *= d;
        Rng rng = new Rng(7);
        Tensor x = Tensor.of(gaussian(rng, n), shape), dy = Tensor.of(gaussian(rng, n), shape);
        Module m = module(p[0]);
        m.reuseOutputs(true);
        switch (p[1]) {
            case "train": m.train(); return () -> last = m.forward(x);
            case "eval": m.train(); m.forward(x); m.eval(); return () -> last = m.forward(x);
            case "bwd": m.train(); m.forward(x); return () -> last = m.backward(dy);
            default: throw new IllegalArgumentException("ScaleRunner: unknown op " + p[1]);
        }
    }

    /** Bits of the last output, hashed. */
    public static long checksum() {
        return Arrays.hashCode(last.data);
    }

    static volatile double sink;

    /** The bandwidth ceilings of one size on this build's pool: contiguous ranges, as the kernels split rows. */
    private static Runnable ceiling(String kind, int n) {
        float[] a = new float[n], b = new float[n], c = new float[n];
        Arrays.fill(a, 1f);
        Arrays.fill(c, 2f);
        int chunk = 1 << 14, chunks = (n + chunk - 1) / chunk;
        switch (kind) {
            case "copy":
                return () -> Parallel.forRange(chunks, 1, (lo, hi) -> {
                    int o = lo * chunk, e = Math.min(n, hi * chunk);
                    System.arraycopy(a, o, b, o, e - o);
                });
            case "copy2":
                return () -> Parallel.forRange(chunks, 1, (lo, hi) -> {
                    for (int i = lo * chunk, e = Math.min(n, hi * chunk); i < e; i++) b[i] = a[i] + c[i];
                });
            default: // Σ over four vector accumulators
                return () -> Parallel.forRange(chunks, 1, (lo, hi) -> {
                    jdk.incubator.vector.VectorSpecies<Float> sp = jdk.incubator.vector.FloatVector.SPECIES_PREFERRED;
                    int l = sp.length();
                    var s0 = jdk.incubator.vector.FloatVector.zero(sp);
                    var s1 = s0;
                    var s2 = s0;
                    var s3 = s0;
                    int i = lo * chunk, e = Math.min(n, hi * chunk);
                    for (; i + 4 * l <= e; i += 4 * l) {
                        s0 = s0.add(jdk.incubator.vector.FloatVector.fromArray(sp, a, i));
                        s1 = s1.add(jdk.incubator.vector.FloatVector.fromArray(sp, a, i + l));
                        s2 = s2.add(jdk.incubator.vector.FloatVector.fromArray(sp, a, i + 2 * l));
                        s3 = s3.add(jdk.incubator.vector.FloatVector.fromArray(sp, a, i + 3 * l));
                    }
                    sink = s0.add(s1).add(s2.add(s3)).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
                });
        }
    }
}
