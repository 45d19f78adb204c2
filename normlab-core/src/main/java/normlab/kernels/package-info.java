/**
 * Plain static kernels on flat arrays (GEMM, im2col, elementwise, the normalization families), each a scalar
 * reference and a Vector API implementation chosen once by {@link normlab.kernels.Kernels}; {@link
 * normlab.kernels.Parallel} runs them on a fixed pool with results independent of the thread count. Needs {@code
 * --add-modules jdk.incubator.vector} ({@link normlab.kernels.VectorApi}).
 */
package normlab.kernels;
