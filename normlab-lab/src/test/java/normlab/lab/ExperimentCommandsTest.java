package normlab.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import normlab.lab.evidence.Experiment;
import normlab.lab.evidence.Experiments;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The subcommands generated from the list of experiments: one per experiment, in the help's order, refusing bad values in one line. */
class ExperimentCommandsTest {
    @Test
    void everyExperimentHasItsCommandWithItsHelp() {
        CommandLine cl = new CommandLine(new Main());
        List<String> names = List.copyOf(cl.getSubcommands().keySet());
        assertEquals(List.of("mnist", "fold", "recalibrate", "export", "bench-infer", "lr-sweep", "init-sweep", "batch-sweep", "batch-stats", "shift", "dropout",
                "depth", "placement", "landscape", "zoo", "resnet", "rnn", "transformer", "paper-4-2", "regularization", "contrast", "report", "reproduce", "help"), names);
        for (Experiment<?, ?> e : Experiments.ALL) {
            String[] description = cl.getSubcommands().get(e.name()).getCommandSpec().usageMessage().description();
            assertEquals(e.help(), List.of(description), e.name());
        }
        for (String n : List.of("lr-sweep", "zoo", "reproduce")) {
            assertTrue(cl.getSubcommands().get(n).getCommandSpec().findOption("--seeds") != null, n);
        }
        // An experiment's own options are options of its command, with their defaults in the help.
        for (Experiment<?, ?> e : Experiments.ALL) {
            for (Experiment.Option o : e.options()) {
                var spec = cl.getSubcommands().get(e.name()).getCommandSpec().findOption(o.name());
                assertEquals(o.defaultValue(), spec.defaultValue(), e.name() + " " + o.name());
            }
        }
        assertEquals(List.of("--order", "--chunk"), Experiments.ALL.stream().filter(e -> e.name().equals("rnn")).findFirst().orElseThrow()
                .options().stream().map(Experiment.Option::name).toList());
    }

    @Test
    void badValuesAreOneLineAndExitTwo() {
        for (String[] args : List.of(new String[] {"zoo", "--seeds", "0"}, new String[] {"dropout", "--threads", "0"},
                new String[] {"reproduce", "--all", "--seeds", "0"})) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            assertEquals(2, MnistEndToEndTest.run(out, args), String.join(" ", args));
            String text = out.toString(StandardCharsets.UTF_8).replaceAll("(?m)^WARNING.*\\R", "");
            assertEquals(1, text.lines().count(), text);
            assertTrue(text.startsWith("normlab " + args[0] + ": --"), text);
        }
        for (String[] c : List.of(new String[] {"--chunk", "5", "normlab rnn: --chunk must be a number of pixels per step dividing 784 (28: 28 steps, 4: 196 steps), got 5"},
                new String[] {"--chunk", "x", "normlab rnn: --chunk must be a whole number of pixels per step dividing 784 (28: 28 steps, 4: 196 steps), got 'x'"},
                new String[] {"--order", "cols", "normlab rnn: --order must be rows or permuted, got 'cols'"})) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            assertEquals(2, MnistEndToEndTest.run(out, "rnn", "--quick", c[0], c[1]), c[0] + " " + c[1]);
            assertEquals(c[2], out.toString(StandardCharsets.UTF_8).replaceAll("(?m)^WARNING.*\\R", "").strip());
        }
        ByteArrayOutputStream bad = new ByteArrayOutputStream();
        assertEquals(2, MnistEndToEndTest.run(bad, "resnet", "--quick", "--protocol", "huge"));
        assertEquals("normlab resnet: --protocol must be standard or lean, got 'huge'", bad.toString(StandardCharsets.UTF_8).replaceAll("(?m)^WARNING.*\\R", "").strip());
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(2, MnistEndToEndTest.run(out, "lr-sweep", "--bogus"));
        assertEquals("normlab lr-sweep: Unknown option: '--bogus' (see normlab lr-sweep --help)", out.toString(StandardCharsets.UTF_8).strip());
    }
}
