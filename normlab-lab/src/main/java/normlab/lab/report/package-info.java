/**
 * Figure 1's charts and its section of the report.
 */
package normlab.lab.report;
