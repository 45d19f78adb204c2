package normlab.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import normlab.dist.Collective;
import normlab.dist.TcpCollective;
import normlab.dist.ThreadCollective;
import normlab.models.MnistMlp;
import normlab.nn.Parameter;
import normlab.tensor.Rng;

/**
 * Latency of one all-reduce of {@link TcpCollective} (and {@link ThreadCollective} for comparison) for the sizes
 * data-parallel training of the paper's BN MLP uses: the loss (1 double), one SyncBatchNorm backward (2 × 100 doubles),
 * one SyncBatchNorm forward's all-gather (3 × 100 doubles) and the flat gradient of all parameters (100,010 floats,
 * 400 KB). Rank 0 times rounds of back-to-back operations (every rank runs the same loop) and prints per size the
 * median over rounds of the mean time per operation.
 *
 * <p>Usage: {@code java --add-modules jdk.incubator.vector -cp benchmarks.jar normlab.bench.AllReduceLatency
 * [threads|procs] [ranks] [rounds]} (defaults: threads, 2 ranks, 30 rounds). {@code threads}: the ranks are threads of
 * this JVM over loopback TCP (and then over ThreadCollective); {@code procs}: ranks 1.. are child JVMs on the same
 * classpath, which exchange addresses through files in a temporary directory.
 */
public final class AllReduceLatency {
    private AllReduceLatency() {}

    static final String[] NAMES = {"loss, 1 double", "SyncBN backward, 200 doubles", "SyncBN forward all-gather, 300 doubles", "MLP gradient, %d floats"};

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("child")) {
            int rank = Integer.parseInt(args[1]), k = Integer.parseInt(args[2]), rounds = Integer.parseInt(args[4]);
            try (TcpCollective c = join(rank, k, Path.of(args[3]))) {
                measure(c, rounds);
            }
            return;
        }
        String mode = args.length > 0 ? args[0] : "threads";
        int k = args.length > 1 ? Integer.parseInt(args[1]) : 2, rounds = args.length > 2 ? Integer.parseInt(args[2]) : 30;
        System.out.printf("all-reduce latency, %d ranks, %s, %d rounds (median of per-round means)%n", k, mode, rounds);
        if (mode.equals("procs")) {
            Path dir = Files.createTempDirectory("normlab-allreduce");
            List<Process> children = new ArrayList<>();
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            for (int r = 1; r < k; r++) {
                children.add(new ProcessBuilder(java, "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"),
                        AllReduceLatency.class.getName(), "child", Integer.toString(r), Integer.toString(k), dir.toString(), Integer.toString(rounds))
                        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start());
            }
            try (TcpCollective c = join(0, k, dir)) {
                report("TcpCollective, " + k + " processes", measure(c, rounds));
            }
            for (Process p : children) p.waitFor();
        } else {
            List<TcpCollective.Endpoint> eps = new ArrayList<>();
            List<String> addrs = new ArrayList<>();
            for (int r = 0; r < k; r++) {
                eps.add(TcpCollective.Endpoint.open("127.0.0.1"));
                addrs.add(eps.get(r).address());
            }
            List<Collective> tcp = onThreads(k, r -> eps.get(r).join(r, addrs, 60_000));
            report("TcpCollective, " + k + " threads over loopback", run(tcp, rounds));
            for (Collective c : tcp) ((TcpCollective) c).close();
            List<ThreadCollective> g = ThreadCollective.group(k, 60_000);
            report("ThreadCollective, " + k + " threads", run(new ArrayList<>(g), rounds));
        }
    }

    interface RankFn<T> {
        T apply(int rank) throws Exception;
    }

    static <T> List<T> onThreads(int k, RankFn<T> fn) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(k);
        try {
            List<Future<T>> fs = new ArrayList<>();
            for (int r = 0; r < k; r++) {
                int rr = r;
                fs.add(pool.submit(() -> fn.apply(rr)));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : fs) out.add(f.get());
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    static double[] run(List<Collective> group, int rounds) throws Exception {
        return onThreads(group.size(), r -> measure(group.get(r), rounds)).get(0);
    }

    /** Opens an endpoint, publishes it as {@code dir/rank}, waits for every rank's file, joins. */
    static TcpCollective join(int rank, int k, Path dir) throws Exception {
        TcpCollective.Endpoint ep = TcpCollective.Endpoint.open("127.0.0.1");
        Path tmp = dir.resolve(rank + ".tmp");
        Files.writeString(tmp, ep.address());
        Files.move(tmp, dir.resolve(Integer.toString(rank)), StandardCopyOption.ATOMIC_MOVE);
        List<String> addrs = new ArrayList<>();
        for (int r = 0; r < k; r++) {
            Path p = dir.resolve(Integer.toString(r));
            long until = System.nanoTime() + 60_000_000_000L;
            while (!Files.exists(p)) {
                if (System.nanoTime() > until) throw new IllegalStateException("rank " + r + " never published its address");
                Thread.sleep(10);
            }
            addrs.add(Files.readString(p));
        }
        return ep.join(rank, addrs, 60_000);
    }

    /** The flat gradient length of the paper's BN MLP. */
    static int gradientLength() {
        int n = 0;
        for (Parameter p : MnistMlp.build(true, 0.01, new Rng(1)).parameters()) n += p.value.numel();
        return n;
    }

    /** Per size, the median over rounds of the mean µs per operation (a round: ops taking ~50 ms). */
    static double[] measure(Collective c, int rounds) {
        int g = gradientLength();
        double[] loss = new double[1], bwd = new double[200], fwd = new double[300];
        float[] grad = new float[g];
        Arrays.fill(grad, 1e-3f);
        Runnable[] ops = {
            () -> c.allReduceSum(loss),
            () -> c.allReduceSum(bwd),
            () -> c.allGather(fwd),
            () -> c.allReduceSum(grad)
        };
        int[] perRound = {200, 200, 200, 20};
        double[] out = new double[ops.length];
        for (int o = 0; o < ops.length; o++) {
            for (int i = 0; i < perRound[o] * 3; i++) ops[o].run(); // warm-up
            double[] means = new double[rounds];
            for (int r = 0; r < rounds; r++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < perRound[o]; i++) ops[o].run();
                means[r] = (System.nanoTime() - t0) / 1e3 / perRound[o];
            }
            Arrays.sort(means);
            out[o] = means[rounds / 2];
        }
        return out;
    }

    static void report(String what, double[] us) {
        System.out.println(what + ":");
        for (int o = 0; o < us.length; o++) {
            System.out.printf("  %-45s %10.1f µs%n", String.format(NAMES[o], gradientLength()), us[o]);
        }
    }
}
