/**
 * Files and the layer registry: safetensors, model files (weights with PyTorch's state-dict keys plus {@code
 * model.json}, {@link normlab.io.ModelFiles}), and one {@link normlab.io.LayerSpec} per layer type ({@link
 * normlab.io.LayerSpecs}) behind description, rebuilding, printing, folding and ONNX export ({@link
 * normlab.io.LayerTypes}).
 */
package normlab.io;
