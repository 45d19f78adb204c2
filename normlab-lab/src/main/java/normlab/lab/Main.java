package normlab.lab;

import normlab.lab.cli.CliErrors;
import normlab.lab.cli.ExperimentCommands;
import normlab.lab.cli.Interrupts;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code normlab} command line: one entry point whose subcommands run the lab's experiments and tools
 * ({@link ExperimentCommands} adds them from the list of experiments).
 */
@Command(name = "normlab", mixinStandardHelpOptions = true, version = "normlab 0.1.0",
        description = "Batch Normalization and its descendants for the JVM: experiments, reports and model tools.",
        footer = {"", "Exit codes: 0 ok, 1 unexpected error (please report), 2 usage or bad option value, 3 bad input file or data, "
                + "4 cannot write the output, 130 interrupted. Errors are one line on stderr; NORMLAB_DEBUG=1 adds the stack trace "
                + "(docs/cli.md)."},
        modelTransformer = ExperimentCommands.class) // the subcommands, generated from the list of experiments
public final class Main implements Runnable {
    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }

    public static void main(String[] args) {
        // Charts are rendered off screen; never try to open a display.
        if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
        Interrupts.install(); // SIGINT/SIGTERM stop a run at a step boundary with its checkpoints saved
        System.exit(commandLine().execute(args));
    }

    /** The command line with the error handlers installed ({@link CliErrors}): what {@code main} runs, and tests. */
    public static CommandLine commandLine() {
        return CliErrors.install(new CommandLine(new Main()));
    }
}
