package normlab.kernels;

/**
 * Process-wide kernel switches. {@code simd()} selects the Vector API paths (default) or the scalar reference loops
 * (system property {@code normlab.simd=false}, or {@link #setSimd}); the tests run both and compare. The
 * normalization kernels are chosen here once per switch, as implementations ({@link #channel()}, {@link #group()});
 * the other kernels read {@link #simd()}.
 */
public final class Kernels {
    private static volatile boolean simd = !"false".equals(System.getProperty("normlab.simd"));
    private static volatile ChannelKernels channel;
    private static volatile GroupKernels group;

    static {
        select(simd);
    }

    private Kernels() {}

    public static boolean simd() {
        return simd;
    }

    /** The per-channel (N, C, S) kernels in use: BatchNorm, BatchRenorm, GhostBatchNorm. */
    public static ChannelKernels channel() {
        return channel;
    }

    /** The per-group (A, P, G, Q) kernels in use: LayerNorm, GroupNorm, InstanceNorm, RMSNorm. */
    public static GroupKernels group() {
        return group;
    }

    /**
     * A per-thread scratch array of at least {@code size} floats (grown, never shrunk; contents are whatever the last
     * user left): kernel workspaces that must not be allocated on every call.
     */
    public static float[] workspace(ThreadLocal<float[]> tl, int size) {
        float[] w = tl.get();
        if (w.length < size) {
            w = new float[size];
            tl.set(w);
        }
        return w;
    }

    /** Selects SIMD (true) or the scalar reference path (false). Returns the previous setting. */
    public static boolean setSimd(boolean on) {
        boolean old = simd;
        simd = on;
        select(on);
        return old;
    }

    private static void select(boolean on) {
        channel = on ? SimdChannelKernels.INSTANCE : ScalarChannelKernels.INSTANCE;
        group = on ? SimdGroupKernels.INSTANCE : ScalarGroupKernels.INSTANCE;
    }
}
