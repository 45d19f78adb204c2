/**
 * Ready-made networks built from the engine: {@link normlab.models.MnistMlp} (the MLP of the paper's section 4.1,
 * with or without BatchNorm), {@link normlab.models.SmallCnn} and the CIFAR-style residual networks
 * {@link normlab.models.ResNet} (post- or pre-activation blocks, BN, GroupNorm or no norm).
 */
package normlab.models;
