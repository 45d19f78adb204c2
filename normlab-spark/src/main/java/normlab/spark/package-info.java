/**
 * normlab on Apache Spark: {@link normlab.spark.SparkRecalibrate}, PreciseBN over data partitioned across executors
 * (per-partition moments merged by a {@code treeAggregate}), and {@link normlab.spark.SparkDataParallel}, data-parallel
 * training with SyncBatchNorm across barrier tasks over a {@link normlab.dist.TcpCollective}. {@link normlab.spark.Spark} builds the session's
 * configuration so the Vector API module reaches the executors.
 */
package normlab.spark;
