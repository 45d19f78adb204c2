/**
 * Figure 1 of the paper: the MNIST experiment with and without BatchNorm ({@link
 * normlab.lab.experiments.MnistExperiment}).
 */
package normlab.lab.experiments;
