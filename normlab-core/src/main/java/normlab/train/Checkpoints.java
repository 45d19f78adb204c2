package normlab.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import normlab.io.ModelFileException;
import normlab.io.ModelFiles;
import normlab.io.Safetensors;
import normlab.nn.Dropout;
import normlab.nn.Module;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;

/**
 * Training checkpoints that resume bit for bit: everything that decides the next step is saved — the model's
 * parameters and buffers, the optimizer's state (SGD momentum buffers, Adam moments and step), the batch sampler's
 * permutation, position and epoch, the state of its random generator, the generators of the model's Dropout layers,
 * and the step count.
 *
 * <p>The file is a model file ({@link ModelFiles}: {@code ckpt.safetensors} + {@code ckpt.json}, so
 * {@code ModelFiles.load} also opens a checkpoint as a model). Optimizer and sampler tensors are extras
 * ({@code extra/optim/…}, {@code extra/sampler/order}); counters and the generator state are metadata strings. Every
 * write is a temporary file, fsynced, renamed over the target; the safetensors carry a CRC-32C over metadata and
 * tensors, which {@link #resume} requires and verifies. A crash (even SIGKILL) during a save therefore leaves the
 * previous checkpoint intact, and a damaged file is refused instead of resumed from.
 */
public final class Checkpoints {
    /** Metadata value of {@code checkpoint} identifying this layout. */
    public static final String FORMAT = "normlab-train-1";

    private Checkpoints() {}

    /** Saves {@code trainer}'s complete training state to {@code file}, with extra metadata strings. */
    public static void save(Path file, Trainer trainer, Map<String, String> metadata) throws IOException {
        BatchSampler s = trainer.sampler();
        Map<String, String> meta = new LinkedHashMap<>(metadata);
        meta.put("checkpoint", FORMAT);
        meta.put("step", Integer.toString(trainer.steps()));
        meta.put("sampler.position", Integer.toString(s.position()));
        meta.put("sampler.epoch", Long.toString(s.epoch()));
        meta.put("sampler.rng", encode(s.rng()));
        for (Map.Entry<String, Rng> e : dropoutRngs(trainer.model()).entrySet()) meta.put("rng." + e.getKey(), encode(e.getValue()));
        Map<String, Tensor> extra = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : trainer.optimizer().state().entrySet()) extra.put("optim/" + e.getKey(), e.getValue());
        int[] order = s.order();
        if (order.length > 1 << 24) throw new IllegalStateException("Checkpoints: " + order.length + " examples exceed float-exact indices");
        float[] of = new float[order.length];
        for (int i = 0; i < order.length; i++) of[i] = order[i];
        extra.put("sampler/order", Tensor.of(of, of.length));
        ModelFiles.save(trainer.model(), file, meta, extra);
    }

    /**
     * Restores a checkpoint written by {@link #save} into {@code trainer} (built as for the original run: same model
     * architecture, optimizer kind and hyperparameters, dataset and batch size). Returns the metadata. The checksum must
     * be present and match; anything missing or inconsistent is a {@link ModelFileException} naming the file.
     */
    public static Map<String, String> resume(Path file, Trainer trainer) throws IOException {
        Safetensors.read(file, true); // integrity first: refuses a file without a checksum or with a wrong one
        // Never half-loaded: everything is parsed and checked before anything is applied, and the model and optimizer
        // (the two parts that can still refuse while being applied) are rolled back if either does.
        Map<String, Tensor> modelBefore = trainer.model().stateDict();
        Map<String, Tensor> optimBefore = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : trainer.optimizer().state().entrySet()) optimBefore.put(e.getKey(), e.getValue().copy());
        ModelFiles.Loaded loaded = ModelFiles.loadInto(trainer.model(), file);
        Map<String, String> meta = loaded.metadata();
        try {
            if (!FORMAT.equals(meta.get("checkpoint"))) {
                throw new ModelFileException(file + ": not a training checkpoint (metadata 'checkpoint' is " + meta.get("checkpoint")
                        + ", expected " + FORMAT + ")");
            }
            Map<String, Tensor> optim = new LinkedHashMap<>();
            for (Map.Entry<String, Tensor> e : loaded.extra().entrySet()) {
                if (e.getKey().startsWith("optim/")) optim.put(e.getKey().substring("optim/".length()), e.getValue());
            }
            Tensor order = loaded.extra().get("sampler/order");
            if (order == null) throw new IllegalArgumentException("no sampler/order tensor");
            int[] idx = new int[order.numel()];
            for (int i = 0; i < idx.length; i++) idx[i] = (int) order.data[i];
            int position = Integer.parseInt(meta.get("sampler.position"));
            long epoch = Long.parseLong(meta.get("sampler.epoch"));
            int step = Integer.parseInt(meta.get("step"));
            long[] samplerRng = decode(meta.get("sampler.rng"));
            Map<Rng, long[]> dropout = new LinkedHashMap<>();
            for (Map.Entry<String, Rng> e : dropoutRngs(trainer.model()).entrySet()) {
                String v = meta.get("rng." + e.getKey());
                if (v == null) throw new IllegalArgumentException("no generator state for Dropout '" + e.getKey() + "'");
                dropout.put(e.getValue(), decode(v));
            }
            trainer.optimizer().loadState(optim);
            BatchSampler s = trainer.sampler();
            s.restore(idx, position, epoch);
            s.rng().setState(samplerRng);
            for (Map.Entry<Rng, long[]> e : dropout.entrySet()) e.getKey().setState(e.getValue());
            trainer.restoreSteps(step);
        } catch (RuntimeException | ModelFileException e) { // a missing key, a number that doesn't parse, a wrong shape
            trainer.model().loadStateDict(modelBefore);
            trainer.optimizer().loadState(optimBefore);
            if (e instanceof ModelFileException m) throw m;
            throw new ModelFileException(file + ": inconsistent training checkpoint (nothing was loaded): " + e, e);
        }
        return meta;
    }

    /** The generators of every Dropout in {@code m} (with one), by module path. */
    private static Map<String, Rng> dropoutRngs(Module m) {
        Map<String, Rng> out = new LinkedHashMap<>();
        if (m instanceof Dropout d && d.rng() != null) out.put(m.path().isEmpty() ? "root" : m.path(), d.rng());
        for (Module c : m.children().values()) out.putAll(dropoutRngs(c));
        return out;
    }

    private static String encode(Rng rng) {
        long[] r = rng.state();
        return Long.toHexString(r[0]) + "," + Long.toHexString(r[1]) + "," + r[2];
    }

    private static long[] decode(String text) {
        if (text == null) throw new IllegalArgumentException("missing generator state");
        String[] r = text.split(",");
        if (r.length != 3) throw new IllegalArgumentException("generator state '" + text + "' is not three values");
        return new long[] {Long.parseUnsignedLong(r[0], 16), Long.parseUnsignedLong(r[1], 16), Long.parseLong(r[2])};
    }
}
