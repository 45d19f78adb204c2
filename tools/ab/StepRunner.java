import normlab.data.Dataset;
import normlab.data.Datasets;
import normlab.kernels.Parallel;
import normlab.nn.Activation;
import normlab.nn.Conv2d;
import normlab.nn.CrossEntropyLoss;
import normlab.nn.Flatten;
import normlab.nn.Linear;
import normlab.nn.MaxPool2d;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.norm.BatchNorm2d;
import normlab.norm.GroupNorm;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import normlab.models.MnistMlp;
import normlab.train.Trainer;

/**
 * One workload of {@link ABStep}, loaded once per class loader (so once per build); {@link #run} is one unit of it, on
 * one kernel thread: {@code step}/{@code stepbn} one Trainer step of the paper's MLP (after 500 warm-up steps),
 * {@code eval}/{@code evalbn} one evaluation of that MLP on the MNIST test set, {@code cnnbn}/{@code cnngn} one training
 * step of the peer comparison's small CNN on a fixed random batch of 64. One kernel thread, or T for "MODE@T".
 */
public class StepRunner implements Runnable {
    private final Runnable unit;
    private final Module model;

    public StepRunner(String mode) throws Exception {
        // "MODE@T": T kernel threads (this build's own pool, in its class loader)
        int at = mode.indexOf('@');
        Parallel.setThreads(at < 0 ? 1 : Integer.parseInt(mode.substring(at + 1)));
        if (at >= 0) mode = mode.substring(0, at);
        if (mode.startsWith("cnn")) {
            Rng rng = new Rng(2);
            boolean bn = mode.endsWith("bn");
            Module n1 = bn ? new BatchNorm2d(32) : new GroupNorm(8, 32), n2 = bn ? new BatchNorm2d(64) : new GroupNorm(8, 64);
            Sequential m = new Sequential(new Conv2d(1, 32, 3, 1, 1, 1, 1, true, rng), n1, new Activation.ReLU(), new MaxPool2d(2),
                    new Conv2d(32, 64, 3, 1, 1, 1, 1, true, rng), n2, new Activation.ReLU(), new MaxPool2d(2),
                    new Flatten(), new Linear(64 * 7 * 7, 10, rng));
            Tensor x = Tensor.zeros(64, 1, 28, 28);
            for (int i = 0; i < x.data.length; i++) x.data[i] = (float) rng.nextGaussian();
            int[] labels = new int[64];
            for (int i = 0; i < labels.length; i++) labels[i] = rng.nextInt(10);
            SGD opt = new SGD(m.parameters(), 0.01);
            CrossEntropyLoss loss = new CrossEntropyLoss();
            m.train();
            m.reuseOutputs(true);
            unit = () -> {
                m.zeroGrad();
                loss.forward(m.forward(x), labels);
                m.backwardParams(loss.backward());
                opt.step();
            };
            model = m;
        } else {
            Dataset train = Datasets.mnist(true), test = mode.startsWith("eval") ? Datasets.mnist(false) : null;
            Rng root = new Rng(1), init = root.split(), shuffle = root.split();
            Sequential m = MnistMlp.build(mode.endsWith("bn"), 0.01, init);
            Trainer t = new Trainer(m, new SGD(m.parameters(), 0.1), train, 60, shuffle, true);
            for (int i = 0; i < 500; i++) t.step();
            unit = test == null ? t::step : () -> Trainer.evaluate(m, test, true, null);
            model = m;
        }
        for (int i = 0; i < 20; i++) unit.run();
    }

    @Override
    public void run() {
        unit.run();
    }

    /** A weight that both builds must agree on if they compute the same bits. */
    @Override
    public String toString() {
        float[] w = model.parameters().get(model.parameters().size() - 2).value.data;
        return "w[last-1][0]=" + w[0];
    }
}
