/**
 * Ready-made networks built from the engine: {@link normlab.models.MnistMlp} (the MLP of the paper's section 4.1,
 * with or without BatchNorm), {@link normlab.models.SmallCnn}, the CIFAR-style residual networks
 * {@link normlab.models.ResNet} (post- or pre-activation blocks, BN, GroupNorm or no norm) and {@link normlab.models.Vit}
 * (a small Vision Transformer).
 */
package normlab.models;
