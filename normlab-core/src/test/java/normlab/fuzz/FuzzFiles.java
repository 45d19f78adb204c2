package normlab.fuzz;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** One scratch file per fuzz target and JVM, for readers that take a path; deleted on exit. */
final class FuzzFiles {
    private FuzzFiles() {}

    /** A reader of a path that may throw only {@code documented} (besides I/O errors, which fail the target). */
    @FunctionalInterface
    interface Reader {
        void read(Path p) throws IOException;
    }

    /**
     * Writes {@code bytes} to {@code file} and runs each reader on it: {@code documented} is the expected outcome of a
     * bad input; any other I/O error on an existing file fails the target (so do unchecked exceptions, by escaping).
     */
    static void readAll(Path file, byte[] bytes, Class<? extends IOException> documented, Reader... readers) {
        try {
            Files.write(file, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        for (Reader r : readers) {
            try {
                r.read(file);
            } catch (IOException e) {
                if (!documented.isInstance(e)) throw new AssertionError("undocumented I/O error for an existing file", e);
            }
        }
    }

    static Path temp(String suffix) {
        try {
            Path dir = Files.isDirectory(Path.of("/dev/shm")) ? Path.of("/dev/shm") : Path.of(System.getProperty("java.io.tmpdir"));
            Path f = Files.createTempFile(dir, "normlab-fuzz-", "." + suffix);
            f.toFile().deleteOnExit();
            return f;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
