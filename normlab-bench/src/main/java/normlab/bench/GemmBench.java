package normlab.bench;

import normlab.kernels.Gemm;
import normlab.kernels.Kernels;
import normlab.kernels.Parallel;
import normlab.tensor.Rng;
import org.openjdk.jmh.annotations.*;

/**
 * JMH: the three GEMM products on the shapes that matter, named (n, k, m) as in {@link Gemm#matmulNT}: the paper's MLP
 * layers (60×784×100, 60×100×100, 60×100×10) and a small CNN's im2col products (32×9×784 for conv1 per sample,
 * 64×288×196 for conv2) and Conv2d's whole-batch conv2 products as 64×12544×288 (forwardNT = dW = dy·colᵀ,
 * inputGradNN = the forward W·col, weightGradTN = dcol = Wᵀ·dy). For the backward forms, dx = dy·W is matmulNN(n, m, k) and dW += dyᵀ·x is matmulTNAcc(n, m, k).
 * Divide 2·n·k·m by the time for FLOP/s.
 */
public class GemmBench extends Bench {
    @Param({"60x784x100", "60x100x100", "60x100x10", "32x9x784", "64x288x196", "64x12544x288"})
    public String nkm;

    @Param({"1", "2"})
    public int threads;

    @Param({"true"})
    public boolean simd;

    int n, k, m;
    float[] x, w, y, dy, dx, dw;

    @Setup
    public void setup() {
        Parallel.setThreads(threads);
        Kernels.setSimd(simd);
        int[] s = Shapes.parse(nkm);
        n = s[0];
        k = s[1];
        m = s[2];
        Rng rng = new Rng(1);
        x = gaussian(rng, n * k);
        w = gaussian(rng, m * k);
        dy = gaussian(rng, n * m);
        y = new float[n * m];
        dx = new float[n * k];
        dw = new float[m * k];
    }

    /** y = x·Wᵀ. */
    @Benchmark
    public float[] forwardNT() {
        Gemm.matmulNT(y, x, w, n, k, m);
        return y;
    }

    /** dx = dy·W. */
    @Benchmark
    public float[] inputGradNN() {
        Gemm.matmulNN(dx, dy, w, n, m, k);
        return dx;
    }

    /** dW += dyᵀ·x. */
    @Benchmark
    public float[] weightGradTN() {
        Gemm.matmulTNAcc(dw, dy, x, n, m, k);
        return dw;
    }
}
