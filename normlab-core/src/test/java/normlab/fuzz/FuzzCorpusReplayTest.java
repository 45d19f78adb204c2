package normlab.fuzz;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Replays every committed fuzz input (seeds and past findings) of every Jazzer target as an ordinary test, without the
 * Jazzer agent, so the default {@code mvn test} keeps them as regression tests at no cost. Each target throws only its
 * documented exception types, so any other exception fails the replay.
 */
class FuzzCorpusReplayTest {
    record Target(String dir, Consumer<byte[]> body) {}

    static final List<Target> TARGETS = List.of(
            new Target("SafetensorsFuzzTestInputs/decode", SafetensorsFuzzTest::fuzzerTestOneInput),
            new Target("IdxFuzzTestInputs/read", IdxFuzzTest::fuzzerTestOneInput),
            new Target("ModelDescriptionFuzzTestInputs/build", ModelDescriptionFuzzTest::fuzzerTestOneInput));

    @TestFactory
    Stream<DynamicTest> replayCommittedInputs() throws IOException, URISyntaxException {
        Stream<DynamicTest> all = Stream.empty();
        for (Target t : TARGETS) {
            var url = FuzzCorpusReplayTest.class.getResource(t.dir());
            assertTrue(url != null, "no committed inputs for " + t.dir());
            List<Path> files;
            try (Stream<Path> s = Files.list(Path.of(url.toURI()))) {
                files = s.sorted().toList();
            }
            assertTrue(!files.isEmpty(), "no committed inputs in " + t.dir());
            all = Stream.concat(all, files.stream().map(f -> DynamicTest.dynamicTest(t.dir() + "/" + f.getFileName(),
                    () -> t.body().accept(Files.readAllBytes(f)))));
        }
        return all;
    }
}
