package normlab.lab.evidence;

/**
 * One claim from the literature beside our measurement of it: what is claimed, who claimed it (paper and year), what
 * we measured (with the numbers), the verdict, and the rule that turned the numbers into the verdict.
 */
public record Claim(String claim, String source, String measurement, Verdict verdict, String rule) {}
