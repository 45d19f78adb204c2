/**
 * The experiment contract ({@link normlab.lab.evidence.Experiment}: params, train, publish claims with verdicts),
 * the evidence experiments, and the HTML report that gathers them.
 */
package normlab.lab.evidence;
