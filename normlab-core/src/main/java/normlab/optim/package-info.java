/**
 * Optimizers over {@link normlab.nn.Parameter}s: {@link normlab.optim.SGD} (momentum, Nesterov, weight decay) and
 * {@link normlab.optim.Adam} (and AdamW); {@link normlab.optim.LinearWarmup}, a learning-rate warm-up.
 */
package normlab.optim;
