package normlab.lab.cli;

import normlab.lab.evidence.RunControl;
import sun.misc.Signal;

/**
 * SIGINT and SIGTERM for the command line ({@link normlab.lab.Main} installs them). While a run that can stop cleanly
 * is under way ({@link #active}), the first signal only asks it to stop ({@link RunControl#requestStop}): the training
 * threads end at their next step boundary and save their checkpoints, and the command's main thread writes the run's
 * state, prints one line and exits 130 itself, so the JVM never exits under a half-written checkpoint. A second signal
 * exits at once (130; every checkpoint write is atomic, so the previous checkpoint stands). With no such run, a signal
 * exits as the JVM's default would (128 + the signal's number).
 */
public final class Interrupts {
    private static volatile boolean active, installed;
    private static volatile int received;

    private Interrupts() {}

    /** Installs the handlers (once; silently not where the signals cannot be handled). */
    public static synchronized void install() {
        if (installed) return;
        installed = true;
        for (String name : new String[] {"INT", "TERM"}) {
            try {
                Signal.handle(new Signal(name), Interrupts::handle);
            } catch (IllegalArgumentException | UnsupportedOperationException ignored) {
                // the signal is not available here (or reserved): keep the JVM's default
            }
        }
    }

    /** Whether a stoppable run is under way (set by the commands around their training). */
    public static void active(boolean on) {
        active = on;
    }

    private static void handle(Signal s) {
        if (!active) {
            System.exit(128 + s.getNumber());
            return;
        }
        if (received++ > 0) Runtime.getRuntime().halt(CliErrors.INTERRUPTED);
        RunControl.requestStop();
    }
}
