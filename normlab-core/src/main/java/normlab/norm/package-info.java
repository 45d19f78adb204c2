/**
 * The normalization layers: BatchNorm1d/2d and their descendants (BatchRenorm, GhostBatchNorm, FrozenBatchNorm2d),
 * LayerNorm, GroupNorm, InstanceNorm1d/2d, RMSNorm, with PyTorch's defaults and state-dict keys.
 */
package normlab.norm;
