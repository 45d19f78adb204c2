/**
 * Ready-made networks built from the engine: {@link normlab.models.MnistMlp} (the MLP of the paper's section 4.1,
 * with or without BatchNorm) and {@link normlab.models.SmallCnn}.
 */
package normlab.models;
