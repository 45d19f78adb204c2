package normlab.lab;

import normlab.lab.cli.EvidenceCommands;
import normlab.lab.cli.ExportCommand;
import normlab.lab.cli.FoldCommand;
import normlab.lab.cli.MnistCommand;
import normlab.lab.cli.RecalibrateCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code normlab} command line: one entry point whose subcommands run the lab's experiments and tools. */
@Command(name = "normlab", mixinStandardHelpOptions = true, version = "normlab 0.1.0",
        description = "Batch Normalization and its descendants for the JVM: experiments, reports and model tools.",
        subcommands = {MnistCommand.class, FoldCommand.class, RecalibrateCommand.class, ExportCommand.class,
            EvidenceCommands.LrSweepCmd.class,
            EvidenceCommands.InitSweepCmd.class, EvidenceCommands.BatchSweepCmd.class, EvidenceCommands.ShiftCmd.class,
            EvidenceCommands.DropoutCmd.class, EvidenceCommands.LandscapeCmd.class, EvidenceCommands.ZooCmd.class,
            EvidenceCommands.ReportCmd.class, EvidenceCommands.ReproduceCmd.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }

    public static void main(String[] args) {
        // Charts are rendered off screen; never try to open a display.
        if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
        System.exit(new CommandLine(new Main()).execute(args));
    }
}
