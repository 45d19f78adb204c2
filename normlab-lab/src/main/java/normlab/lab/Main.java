package normlab.lab;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code normlab} command line: one entry point whose subcommands run the lab's experiments and tools. */
@Command(name = "normlab", mixinStandardHelpOptions = true, version = "normlab 0.1.0",
        description = "Batch Normalization and its descendants for the JVM: experiments, reports and model tools.",
        subcommands = {CommandLine.HelpCommand.class, ExportCommand.class})
public final class Main implements Runnable {
    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new Main()).execute(args));
    }
}
