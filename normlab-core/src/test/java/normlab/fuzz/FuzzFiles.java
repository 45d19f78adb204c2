package normlab.fuzz;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** One scratch file per fuzz target and JVM, for readers that take a path; deleted on exit. */
final class FuzzFiles {
    private FuzzFiles() {}

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
