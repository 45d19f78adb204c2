/**
 * The {@code normlab} CLI (picocli): one subcommand per experiment, generated from the experiment list, plus the
 * model-file tools and the report.
 */
package normlab.lab.cli;
