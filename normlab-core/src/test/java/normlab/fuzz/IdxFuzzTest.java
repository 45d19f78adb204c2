package normlab.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import normlab.data.DataFormatException;
import normlab.data.Idx;

/**
 * Jazzer target for the IDX reader ({@link Idx#readImages}, {@link Idx#readLabels}; raw and gzip): anything but
 * {@link DataFormatException} fails. Runs as described in {@link SafetensorsFuzzTest}; inputs in
 * {@code IdxFuzzTestInputs/read/}.
 */
class IdxFuzzTest {
    private static final Path FILE = FuzzFiles.temp("idx");

    @FuzzTest(maxDuration = "60s")
    void read(byte[] bytes) {
        fuzzerTestOneInput(bytes);
    }

    public static void fuzzerTestOneInput(byte[] bytes) {
        try {
            Files.write(FILE, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            Idx.readImages(FILE);
        } catch (DataFormatException expected) {
            // documented
        } catch (IOException e) {
            throw new AssertionError("undocumented I/O error for an existing file", e);
        }
        try {
            Idx.readLabels(FILE);
        } catch (DataFormatException expected) {
            // documented
        } catch (IOException e) {
            throw new AssertionError("undocumented I/O error for an existing file", e);
        }
    }
}
