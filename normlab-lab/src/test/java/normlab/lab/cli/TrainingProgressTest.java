package normlab.lab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The status line: each network's own steps, no ETA before the rate settles, never wider than the terminal. */
class TrainingProgressTest {
    static Map<String, Integer> steps(int base, int bn) {
        Map<String, Integer> m = new LinkedHashMap<>();
        m.put("baseline", base);
        m.put("bn", bn);
        return m;
    }

    @Test
    void countsEachNetworksOwnSteps() {
        String l = TrainingProgress.line(steps(3000, 3000), Map.of("bn", 0.97), 3000, 30, 200);
        assertTrue(l.contains("baseline 3,000/3,000"), l);
        assertTrue(l.contains("bn 3,000/3,000 acc 0.9700"), l);
        assertFalse(l.contains("6,000"), l);
    }

    @Test
    void hidesTheEtaUntilTheRateSettles() {
        assertFalse(TrainingProgress.line(steps(100, 100), Map.of(), 3000, 10, 200).contains("ETA"), "< 5 % done");
        assertFalse(TrainingProgress.line(steps(1000, 1000), Map.of(), 3000, 1, 200).contains("ETA"), "< 2 s");
        assertTrue(TrainingProgress.line(steps(1000, 1500), Map.of(), 3000, 10, 200).contains("ETA 0:20"));
    }

    @Test
    void truncatesToTheTerminalWidth() {
        for (int w : new int[] {20, 40, 80}) {
            assertTrue(TrainingProgress.line(steps(1000, 1500), Map.of("baseline", 0.5, "bn", 0.9), 60000, 10, w).length() <= w - 1);
        }
    }

    @Test
    void redrawsInPlaceOnATerminalAndLogsPlainLinesOtherwise() {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (TrainingProgress p = new TrainingProgress(100, new PrintStream(b, true, StandardCharsets.UTF_8), true, 40)) {
            p.onStep("baseline", 1);
        }
        String s = b.toString(StandardCharsets.UTF_8);
        assertTrue(s.startsWith("\r") && s.contains("\033[K"), s);
        for (String seg : s.split("\r")) assertTrue(seg.replace("\033[K", "").strip().length() <= 39, seg);
        assertEquals(1, s.chars().filter(c -> c == '\n').count(), "one newline, at the end");
    }
}
