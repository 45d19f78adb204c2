package normlab.infer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import normlab.io.LayerTypes;
import normlab.kernels.Epilogue;
import normlab.kernels.Gemm;
import normlab.kernels.Gemv;
import normlab.kernels.Parallel;
import normlab.nn.Activation;
import normlab.nn.Conv2d;
import normlab.nn.Dropout;
import normlab.nn.Flatten;
import normlab.nn.Identity;
import normlab.nn.Linear;
import normlab.nn.MaxPool2d;
import normlab.nn.Module;
import normlab.nn.Sequential;
import normlab.tensor.ShapeException;
import normlab.tensor.Tensor;

/**
 * The fastest exact evaluation of a model: {@code Predictor.of(model, 784).predict(x, batch)}. Built from a snapshot
 * of the model (a deep copy: later training does not reach it) in eval mode, with every BatchNorm that can be folded
 * folded into the Linear/Conv2d before it ({@link Fold}), Identity and Dropout dropped, Flatten a no-op, and a
 * Sigmoid/ReLU/Tanh right after a Linear or Conv2d fused into that product's epilogue. The Linear products run from
 * weights packed once ({@link Linear#inferInto}); every other layer runs through its ordinary eval forward.
 *
 * <p>Buffers for {@code maxBatch} samples are allocated per workspace; a call takes a workspace from a pool (making one
 * when all are busy) and returns it, so one Predictor serves any number of threads. Larger batches run in slices of
 * {@code maxBatch}. A batch of 64 or more rows is cut into slices of about 32 (boundaries on whole register panels of
 * the eval product; a slice longer than maxBatch runs in passes) and each slice runs the whole plan as one parallel
 * task (one parallel region per call, not one per product: at batch 64 the MLP's products are too small to split each
 * across threads). The slices depend on the batch only, and every stage computes a row from that row alone, so the
 * thread count never changes an output. Outputs equal {@code model.eval().forward(x)} to float rounding (folding
 * rounds W·k once; the
 * products sum in another order): within 1e-6 of max(1, |y|) on the tests' models; they do not depend on the kernel
 * thread count, nor (for batches the same kernel serves) on which other samples share the batch.
 */
public final class Predictor {
    /**
     * One stage: reads n samples (rows of {@code inSize} floats) from x, writes n rows of {@code outSize} to y. Stages
     * are shared by all threads; anything a stage must not share lives in the {@link Workspace} it is given.
     */
    interface Step {
        /** Floats per sample this stage writes. */
        int outSize();

        void run(float[] y, float[] x, int n, Workspace ws);

        /** What the stage is, for {@link #describe()}. */
        String describe();
    }

    /** Per-call state: the two activation buffers and the steps' private copies of layers run by their forward. */
    static final class Workspace {
        final float[] a, b;
        final Module[] clones;

        Workspace(int floats, int steps) {
            a = new float[floats];
            b = new float[floats];
            clones = new Module[steps];
        }
    }

    private final Step[] steps;
    private final int[] inShape, outShape;
    private final int inSize, outSize, maxBatch, width;
    private final ConcurrentLinkedQueue<Workspace> pool = new ConcurrentLinkedQueue<>();

    private Predictor(Step[] steps, int[] inShape, int[] outShape, int maxBatch, int width) {
        this.steps = steps;
        this.inShape = inShape;
        this.outShape = outShape;
        this.inSize = size(inShape);
        this.outSize = size(outShape);
        this.maxBatch = maxBatch;
        this.width = width;
    }

    /** A predictor for inputs of shape (N, inputShape…), BN folded, batches of up to 64 per pass. */
    public static Predictor of(Module model, int... inputShape) {
        return of(model, inputShape, 64, true);
    }

    /**
     * A predictor for inputs of shape (N, inputShape…) with buffers for {@code maxBatch} samples. {@code fold} false
     * keeps every BatchNorm as a layer of its own (run by its eval forward), for comparisons.
     */
    public static Predictor of(Module model, int[] inputShape, int maxBatch, boolean fold) {
        if (maxBatch < 1) throw new IllegalArgumentException("Predictor: maxBatch must be at least 1, got " + maxBatch);
        for (int d : inputShape) {
            if (d <= 0) throw new ShapeException("Predictor: input shape must be positive, got " + Arrays.toString(inputShape));
        }
        Module m = fold ? Fold.foldWhereAllowed(model).model() : LayerTypes.copy(model);
        m.eval();
        List<Module> layers = new ArrayList<>();
        flatten(m, layers);
        layers.removeIf(l -> l instanceof Identity || l instanceof Dropout); // the identity in eval mode
        // A probe sample through the layers' own forwards: their one-line shape errors, and each stage's output size.
        int[] batchShape = new int[inputShape.length + 1];
        batchShape[0] = 1;
        System.arraycopy(inputShape, 0, batchShape, 1, inputShape.length);
        Tensor probe = Tensor.zeros(batchShape);
        List<Step> steps = new ArrayList<>();
        int width = size(inputShape);
        for (int i = 0; i < layers.size(); i++) {
            Module l = layers.get(i);
            if (l instanceof Flatten) {
                probe = l.forward(probe); // shape only: samples stay contiguous rows
                continue;
            }
            Epilogue f = Epilogue.IDENTITY;
            Module next = i + 1 < layers.size() ? layers.get(i + 1) : null;
            boolean producer = l instanceof Linear || l instanceof Conv2d;
            if (producer && next != null && epilogueOf(next) != null) {
                f = epilogueOf(next);
                i++;
            }
            int[] before = probe.shape();
            probe = l.forward(probe);
            if (f != Epilogue.IDENTITY) probe = next.forward(probe);
            // a k×k max-pool of stride k without padding right after a convolution is fused into it
            int pool = 1;
            Module after = i + 1 < layers.size() ? layers.get(i + 1) : null;
            if (l instanceof Conv2d && after instanceof MaxPool2d mp && mp.kh == mp.kw && mp.sh == mp.kh && mp.sw == mp.kw
                    && mp.ph == 0 && mp.pw == 0 && mp.kh > 1) {
                pool = mp.kh;
                probe = mp.forward(probe);
                i++;
            }
            int out = probe.numel();
            Step s;
            if (l instanceof Linear lin) s = new LinearStep(lin, f);
            else if (l instanceof Conv2d c) s = new ConvStep(c, f, pool, steps.size(), before, probe.shape());
            else if (epilogueOf(l) != null) s = new ActivationStep(epilogueOf(l), out);
            else s = new ForwardStep(l, steps.size(), before, probe.shape());
            steps.add(s);
            width = Math.max(width, out);
        }
        int[] outShape = Arrays.copyOfRange(probe.shape(), 1, probe.rank());
        return new Predictor(steps.toArray(new Step[0]), inputShape.clone(), outShape, maxBatch, width);
    }

    /** The activation a fused epilogue computes in place of layer {@code m}, or null when m is not one. */
    private static Epilogue epilogueOf(Module m) {
        if (m instanceof Activation.Sigmoid) return Epilogue.SIGMOID;
        if (m instanceof Activation.ReLU) return Epilogue.RELU;
        if (m instanceof Activation.Tanh) return Epilogue.TANH;
        return null;
    }

    private static void flatten(Module m, List<Module> out) {
        if (m instanceof Sequential s) for (Module c : s.layers()) flatten(c, out);
        else out.add(m);
    }

    private static int size(int[] shape) {
        int n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    /** Input shape without the batch dimension. */
    public int[] inputShape() {
        return inShape.clone();
    }

    /** Output shape without the batch dimension. */
    public int[] outputShape() {
        return outShape.clone();
    }

    /** The stages, one per line (e.g. {@code Linear 784→100 + SIGMOID}). */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        for (Step s : steps) sb.append(s.describe()).append('\n');
        return sb.toString();
    }

    /** The outputs for {@code batch} samples stored one after another in x: a new array of batch × output size. */
    public float[] predict(float[] x, int batch) {
        float[] y = new float[batch * outSize];
        predictInto(y, x, batch);
        return y;
    }

    /** The outputs for x of shape (N, inputShape…), as a tensor of shape (N, outputShape…). */
    public Tensor predict(Tensor x) {
        if (x.rank() != inShape.length + 1 || !Arrays.equals(Arrays.copyOfRange(x.shape(), 1, x.rank()), inShape)) {
            throw new ShapeException("Predictor: expected input of shape [N, " + Arrays.toString(inShape).replaceAll("[\\[\\]]", "")
                    + "], got " + x.shapeString());
        }
        int n = x.dim(0);
        int[] shape = new int[outShape.length + 1];
        shape[0] = n;
        System.arraycopy(outShape, 0, shape, 1, outShape.length);
        Tensor y = Tensor.zeros(shape);
        predictInto(y.data, x.data, n);
        return y;
    }

    /** Writes the outputs for {@code batch} samples of x into y (batch × output size floats); allocates nothing. */
    public void predictInto(float[] y, float[] x, int batch) {
        if (batch < 0) throw new IllegalArgumentException("Predictor: batch must be >= 0, got " + batch);
        if (x.length < (long) batch * inSize) {
            throw new ShapeException("Predictor: expected " + batch + " × " + inSize + " = " + (long) batch * inSize
                    + " input values for input shape " + Arrays.toString(inShape) + ", got " + x.length);
        }
        if (y.length < (long) batch * outSize) {
            throw new ShapeException("Predictor: output array holds " + y.length + " values, " + batch + " samples need " + (long) batch * outSize);
        }
        int slices = slices(batch, maxBatch, sliceRows);
        if (slices <= 1) {
            runSlice(y, x, 0, batch);
            return;
        }
        int align = Gemm.evalPanelRows();
        Parallel.forChunks(slices, s -> {
            int lo = bound(batch, slices, s, align), hi = bound(batch, slices, s + 1, align);
            if (hi > lo) runSlice(y, x, lo, hi - lo);
        });
    }

    /**
     * How many slices a batch runs in: at least one per maxBatch rows, and about {@code rows} rows each once the batch
     * holds two or more such slices. A function of the batch alone, never of the thread count, so the outputs are
     * the same at any thread count.
     */
    static int slices(int batch, int maxBatch, int rows) {
        return Math.max((batch + maxBatch - 1) / maxBatch, batch / rows);
    }

    /** Start of slice s of {@code slices}: an even share of the batch rounded up to whole register panels ({@code align} rows). */
    static int bound(int batch, int slices, int s, int align) {
        if (s >= slices) return batch;
        long even = (long) batch * s / slices;
        return (int) Math.min(batch, (even + align - 1) / align * align);
    }

    /** Rows per slice when a batch is cut into slices that run in parallel (≥ 2 of them): see {@link #setSliceRows}. */
    private static volatile int sliceRows = 32;

    /** Sets the rows per parallel slice (≥ 1); returns the previous value. For benchmarks and tests. */
    public static int setSliceRows(int rows) {
        if (rows < 1) throw new IllegalArgumentException("Predictor: slice rows must be at least 1, got " + rows);
        int old = sliceRows;
        sliceRows = rows;
        return old;
    }

    /** Rows [lo, lo + n) of x through every stage into y (in passes of at most maxBatch), on a workspace from the pool. */
    private void runSlice(float[] y, float[] x, int lo, int n) {
        Workspace ws = pool.poll();
        if (ws == null) ws = new Workspace(maxBatch * width, steps.length);
        try {
            for (int s0 = lo; s0 < lo + n; s0 += maxBatch) {
                int m = Math.min(maxBatch, lo + n - s0);
                float[] cur = ws.a, other = ws.b;
                System.arraycopy(x, s0 * inSize, cur, 0, m * inSize);
                for (Step s : steps) {
                    s.run(other, cur, m, ws);
                    float[] t = cur;
                    cur = other;
                    other = t;
                }
                System.arraycopy(cur, 0, y, s0 * outSize, m * outSize);
            }
        } finally {
            pool.offer(ws);
        }
    }

    // -----------------------------------------------------------------------------------------------------------------
    // Steps

    /** Linear (+ fused activation): {@link Linear#inferInto}, W packed once. */
    private record LinearStep(Linear linear, Epilogue f) implements Step {
        public int outSize() {
            return linear.out;
        }

        public void run(float[] y, float[] x, int n, Workspace ws) {
            linear.inferInto(y, x, n, f);
        }

        public String describe() {
            return "Linear " + linear.in + "→" + linear.out + (f == Epilogue.IDENTITY ? "" : " + " + f);
        }
    }

    /** A Sigmoid/ReLU/Tanh not fused into a product: the epilogue over the rows, in place of the layer's forward. */
    private record ActivationStep(Epilogue f, int size) implements Step {
        public int outSize() {
            return size;
        }

        public void run(float[] y, float[] x, int n, Workspace ws) {
            System.arraycopy(x, 0, y, 0, n * size);
            Gemv.epilogue(y, 0, null, 0, n * size, f);
        }

        public String describe() {
            return f.toString();
        }
    }

    /**
     * Any other layer: its ordinary eval forward, on a copy of the layer private to the workspace (a layer's forward
     * keeps state and is not meant for concurrent calls).
     */
    private static class ForwardStep implements Step {
        final Module layer;
        final int index;
        final int[] in, out;

        ForwardStep(Module layer, int index, int[] in, int[] out) {
            this.layer = layer;
            this.index = index;
            this.in = Arrays.copyOfRange(in, 1, in.length);
            this.out = Arrays.copyOfRange(out, 1, out.length);
        }

        public int outSize() {
            return size(out);
        }

        Module mine(Workspace ws) {
            Module c = ws.clones[index];
            if (c == null) {
                c = LayerTypes.copy(layer);
                c.eval();
                c.reuseOutputs(true);
                ws.clones[index] = c;
            }
            return c;
        }

        public void run(float[] y, float[] x, int n, Workspace ws) {
            int[] shape = new int[in.length + 1];
            shape[0] = n;
            System.arraycopy(in, 0, shape, 1, in.length);
            Tensor t = Tensor.of(Arrays.copyOf(x, n * size(in)), shape);
            Tensor r = mine(ws).forward(t);
            System.arraycopy(r.data, 0, y, 0, n * size(out));
        }

        public String describe() {
            return layer.label() + " (its eval forward)";
        }
    }

    /**
     * Conv2d (+ fused activation): {@link Conv2d#inferInto} on the workspace's copy of the layer (its packed filters are
     * cached per weight version and per copy, so concurrent callers never share a lazily built cache), f applied to
     * each output tile while it is in cache; bit-identical to the layer's eval forward followed by the activation.
     */
    private static final class ConvStep extends ForwardStep {
        final Epilogue f;
        final int h, w, pool;

        ConvStep(Conv2d conv, Epilogue f, int pool, int index, int[] in, int[] out) {
            super(conv, index, in, out);
            this.f = f;
            this.pool = pool;
            this.h = in[in.length - 2];
            this.w = in[in.length - 1];
        }

        @Override
        public void run(float[] y, float[] x, int n, Workspace ws) {
            ((Conv2d) mine(ws)).inferInto(y, x, n, h, w, f, pool);
        }

        @Override
        public String describe() {
            return layer.label() + (f == Epilogue.IDENTITY ? "" : " + " + f) + (pool > 1 ? " + MaxPool " + pool + "x" + pool : "")
                    + " (fused conv)";
        }
    }
}
