package normlab.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The README's library example is examples/quickstart/src/main/java/Quickstart.java, character for character
 * (tools/check-quickstart.sh compiles and runs that project against the installed artifacts).
 */
class ReadmeQuickstartTest {
    @Test
    void readmeBlockIsTheExampleProject() throws Exception {
        Path root = Path.of("..").toAbsolutePath().normalize();
        String readme = Files.readString(root.resolve("README.md"));
        int section = readme.indexOf("\n## Use it as a library\n");
        int from = readme.indexOf("```java\n", section) + "```java\n".length();
        String block = readme.substring(from, readme.indexOf("```\n", from));
        assertEquals(Files.readString(root.resolve("examples/quickstart/src/main/java/Quickstart.java")), block);
    }
}
