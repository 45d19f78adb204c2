/**
 * Data-parallel training: {@link normlab.dist.Collective} (all-gather and all-reduce with a fixed rank-order
 * reduction, so results never depend on timing), its in-JVM implementation over threads
 * ({@link normlab.dist.ThreadCollective}) and over TCP between processes ({@link normlab.dist.TcpCollective}),
 * {@link normlab.dist.Replica} (one replica's synchronous step), and {@link normlab.dist.DataParallel}, K replicas of a model whose
 * BatchNorms become {@link normlab.norm.SyncBatchNorm}s, so K slices of a batch train as one process on the whole batch.
 */
package normlab.dist;
