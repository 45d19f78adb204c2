/**
 * ONNX export of a model's inference function: {@link normlab.io.onnx.OnnxExport} drives the layer specs' emitters,
 * {@link normlab.io.onnx.OnnxGraph} writes the protobuf graph.
 */
package normlab.io.onnx;
