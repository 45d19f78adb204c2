package normlab.fuzz;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.file.Path;
import normlab.io.ModelFileException;
import normlab.io.ModelFiles;

/**
 * Jazzer target for model descriptions ({@link ModelFiles#buildFromDescription}): anything but
 * {@link ModelFileException} fails. Runs as described in {@link SafetensorsFuzzTest}; inputs in
 * {@code ModelDescriptionFuzzTestInputs/build/}.
 */
class ModelDescriptionFuzzTest {
    private static final Path FILE = FuzzFiles.temp("json");

    @DictionaryEntries({"\"format\"", "\"normlab-model\"", "\"version\"", "\"model\"", "\"type\"", "\"args\"", "\"children\"",
        "\"Sequential\"", "\"Linear\"", "\"BatchNorm1d\"", "\"BatchNorm2d\"", "\"Conv2d\"", "\"GroupNorm\"", "\"LayerNorm\"",
        "\"in_features\"", "\"out_features\"", "\"num_features\"", "\"eps\"", "\"momentum\"", "null", "true", "false"})
    @FuzzTest(maxDuration = "60s")
    void build(byte[] bytes) {
        fuzzerTestOneInput(bytes);
    }

    public static void fuzzerTestOneInput(byte[] bytes) {
        FuzzFiles.readAll(FILE, bytes, ModelFileException.class, ModelFiles::buildFromDescription);
    }
}
