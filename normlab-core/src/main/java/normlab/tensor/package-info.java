/**
 * Float32 arrays with a shape ({@link normlab.tensor.Tensor}), the seeded random generator ({@link
 * normlab.tensor.Rng}) and the shape error every layer throws.
 */
package normlab.tensor;
