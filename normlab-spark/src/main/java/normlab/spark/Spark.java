package normlab.spark;

import org.apache.spark.SparkConf;

/**
 * The Spark configuration normlab needs: executors are JVMs that run normlab's kernels, so the incubator Vector API
 * module must be on their command line ({@code spark.executor.extraJavaOptions}); in {@code local[N]} the executors
 * live in the driver's JVM, which must have been started with the same option. Spark 4.0 on Java 17 needs no
 * {@code --add-opens} flags when embedded this way (its tests run under plain surefire).
 */
public final class Spark {
    /** The JVM option that adds the Vector API module. */
    public static final String VECTOR_OPTION = "--add-modules jdk.incubator.vector";

    private Spark() {}

    /** A configuration for {@code master} (e.g. {@code local[2]}, {@code spark://host:7077}) named {@code appName}. */
    public static SparkConf conf(String master, String appName) {
        if (master == null || master.isBlank()) throw new IllegalArgumentException("spark: master must not be empty (e.g. local[2])");
        SparkConf conf = new SparkConf()
                .setMaster(master)
                .setAppName(appName)
                .set("spark.executor.extraJavaOptions", VECTOR_OPTION)
                .set("spark.ui.enabled", "false");
        // local[N]: driver and executors are one JVM; keep its RPC and block manager on the loopback address
        if (master.startsWith("local")) conf.set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1");
        return conf;
    }
}
