/**
 * Training data: IDX files, MNIST and Fashion-MNIST fetched and cached ({@link normlab.data.Datasets}), image
 * datasets and their batch gathers ({@link normlab.data.Dataset}), and plain tensors ({@link
 * normlab.data.TensorDataset}).
 */
package normlab.data;
