/**
 * Attention blocks above {@code nn} and {@code norm}: {@link normlab.transformer.TransformerEncoderLayer} (PyTorch's
 * names and structure, post- or pre-norm, LayerNorm, RMSNorm or BatchNorm). Multi-head attention itself is
 * {@link normlab.nn.MultiheadAttention}.
 */
package normlab.transformer;
