/**
 * Inference-time rewrites: {@link normlab.infer.Fold} folds every eval-mode BatchNorm into the Linear/Conv2d before
 * it, {@link normlab.infer.Recalibrate} replaces running statistics by exact population statistics (PreciseBN).
 */
package normlab.infer;
