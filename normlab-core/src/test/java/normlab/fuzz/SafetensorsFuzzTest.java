package normlab.fuzz;

import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import normlab.io.ModelFileException;
import normlab.io.Safetensors;

/**
 * Coverage-guided fuzzing of {@link Safetensors#decode} with Jazzer: any exception other than
 * {@link ModelFileException} — or an Error such as OutOfMemoryError from a size not checked before allocating —
 * fails the target. Both reads are exercised, with and without a required checksum.
 *
 * <p>How it runs: the default {@code mvn test} excludes {@code *FuzzTest} classes (attaching the Jazzer agent costs
 * more than the whole parser suite) and {@link FuzzCorpusReplayTest} replays the committed inputs in
 * {@code src/test/resources/normlab/fuzz/SafetensorsFuzzTestInputs/decode/} without it. {@code .ci/run} fuzzes each target
 * for {@code maxDuration} with {@code JAZZER_FUZZ=1 mvn test -Dtest=SafetensorsFuzzTest}; {@code tools/fuzz.sh} runs the
 * same target for as long as asked. A finding is saved next to the seeds and replayed by every later test run.
 */
class SafetensorsFuzzTest {
    @DictionaryEntries({"\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"", "\"normlab.crc32c\"",
        "\"F32\"", "\"F64\"", "\"I64\"", "\"I32\"", "[0,4]", "{\"", "\":{", "\"},"})
    @FuzzTest(maxDuration = "60s")
    void decode(byte[] bytes) {
        fuzzerTestOneInput(bytes);
    }

    /** The target, also as Jazzer's standalone entry point (used by tools/fuzz.sh). */
    public static void fuzzerTestOneInput(byte[] bytes) {
        for (boolean requireChecksum : new boolean[] {false, true}) {
            try {
                Safetensors.decode(bytes, "fuzz", requireChecksum);
            } catch (ModelFileException expected) {
                // documented: the file is malformed
            }
        }
    }
}
