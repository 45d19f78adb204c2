package normlab.lab.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import normlab.io.ModelFileException;
import picocli.CommandLine;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

/**
 * The CLI's error contract: every failure is one line on stderr, {@code normlab CMD: reason}, and a distinct exit code
 * ({@link #USAGE} 2, {@link #INPUT} 3, {@link #OUTPUT} 4, {@link #UNEXPECTED} 1, 130 interrupted; docs/cli.md). Commands
 * throw {@link Failure} for known failures; {@link #install} makes picocli route parse errors and exceptions here.
 * A stack trace is printed only with the environment variable {@code NORMLAB_DEBUG=1}.
 */
public final class CliErrors {
    public static final int UNEXPECTED = 1, USAGE = 2, INPUT = 3, OUTPUT = 4, INTERRUPTED = 130;

    private CliErrors() {}

    /** A known failure: its exit code and its one-line message (without the {@code normlab CMD:} prefix). */
    public static final class Failure extends RuntimeException {
        public final int code;

        public Failure(int code, String message) {
            super(message, null, false, false);
            this.code = code;
        }
    }

    public static Failure usage(String msg) { return new Failure(USAGE, msg); }

    public static Failure input(String msg) { return new Failure(INPUT, msg); }

    public static Failure output(String msg) { return new Failure(OUTPUT, msg); }

    /** Installs the handlers on {@code cl} (and, through picocli, its subcommands). */
    public static CommandLine install(CommandLine cl) {
        cl.setParameterExceptionHandler(CliErrors::onParameterError);
        cl.setExecutionExceptionHandler(CliErrors::onExecutionError);
        return cl;
    }

    static boolean debug() {
        String d = System.getenv("NORMLAB_DEBUG");
        return d != null && !d.isEmpty() && !d.equals("0");
    }

    private static String name(CommandLine cl) {
        return cl.getCommandSpec().qualifiedName();
    }

    private static int onParameterError(ParameterException ex, String[] args) {
        CommandLine cl = ex.getCommandLine();
        PrintWriter err = cl.getErr();
        String msg = String.valueOf(ex.getMessage()).replaceAll("\\s*\\R\\s*", " ").trim();
        err.println(name(cl) + ": " + msg + " (see " + name(cl) + " --help)");
        err.flush();
        return USAGE;
    }

    private static int onExecutionError(Exception ex, CommandLine cl, ParseResult parsed) {
        PrintWriter err = cl.getErr();
        Throwable t = ex;
        int code;
        String msg;
        if (t instanceof Failure f) {
            code = f.code;
            msg = f.getMessage();
        } else if (t instanceof InterruptedException) {
            Thread.currentThread().interrupt();
            code = INTERRUPTED;
            msg = "interrupted";
        } else if (t instanceof NoSuchFileException e) {
            code = INPUT;
            msg = e.getFile() + ": no such file";
        } else if (t instanceof ModelFileException) {
            code = INPUT;
            msg = oneLine(t.getMessage());
        } else if (t instanceof IllegalArgumentException) {
            code = USAGE;
            msg = oneLine(t.getMessage());
        } else if (t instanceof IOException) {
            code = OUTPUT;
            msg = describe((IOException) t);
        } else {
            code = UNEXPECTED;
            msg = "unexpected error: " + t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + oneLine(t.getMessage()))
                    + " (please report; NORMLAB_DEBUG=1 shows the stack trace)";
        }
        err.println(name(cl) + ": " + msg);
        if (debug()) ex.printStackTrace(err);
        err.flush();
        return code;
    }

    static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s*\\R\\s*", " ").trim();
    }

    /** An I/O exception as one line naming the file. */
    public static String describe(IOException e) {
        if (e instanceof FileSystemException f && f.getFile() != null && f.getReason() == null) {
            String why = e instanceof AccessDeniedException ? "permission denied" : e instanceof NoSuchFileException ? "no such file or directory"
                    : e.getClass().getSimpleName();
            return oneLine(e.getMessage()) + ": " + why;
        }
        return oneLine(e.getMessage());
    }

    /** Refuses an input file that is missing or not a regular file (exit 3). */
    public static void requireInputFile(Path p, String what) {
        if (!Files.exists(p)) throw input(p + ": " + what + " not found");
        if (!Files.isRegularFile(p)) throw input(p + ": " + what + " is not a regular file");
        if (!Files.isReadable(p)) throw input(p + ": " + what + " is not readable");
    }

    /** Refuses an output file that is a directory, exists without {@code force}, or whose directory is missing or read-only (exit 4). */
    public static void requireOutputFile(Path p, String option, boolean force) {
        if (Files.isDirectory(p)) throw output(option + " " + p + ": is a directory");
        if (Files.exists(p) && !force) throw output(option + " " + p + ": exists (--force overwrites it)");
        Path parent = p.toAbsolutePath().getParent();
        if (parent == null || !Files.isDirectory(parent)) throw output(option + " " + p + ": directory " + parent + " does not exist");
        if (!Files.isWritable(parent)) throw output(option + " " + p + ": directory " + parent + " is not writable");
    }

    /** Refuses a run directory that exists as a file or non-empty directory, or whose parent cannot be created or written (exit 4). */
    public static void requireNewRunDir(Path dir, String option) {
        if (Files.exists(dir) && !Files.isDirectory(dir)) throw output(option + " " + dir + ": exists and is not a directory");
        if (Files.isDirectory(dir)) {
            try (var s = Files.list(dir)) {
                if (s.findAny().isPresent()) throw output(option + " " + dir + ": exists and is not empty");
            } catch (IOException e) {
                throw output(option + " " + describe(e));
            }
            if (!Files.isWritable(dir)) throw output(option + " " + dir + ": not writable");
            return;
        }
        Path a = dir.toAbsolutePath().getParent();
        while (a != null && !Files.exists(a)) a = a.getParent();
        if (a == null || !Files.isDirectory(a)) throw output(option + " " + dir + ": " + a + " is not a directory");
        if (!Files.isWritable(a)) throw output(option + " " + dir + ": " + a + " is not writable");
    }

    /** Warns (one line) when {@code threads} exceeds the cores; refuses it when not positive. */
    public static void checkThreads(String cmd, int threads, java.io.PrintStream err) {
        if (threads <= 0) throw usage("--threads must be at least 1, got " + threads);
        int cores = Runtime.getRuntime().availableProcessors();
        if (threads > cores) err.println("normlab " + cmd + ": warning: --threads " + threads + " is more than the " + cores + " cores available");
    }

    /** Deletes {@code dir} if it exists and is empty (a run directory this command created and never wrote). */
    public static void removeIfEmpty(Path dir) {
        try (var s = Files.list(dir)) {
            if (s.findAny().isEmpty()) Files.deleteIfExists(dir);
        } catch (IOException ignored) {
            // nothing to clean up
        }
    }
}
