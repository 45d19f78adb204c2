/**
 * The lab: the {@code normlab} command-line program ({@link normlab.lab.Main}) and the experiments behind it.
 */
package normlab.lab;
