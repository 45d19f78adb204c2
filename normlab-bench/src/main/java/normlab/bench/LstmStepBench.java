package normlab.bench;

import normlab.kernels.Parallel;
import normlab.nn.Module;
import normlab.rnn.LSTM;
import normlab.rnn.NormLSTM;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.openjdk.jmh.annotations.*;

/**
 * JMH: forward + backward through time of one LSTM layer on a sequential-MNIST-sized batch, N = 64, T = 28, 28 inputs,
 * H = 128 (dL/dy fixed), for the plain cell and the normalized ones ({@code none}, {@code layer}, {@code batch}; the
 * shared-statistics BN cell trains with the same arithmetic as {@code batch}). Parameter gradients accumulate across
 * calls (no optimizer step), which costs nothing extra.
 */
public class LstmStepBench extends Bench {
    @Param({"none", "layer", "batch"})
    public String norm;

    @Param({"1", "2"})
    public int threads;

    static final int N = 64, T = 28, IN = 28, H = 128;
    Module cell;
    Tensor x, dy;

    @Setup
    public void setup() {
        Parallel.setThreads(threads);
        Rng rng = new Rng(1);
        cell = norm.equals("none") ? new LSTM(IN, H, rng) : new NormLSTM(NormLSTM.Kind.of(norm), IN, H, T, true, rng);
        x = Tensor.of(gaussian(rng, N * T * IN), N, T, IN);
        dy = Tensor.of(gaussian(rng, N * T * H), N, T, H);
        cell.train();
    }

    @Benchmark
    public Tensor step() {
        cell.forward(x);
        return cell.backward(dy);
    }
}
