package normlab.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
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
        FuzzFiles.readAll(FILE, bytes, DataFormatException.class, Idx::readImages, Idx::readLabels);
    }
}
