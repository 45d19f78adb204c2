package normlab.lab.evidence;

import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * Where a sweep's runs train when not on this machine's threads (a Spark cluster: {@code --spark}). A command binds one
 * to its experiment and settings and sets it on its {@link RunControl.Session}; {@link Runs#sweep} then hands it the
 * keys of the sweep's runs ({@code run-000}, …) and the checkpoints the session holds (earlier sweeps' finished runs,
 * which a later sweep's settings may depend on, and interrupted ones). Each key comes back as the run's checkpoint
 * marked done, which {@link SweepWorker#train} produces; the sweep then resumes every run from it here, so results,
 * tables and charts are those of a local run (runs are seeded and bit-reproducible; only timings differ).
 */
public interface RemoteRuns {
    /**
     * Trains the runs {@code keys} to their end, starting from {@code checkpoints} (by key) where given; returns each
     * key's done checkpoint (bytes of a {@code .checkpoint.safetensors} file). A stop request ends it with
     * {@link RunControl.Stopped}.
     */
    Map<String, byte[]> train(List<String> keys, Map<String, byte[]> checkpoints) throws IOException;
}
