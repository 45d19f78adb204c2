import java.nio.file.*;
import java.util.Arrays;
import normlab.data.TensorDataset;
import normlab.infer.Fold;
import normlab.io.ModelFiles;
import normlab.nn.*;
import normlab.nn.Module; // not java.lang.Module
import normlab.norm.BatchNorm1d;
import normlab.optim.SGD;
import normlab.tensor.*;
import normlab.train.Trainer;

public class Quickstart {
    public static void main(String[] args) throws Exception {
        Rng rng = new Rng(1);
        int n = 2000, f = 20, k = 4; // generated data: class c raises features c, c+4, c+8, ...
        Tensor x = Tensor.zeros(n, f), y = Tensor.zeros(n);
        int[] labels = new int[n];
        for (int i = 0; i < n * f; i++) x.data[i] = (float) rng.nextGaussian() + (i % f % k == i / f % k ? 1.5f : 0);
        for (int i = 0; i < n; i++) y.data[i] = labels[i] = i % k;
        TensorDataset data = new TensorDataset(x, y);
        Module model = new Sequential(new Linear(f, 64, false, rng), new BatchNorm1d(64), new Activation.Sigmoid(), new Linear(64, k, rng));
        System.out.println(model);
        Trainer trainer = new Trainer(model, new SGD(model.parameters(), 0.5), data, new CrossEntropyLoss(), 50, rng);
        for (int step = 0; step < 300; step++) trainer.step();
        System.out.printf("loss %.4f, accuracy %.3f%n", Trainer.evaluate(model, data, new CrossEntropyLoss()),
                Trainer.countCorrect(model.eval().forward(x), labels) / (double) n);
        Module folded = Fold.fold(model); // each BatchNorm folded into the Linear before it
        Path file = Files.createTempDirectory("quickstart").resolve("model.safetensors");
        ModelFiles.save(folded, file); // the weights (PyTorch's state-dict keys) and model.json beside them
        float[] before = folded.eval().forward(x).data.clone(), after = ModelFiles.load(file).eval().forward(x).data;
        if (!Arrays.equals(before, after)) throw new AssertionError("the reloaded model gives other outputs");
        System.out.println("saved, reloaded, same outputs: " + file);
    }
}
