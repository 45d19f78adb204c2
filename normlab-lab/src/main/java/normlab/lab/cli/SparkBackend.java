package normlab.lab.cli;

import java.util.List;
import java.util.ServiceLoader;
import java.util.regex.Pattern;
import normlab.infer.Recalibrate;
import normlab.lab.evidence.RemoteRuns;
import normlab.lab.evidence.Settings;
import normlab.nn.Module;
import normlab.tensor.Tensor;

/**
 * What {@code --spark [MASTER]} runs on: an Apache Spark backend found on the class path through
 * {@link ServiceLoader} (module normlab-spark, which {@code ./normlab-on-spark} and the {@code spark-submit} jar carry).
 * {@code ./normlab} and its jar leave Spark's ~230 MB out, so there {@code --spark} is a one-line error naming the
 * launcher that has it.
 */
public interface SparkBackend {
    /** Connects to {@code master} (a Spark master URL, checked by {@link #master}); the application is named {@code app}. */
    Cluster connect(String master, String app);

    /** A running Spark application; closing it stops the Spark context. */
    interface Cluster extends AutoCloseable {
        /** The runs of {@code experiment}'s sweeps with settings {@code s}, one Spark task per run. */
        RemoteRuns runs(String experiment, Settings s);

        /**
         * PreciseBN over the samples of {@code batches} partitioned across the executors: every BatchNorm of {@code model}
         * gets the exact statistics of its inputs (as {@link Recalibrate#run}), layer by layer in forward order.
         */
        List<Recalibrate.LayerStats> recalibrate(Module model, List<Tensor> batches);

        @Override
        void close();
    }

    /** A master URL Spark accepts (its syntax; whether it is reachable shows when connecting). */
    Pattern MASTER = Pattern.compile("local(\\[(\\*|[1-9][0-9]*)(,[0-9]+)?])?|local-cluster\\[[1-9][0-9]*,[1-9][0-9]*,[1-9][0-9]*]"
            + "|spark://[^\\s/:]+(:[0-9]+)?(,[^\\s/:]+(:[0-9]+)?)*|yarn|k8s://\\S+|mesos://\\S+");

    /**
     * Checks {@code --spark}'s value as picocli parses it, so a word taken for the master (an option value is optional)
     * is named before any other error: one that is no master URL is refused, naming it.
     */
    final class MasterOption implements picocli.CommandLine.ITypeConverter<String> {
        @Override
        public String convert(String value) {
            if (value.isEmpty() || MASTER.matcher(value).matches()) return value;
            throw new picocli.CommandLine.TypeConversionException("'" + value + "' is not a Spark master (local[N], local[*], spark://HOST:PORT, "
                    + "yarn, k8s://URL); write --spark=MASTER or put --spark after the other arguments");
        }
    }

    /**
     * The master {@code --spark} names: {@code given}, or with no value the master spark-submit set
     * ({@code spark.master}), else {@code local[localThreads]}. A value that is not a master URL is a usage error.
     */
    static String master(String given, int localThreads) {
        if (given == null || given.isEmpty()) {
            String submitted = System.getProperty("spark.master");
            return submitted != null && !submitted.isEmpty() ? submitted : "local[" + localThreads + "]";
        }
        if (!MASTER.matcher(given).matches()) {
            throw CliErrors.usage("--spark " + given + ": not a Spark master (local[N], local[*], spark://HOST:PORT, yarn, k8s://URL); "
                    + "write --spark=MASTER or put --spark after the other arguments");
        }
        return given;
    }

    /** The backend on the class path, else a usage error for {@code command} saying where --spark is available. */
    static SparkBackend find(String command) {
        for (SparkBackend b : ServiceLoader.load(SparkBackend.class)) return b;
        throw CliErrors.usage("--spark needs the Spark backend (module normlab-spark), which ./normlab leaves out; run "
                + "./normlab-on-spark " + command + " … --spark instead (or spark-submit normlab-spark/target/normlab-spark.jar)");
    }

    /** {@link #find} then {@link #connect}, refusing a bad master first. */
    static Cluster open(String command, String given, int localThreads) {
        String master = master(given, localThreads);
        return find(command).connect(master, "normlab " + command);
    }
}
