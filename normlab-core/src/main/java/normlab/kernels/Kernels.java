package normlab.kernels;

/**
 * Process-wide kernel switches. {@code simd()} selects the Vector API paths (default) or the scalar reference loops
 * (system property {@code normlab.simd=false}, or {@link #setSimd}); the tests run both and compare.
 */
public final class Kernels {
    private static volatile boolean simd = !"false".equals(System.getProperty("normlab.simd"));

    private Kernels() {}

    public static boolean simd() {
        return simd;
    }

    /** Selects SIMD (true) or the scalar reference path (false). Returns the previous setting. */
    public static boolean setSimd(boolean on) {
        boolean old = simd;
        simd = on;
        return old;
    }
}
