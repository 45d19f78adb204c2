/**
 * The training loop ({@link normlab.train.Trainer}: step, fit with a listener, evaluate, the non-finite policy) on
 * image datasets or plain tensors with any loss, its seeded resumable batch order and crash-safe checkpoints.
 */
package normlab.train;
