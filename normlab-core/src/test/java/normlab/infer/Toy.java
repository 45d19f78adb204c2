package normlab.infer;

import java.util.ArrayList;
import java.util.List;
import normlab.nn.CrossEntropyLoss;
import normlab.nn.Module;
import normlab.norm.BatchNorm;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;

/** Test helpers: a synthetic classification task (Gaussian blobs), a short SGD training loop, accuracy, errors. */
final class Toy {
    private Toy() {}

    /** Labelled data: x (N, d) and labels. */
    record Data(Tensor x, int[] y) {
        Tensor batch(int from, int to) {
            int d = x.numel() / x.dim(0);
            float[] b = new float[(to - from) * d];
            System.arraycopy(x.data, from * d, b, 0, b.length);
            int[] shape = x.shape();
            shape[0] = to - from;
            return Tensor.of(b, shape);
        }

        int[] labels(int from, int to) {
            return java.util.Arrays.copyOfRange(y, from, to);
        }

        int n() {
            return x.dim(0);
        }

        List<Tensor> batches(int size) {
            List<Tensor> out = new ArrayList<>();
            for (int i = 0; i + size <= n(); i += size) out.add(batch(i, i + size));
            return out;
        }
    }

    /** K classes with random centres (scale 2) in d dimensions, unit noise; a fixed centre set per centreSeed. */
    static Data blobs(long centreSeed, long sampleSeed, int n, int d, int k) {
        Rng cr = new Rng(centreSeed);
        float[][] centres = new float[k][d];
        for (float[] c : centres) for (int j = 0; j < d; j++) c[j] = (float) (2 * cr.nextGaussian());
        Rng r = new Rng(sampleSeed);
        float[] x = new float[n * d];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = r.nextInt(k);
            for (int j = 0; j < d; j++) x[i * d + j] = (float) (centres[y[i]][j] + 1.5 * r.nextGaussian());
        }
        return new Data(Tensor.of(x, n, d), y);
    }

    /** Trains with SGD (momentum 0.9) on mini-batches for the given epochs; leaves the model in eval mode. */
    static void train(Module model, Data data, int epochs, int batch, double lr) {
        SGD opt = new SGD(model.parameters(), lr, 0.9, false, 0, false);
        CrossEntropyLoss loss = new CrossEntropyLoss();
        model.train();
        for (int e = 0; e < epochs; e++) {
            for (int i = 0; i + batch <= data.n(); i += batch) {
                opt.zeroGrad();
                loss.forward(model.forward(data.batch(i, i + batch)), data.labels(i, i + batch));
                model.backward(loss.backward());
                opt.step();
            }
        }
        model.eval();
    }

    /** Fraction of correct argmax predictions, in eval batches of 200. */
    static double accuracy(Module model, Data data) {
        int correct = 0;
        for (int i = 0; i < data.n(); i += 200) {
            int to = Math.min(data.n(), i + 200);
            Tensor z = model.forward(data.batch(i, to));
            int k = z.dim(1);
            for (int r = 0; r < to - i; r++) {
                int best = 0;
                for (int j = 1; j < k; j++) if (z.data[r * k + j] > z.data[r * k + best]) best = j;
                if (best == data.y()[i + r]) correct++;
            }
        }
        return (double) correct / data.n();
    }

    /** max|a − b| / max|b|: the relative error of a against reference b (b not all zero). */
    static double relErr(Tensor a, Tensor b) {
        if (!a.sameShape(b)) throw new AssertionError("shapes differ: " + a.shapeString() + " vs " + b.shapeString());
        double maxRef = 0, maxDiff = 0;
        for (int i = 0; i < b.data.length; i++) {
            maxRef = Math.max(maxRef, Math.abs(b.data[i]));
            maxDiff = Math.max(maxDiff, Math.abs(a.data[i] - b.data[i]));
        }
        if (maxRef == 0) throw new AssertionError("reference is all zeros");
        return maxDiff / maxRef;
    }

    /** Random γ, β and running statistics (rm ~ N(0, 1), rv ~ U(0.2, 3)) for every BN in the model. */
    static void randomizeNorms(Module m, Rng r) {
        if (m instanceof BatchNorm bn) {
            for (int c = 0; c < bn.numFeatures; c++) {
                if (bn.affine) {
                    bn.weight.value.data[c] = (float) (0.5 + r.nextDouble() * 1.5) * (r.nextDouble() < 0.2 ? -1 : 1);
                    bn.bias.value.data[c] = (float) r.nextGaussian();
                }
                if (bn.trackRunningStats) {
                    bn.runningMean.data[c] = (float) r.nextGaussian();
                    bn.runningVar.data[c] = (float) (0.2 + r.nextDouble() * 2.8);
                }
            }
        }
        for (Module c : m.children().values()) randomizeNorms(c, r);
    }

    static Tensor randn(Rng r, int... shape) {
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.data.length; i++) t.data[i] = (float) r.nextGaussian();
        return t;
    }
}
