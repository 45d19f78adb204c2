/**
 * The module contract ({@link normlab.nn.Module}: forward, backward, parameters, buffers, state dict, train/eval)
 * and the non-normalization layers ({@code Linear}, {@code Conv2d}, pools, activations, {@code MultiheadAttention},
 * {@code Sequential}, {@code Residual}); the losses ({@link normlab.nn.Loss}: {@code CrossEntropyLoss}, {@code MSELoss}). Import the classes
 * by name: {@code normlab.nn.Module} clashes with {@code java.lang.Module} under a wildcard import.
 */
package normlab.nn;
