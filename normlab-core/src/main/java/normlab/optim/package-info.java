/**
 * Optimizers over {@link normlab.nn.Parameter}s: {@link normlab.optim.SGD} (momentum, Nesterov, weight decay) and
 * {@link normlab.optim.Adam}.
 */
package normlab.optim;
