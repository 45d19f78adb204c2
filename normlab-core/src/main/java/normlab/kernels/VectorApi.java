package normlab.kernels;

/**
 * Whether the Vector API module ({@code jdk.incubator.vector}) is in the boot layer. Without it the kernels fail with a
 * bare {@code NoClassDefFoundError} at their first use; {@link #require()}, called when the first layer or dataset is
 * made, says instead what to do, in one line.
 */
public final class VectorApi {
    /** The one-line message of {@link MissingError}. */
    public static final String MESSAGE = "normlab needs the Vector API module: run java with --add-modules "
            + "jdk.incubator.vector (and javac with the same flag)";

    private static final boolean PRESENT = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

    private VectorApi() {}

    /** Whether {@code jdk.incubator.vector} is available. */
    public static boolean present() {
        return PRESENT;
    }

    /** Throws {@link MissingError} unless the Vector API module is available. */
    public static void require() {
        if (!PRESENT) throw new MissingError();
    }

    /**
     * The Vector API module is missing. An {@code Error} (like the {@code NoClassDefFoundError} it replaces) without a
     * stack trace, so an uncaught one prints as a single line naming the flag.
     */
    public static final class MissingError extends Error {
        MissingError() {
            super(MESSAGE, null, false, false);
        }
    }
}
