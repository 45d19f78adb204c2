package normlab.train;

import normlab.models.MnistMlp;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import normlab.data.Dataset;
import normlab.nn.Module;
import normlab.optim.SGD;
import normlab.tensor.Rng;

/**
 * The run that {@link CheckpointTest} kills: resumes from {@code <dir>/ckpt.safetensors} if it exists, then trains one
 * step at a time, checkpointing after each — printing {@code saving <step>} before and {@code saved <step> <µs>} after —
 * until killed or {@code maxSteps}.
 * Also the factory of the run itself, so the parent builds exactly the same trainer.
 */
public final class CheckpointChild {
    static final int N = 300, ROWS = 28, COLS = 28, CLASSES = 10, BATCH = 60;

    /** A synthetic 28×28, 10-class dataset, fixed by its seed. */
    static Dataset data() {
        Rng rng = new Rng(4242);
        float[] img = new float[N * ROWS * COLS];
        int[] labels = new int[N];
        for (int i = 0; i < N; i++) {
            labels[i] = rng.nextInt(CLASSES);
            for (int j = 0; j < ROWS * COLS; j++) {
                img[i * ROWS * COLS + j] = (float) (rng.nextDouble() + (j % CLASSES == labels[i] ? 0.5 : 0));
            }
        }
        return new Dataset("synthetic", img, labels, ROWS, COLS);
    }

    /** The paper's MLP with BatchNorm, SGD with Nesterov momentum and weight decay; {@code seed} only matters before a resume. */
    static Trainer trainer(long seed) {
        Module model = MnistMlp.build(true, 1.0, new Rng(seed));
        SGD opt = new SGD(model.parameters(), 0.05, 0.9, true, 1e-4, true);
        return new Trainer(model, opt, data(), BATCH, new Rng(seed + 1), true);
    }

    public static void main(String[] args) throws Exception {
        Path ckpt = Path.of(args[0]).resolve("ckpt.safetensors");
        int maxSteps = Integer.parseInt(args[1]);
        // A resumed run starts from other seeds: only the checkpoint can make it continue the original run.
        boolean resume = Files.exists(ckpt);
        Trainer t = trainer(resume ? 99 : 7);
        if (resume) Checkpoints.resume(ckpt, t);
        System.out.println("resumed " + t.steps());
        System.out.flush();
        while (t.steps() < maxSteps) {
            t.step();
            System.out.println("saving " + t.steps());
            System.out.flush();
            long t0 = System.nanoTime();
            Checkpoints.save(ckpt, t, Map.of("writer", "child"));
            System.out.println("saved " + t.steps() + " " + (System.nanoTime() - t0) / 1000);
            System.out.flush();
        }
    }
}
