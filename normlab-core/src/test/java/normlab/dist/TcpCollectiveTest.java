package normlab.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import normlab.io.LayerTypes;
import normlab.models.MnistMlp;
import normlab.nn.Module;
import normlab.optim.SGD;
import normlab.tensor.Rng;
import normlab.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The TCP collective over loopback, ranks as threads: the same bits as {@link ThreadCollective} (reductions in rank
 * order), data-parallel training over it identical to {@link DataParallel} on threads, and one-line errors naming the
 * rank that hung, died, failed or called another operation.
 */
class TcpCollectiveTest {
    interface Body<T> {
        T run(TcpCollective c) throws Exception;
    }

    /** Forms a K-rank group over loopback and runs {@code body} on each rank's thread; results by rank (first error thrown). */
    static <T> List<T> onRanks(int k, long timeoutMillis, Body<T> body) throws Exception {
        List<TcpCollective.Endpoint> eps = new ArrayList<>();
        List<String> addrs = new ArrayList<>();
        for (int r = 0; r < k; r++) {
            eps.add(TcpCollective.Endpoint.open("127.0.0.1"));
            addrs.add(eps.get(r).address());
        }
        ExecutorService pool = Executors.newFixedThreadPool(k);
        try {
            List<Future<T>> fs = new ArrayList<>();
            for (int r = 0; r < k; r++) {
                int rr = r;
                fs.add(pool.submit((Callable<T>) () -> {
                    try (TcpCollective c = eps.get(rr).join(rr, addrs, timeoutMillis)) {
                        try {
                            return body.run(c);
                        } catch (RuntimeException e) {
                            c.abort(e.getMessage());
                            throw e;
                        }
                    }
                }));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : fs) out.add(f.get());
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    /** The errors of every rank (null where a rank succeeded). */
    static <T> List<String> errors(int k, long timeoutMillis, Body<T> body) throws Exception {
        List<String> out = onRanks(k, timeoutMillis, c -> {
            try {
                body.run(c);
                return null;
            } catch (CollectiveException e) {
                return e.getMessage();
            }
        });
        for (String m : out) if (m != null) assertFalse(m.contains("\n"), m);
        return out;
    }

    @Test
    void sameBitsAsThreadCollective() throws Exception {
        int k = 3;
        for (int n : new int[] {0, 1, 2, 7, 1000}) {
            float[][] fs = new float[k][n];
            double[][] ds = new double[k][n];
            Rng rng = new Rng(n + 1);
            for (int r = 0; r < k; r++) {
                for (int i = 0; i < n; i++) {
                    fs[r][i] = (float) (rng.nextGaussian() * Math.pow(10, i % 7 - 3));
                    ds[r][i] = rng.nextGaussian() * Math.pow(10, i % 9 - 4);
                }
            }
            List<Object[]> tcp = onRanks(k, 10_000, c -> run(c, fs, ds));
            List<Object[]> thr = SyncBatchNormTest.onRanks(k, 10_000, c -> run(c, fs, ds));
            for (int r = 0; r < k; r++) {
                assertArrayEquals((float[]) thr.get(0)[0], (float[]) tcp.get(r)[0], "floats, n = " + n + ", rank " + r);
                assertArrayEquals((double[]) thr.get(0)[1], (double[]) tcp.get(r)[1], "doubles, n = " + n + ", rank " + r);
                double[][] g = (double[][]) tcp.get(r)[2];
                for (int p = 0; p < k; p++) assertArrayEquals(ds[p], g[p]);
            }
        }
        // rank order: ((((0 + 1e16) + 1) + 1) − 1e16) = 0 in double on every rank
        double[] parts = {1e16, 1, 1, -1e16};
        for (double[] d : onRanks(4, 10_000, c -> {
            double[] v = new double[5];
            Arrays.fill(v, parts[c.rank()]);
            c.allReduceSum(v);
            return v;
        })) assertArrayEquals(new double[5], d);
    }

    private static Object[] run(Collective c, float[][] fs, double[][] ds) {
        float[] f = fs[c.rank()].clone();
        double[] d = ds[c.rank()].clone();
        c.allReduceSum(f);
        c.allReduceSum(d);
        return new Object[] {f, d, c.allGather(ds[c.rank()])};
    }

    /** 20 steps of the BN MLP on 2 replicas (uneven slices, random data) over TCP equal DataParallel on threads bit for bit. */
    @Test
    void trainingOverTcpIsDataParallelBitForBit() throws Exception {
        Module model = MnistMlp.build(true, 0.01, new Rng(3));
        int b = 24, steps = 20;
        int[] sizes = {9, 15};
        Rng rng = new Rng(4);
        List<Tensor> xs = new ArrayList<>();
        List<int[]> ys = new ArrayList<>();
        for (int t = 0; t < steps; t++) {
            Tensor x = Tensor.zeros(b, 784);
            for (int i = 0; i < x.numel(); i++) x.data[i] = (float) rng.nextGaussian();
            int[] y = new int[b];
            for (int i = 0; i < b; i++) y[i] = (int) (rng.nextDouble() * 10);
            xs.add(x);
            ys.add(y);
        }
        List<java.util.Map<String, Tensor>> want = new ArrayList<>();
        try (DataParallel dp = new DataParallel(model, 2, ps -> new SGD(ps, 0.1), 60_000)) {
            for (int t = 0; t < steps; t++) dp.step(xs.get(t), ys.get(t), sizes);
            for (int r = 0; r < 2; r++) want.add(dp.replica(r).stateDict());
        }
        List<java.util.Map<String, Tensor>> got = onRanks(2, 60_000, c -> {
            Module m = DataParallel.toSync(LayerTypes.copy(model));
            DataParallel.attach(m, c);
            Replica rep = new Replica(m, new SGD(m.parameters(), 0.1), c);
            int from = c.rank() == 0 ? 0 : sizes[0], n = sizes[c.rank()];
            for (int t = 0; t < steps; t++) {
                Tensor x = Tensor.of(Arrays.copyOfRange(xs.get(t).data, from * 784, (from + n) * 784), n, 784);
                rep.step(x, Arrays.copyOfRange(ys.get(t), from, from + n), b);
            }
            return m.stateDict();
        });
        for (int r = 0; r < 2; r++) {
            for (String key : want.get(r).keySet()) assertArrayEquals(want.get(r).get(key).data, got.get(r).get(key).data, key + " on rank " + r);
        }
    }

    @Test
    void aHungRankIsNamedWithinTheTimeout() throws Exception {
        long t0 = System.nanoTime();
        List<String> errs = errors(3, 300, c -> {
            if (c.rank() == 1) Thread.sleep(700); // hangs past the others' timeout, then finds the group failed
            c.allReduceSum(new float[10]);
            return null;
        });
        assertTrue(errs.get(0).endsWith("rank 1 did not answer within 300 ms"), errs.get(0));
        assertTrue(errs.get(2).endsWith("rank 1 did not answer within 300 ms"), errs.get(2));
        assertTrue(errs.get(1).contains("rank 1 did not answer within 300 ms"), errs.get(1));
        assertTrue(System.nanoTime() - t0 < 5_000_000_000L);
    }

    @Test
    void aFailedOrClosedRankIsNamed() throws Exception {
        List<String> errs = errors(3, 10_000, c -> {
            c.allReduceSum(new double[3]);
            if (c.rank() == 2) c.abort("CrossEntropyLoss: label 12 at row 2 outside [0, 10)");
            else c.allGather(new double[1]);
            return null;
        });
        assertTrue(errs.get(0).endsWith("rank 2 failed: CrossEntropyLoss: label 12 at row 2 outside [0, 10)"), errs.get(0));
        assertTrue(errs.get(1).endsWith("rank 2 failed: CrossEntropyLoss: label 12 at row 2 outside [0, 10)"), errs.get(1));
        List<String> closed = errors(2, 10_000, c -> {
            if (c.rank() == 1) c.close(); // its task ended without a word
            else c.allGather(new double[1]);
            return null;
        });
        assertEquals("allGather on rank 0: rank 1 closed the connection (its task ended or died)", closed.get(0));
    }

    @Test
    void mismatchedCallsFail() throws Exception {
        List<String> errs = errors(2, 10_000, c -> {
            c.allReduceSum(new double[c.rank() == 0 ? 2 : 3]);
            return null;
        });
        assertTrue(errs.get(0).contains("collective mismatch: rank 0 called allReduceSum(double[2]) (call 0), rank 1 called allReduceSum(double[3]) (call 0)"), errs.get(0));
    }

    @Test
    void aRankThatNeverJoinsIsNamed() {
        TcpCollective.Endpoint a = TcpCollective.Endpoint.open("127.0.0.1");
        TcpCollective.Endpoint b = TcpCollective.Endpoint.open("127.0.0.1");
        List<String> addrs = List.of(a.address(), b.address());
        b.close();
        CollectiveException e = assertThrows(CollectiveException.class, () -> a.join(0, addrs, 200));
        assertEquals("TcpCollective: rank 0: rank(s) [1] did not connect within 200 ms", e.getMessage());
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> TcpCollective.Endpoint.open("127.0.0.1").join(1, List.of("nowhere", "x:1"), 200));
        assertEquals("TcpCollective: rank 0's address 'nowhere' is not host:port", bad.getMessage());
    }
}
