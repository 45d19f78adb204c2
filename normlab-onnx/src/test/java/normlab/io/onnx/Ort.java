package normlab.io.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Map;
import normlab.nn.Module;
import normlab.nn.Parameter;
import normlab.norm.FrozenBatchNorm2d;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;

/** Test helpers: runs an exported file in ONNX Runtime, compares with normlab, and gives models non-trivial state. */
final class Ort {
    private Ort() {}

    /** ONNX Runtime's output for input {@code x} (the graph's single input and output), as a normlab tensor. */
    static Tensor run(Path model, Tensor x) throws OrtException {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
            opts.setIntraOpNumThreads(1);
            try (OrtSession s = env.createSession(model.toString(), opts)) {
                long[] shape = new long[x.rank()];
                for (int i = 0; i < shape.length; i++) shape[i] = x.dim(i);
                try (OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x.data), shape);
                     OrtSession.Result r = s.run(Map.of(OnnxExport.INPUT, in))) {
                    OnnxTensor out = (OnnxTensor) r.get(OnnxExport.OUTPUT).orElseThrow();
                    long[] os = out.getInfo().getShape();
                    int[] dims = new int[os.length];
                    for (int i = 0; i < os.length; i++) dims[i] = Math.toIntExact(os[i]);
                    FloatBuffer fb = out.getFloatBuffer();
                    float[] data = new float[fb.remaining()];
                    fb.get(data);
                    return Tensor.of(data, dims);
                }
            }
        }
    }

    /** max |a − b| / max(1, max |ref|): the brief's relative metric for outputs. */
    static double relErr(Tensor got, Tensor ref) {
        if (!got.sameShape(ref)) throw new AssertionError("shape " + got.shapeString() + " vs reference " + ref.shapeString());
        double maxDiff = 0, maxRef = 1;
        for (int i = 0; i < ref.numel(); i++) {
            maxDiff = Math.max(maxDiff, Math.abs((double) got.data[i] - ref.data[i]));
            maxRef = Math.max(maxRef, Math.abs(ref.data[i]));
        }
        return maxDiff / maxRef;
    }

    /** A tensor of standard normal values. */
    static Tensor randn(Rng rng, int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) t.data[i] = (float) rng.nextGaussian();
        return t;
    }

    /**
     * Gives every normalization layer of {@code model} statistics and affine parameters far from their defaults
     * (running mean ±1, running variance in [0.2, 3], γ in [0.5, 1.5], β ±0.5), as a trained model has, so an export
     * that ignored or misplaced any of them would fail.
     */
    static void randomizeNorms(Module model, Rng rng) {
        for (Map.Entry<String, Tensor> e : model.stateTensors().entrySet()) {
            float[] d = e.getValue().data;
            if (e.getKey().endsWith("running_mean")) for (int i = 0; i < d.length; i++) d[i] = (float) (2 * rng.nextDouble() - 1);
            if (e.getKey().endsWith("running_var")) for (int i = 0; i < d.length; i++) d[i] = (float) (0.2 + 2.8 * rng.nextDouble());
        }
        for (Parameter p : model.parameters()) {
            if (p.kind == Parameter.Kind.NORM) affine(p.value, p.name.equals("weight"), rng);
        }
        randomizeFrozen(model, rng);
    }

    /** FrozenBatchNorm2d keeps γ and β as buffers, not parameters. */
    private static void randomizeFrozen(Module m, Rng rng) {
        if (m instanceof FrozenBatchNorm2d) {
            affine(((FrozenBatchNorm2d) m).weight, true, rng);
            affine(((FrozenBatchNorm2d) m).bias, false, rng);
        }
        for (Module c : m.children().values()) randomizeFrozen(c, rng);
    }

    private static void affine(Tensor t, boolean scale, Rng rng) {
        double lo = scale ? 0.5 : -0.5;
        for (int i = 0; i < t.numel(); i++) t.data[i] = (float) (lo + rng.nextDouble());
    }
}
