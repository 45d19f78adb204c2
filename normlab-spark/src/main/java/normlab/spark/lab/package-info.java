/**
 * The lab on Spark: {@link normlab.spark.lab.SparkLabBackend}, the backend of the lab's {@code --spark} option (a
 * {@link java.util.ServiceLoader} service of {@link normlab.lab.cli.SparkBackend}): sweep runs as Spark tasks, each
 * returning its done checkpoint, and {@code recalibrate} over rows partitioned across the executors.
 */
package normlab.spark.lab;
