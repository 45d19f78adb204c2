package normlab.dist;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * {@link Collective} over TCP between processes (or threads): a full mesh of one socket per pair of ranks, plain
 * {@code java.net} sockets with {@code TCP_NODELAY}. Forming a group takes one exchange of addresses, done by the
 * caller (in Spark by {@code BarrierTaskContext.allGather}): each rank {@link Endpoint#open opens} a listening
 * endpoint, publishes {@link Endpoint#address()}, and {@link Endpoint#join joins} with every rank's address.
 *
 * <p>The operations, with K ranks and the array cut into K contiguous chunks (chunk c is rank c's):
 * <pre>
 *   allGather(v):     send v to every peer; result[r] = v_r                                  (one round)
 *   allReduceSum(v):  reduce-scatter: send chunk c of v to rank c; rank c computes
 *                       s_c = ((0 + v_0[c]) + v_1[c]) + … + v_{K−1}[c]      (in double, rank order)
 *                     all-gather:     rank c sends s_c (floats: rounded once) to every peer  (two rounds)
 * </pre>
 * Each rank sends and receives 2·N·(K−1)/K values per all-reduce (the bandwidth of a ring all-reduce) in two rounds of
 * latency instead of the ring's 2(K−1), and the sum of every element is taken in rank order as {@link ThreadCollective}
 * takes it, so the two give the same bits whatever the timing.
 *
 * <p>Every peer has a reader thread (frames go to a queue) and a writer thread, so a send never blocks the caller and
 * two ranks sending large arrays to each other cannot deadlock. Every receive waits at most the group's timeout; then
 * the operation fails naming the rank ("rank 1 did not answer within 30 s"). A peer whose connection closes is named
 * too, and a rank that fails calls {@link #abort} so the peers' errors carry its reason. After a failure every later
 * operation fails at once with the first error. Frames carry the operation's name and sequence number, so ranks that
 * call different operations (or lengths) fail with "collective mismatch".
 */
public final class TcpCollective implements Collective, AutoCloseable {
    private static final int MAGIC = 0x4e4c4443; // "NLDC"
    private static final int DATA_DOUBLE = 1, DATA_FLOAT = 2, ABORT = 3;

    /** One frame from a peer: data, or (kind ABORT / a connection failure) the reason it failed. */
    private record Frame(long seq, String op, int kind, Object payload, String failure) {}

    private final int rank;
    private final int size;
    private final long timeoutMillis;
    private final Socket[] sockets;
    private final BlockingQueue<Frame>[] inbox;
    private final BlockingQueue<byte[]>[] outbox;
    private final Thread[] threads;
    private long seq;
    private volatile String broken;
    private volatile boolean closed;

    /** A listening socket, open before the group is formed, whose address the other ranks need. */
    public static final class Endpoint implements AutoCloseable {
        private final ServerSocket server;
        private final String host;

        private Endpoint(ServerSocket server, String host) {
            this.server = server;
            this.host = host;
        }

        /** Listens on {@code host} (an address of this machine the other ranks can reach) at a free port. */
        public static Endpoint open(String host) {
            try {
                ServerSocket s = new ServerSocket();
                s.setReuseAddress(true);
                s.bind(new InetSocketAddress(InetAddress.getByName(host), 0), 64);
                return new Endpoint(s, host);
            } catch (IOException e) {
                throw new CollectiveException("TcpCollective: cannot listen on " + host + ": " + e.getMessage());
            }
        }

        /** {@code host:port} to publish to the other ranks. */
        public String address() {
            return host + ":" + server.getLocalPort();
        }

        /**
         * Connects this rank to every other: it connects to the lower ranks and accepts the higher ones
         * ({@code addresses} indexed by rank, this rank's own included). Every wait, and later every receive, is bounded
         * by {@code timeoutMillis}. Closes the endpoint.
         */
        public TcpCollective join(int rank, List<String> addresses, long timeoutMillis) {
            return join(rank, addresses, timeoutMillis, timeoutMillis);
        }

        /**
         * As {@link #join(int, List, long)}, but forming the group may take up to {@code joinMillis} (the ranks may
         * leave the address exchange at different times), each later receive up to {@code timeoutMillis}.
         */
        public TcpCollective join(int rank, List<String> addresses, long joinMillis, long timeoutMillis) {
            int size = addresses.size();
            if (rank < 0 || rank >= size) throw new IllegalArgumentException("TcpCollective: rank " + rank + " outside [0, " + size + ")");
            if (timeoutMillis <= 0 || joinMillis <= 0) throw new IllegalArgumentException("TcpCollective: timeout must be > 0 ms, got " + Math.min(timeoutMillis, joinMillis));
            Socket[] sockets = new Socket[size];
            long deadline = System.nanoTime() + joinMillis * 1_000_000L;
            try (ServerSocket s = server) {
                for (int peer = 0; peer < rank; peer++) {
                    String a = addresses.get(peer);
                    int colon = a.lastIndexOf(':');
                    if (colon < 0) throw new IllegalArgumentException("TcpCollective: rank " + peer + "'s address '" + a + "' is not host:port");
                    Socket so = connect(a.substring(0, colon), Integer.parseInt(a.substring(colon + 1)), peer, deadline, joinMillis);
                    DataOutputStream out = new DataOutputStream(so.getOutputStream());
                    out.writeInt(MAGIC);
                    out.writeInt(rank);
                    out.writeInt(size);
                    out.flush();
                    sockets[peer] = so;
                }
                for (int left = size - 1 - rank; left > 0; left--) {
                    int wait = (int) Math.max(1, (deadline - System.nanoTime()) / 1_000_000L);
                    s.setSoTimeout(wait);
                    Socket so;
                    try {
                        so = s.accept();
                    } catch (SocketTimeoutException e) {
                        throw new CollectiveException("TcpCollective: rank " + rank + ": rank(s) " + missing(sockets, rank)
                                + " did not connect within " + seconds(joinMillis));
                    }
                    so.setSoTimeout(wait);
                    DataInputStream in = new DataInputStream(so.getInputStream());
                    int magic = in.readInt(), peer = in.readInt(), peerSize = in.readInt();
                    if (magic != MAGIC || peerSize != size || peer <= rank || peer >= size || sockets[peer] != null) {
                        so.close(); // not a rank of this group (or a stray connection): ignore it
                        left++;
                        continue;
                    }
                    so.setSoTimeout(0);
                    sockets[peer] = so;
                }
            } catch (IOException e) {
                for (Socket so : sockets) closeQuietly(so);
                throw new CollectiveException("TcpCollective: rank " + rank + " could not form the group: " + e.getMessage());
            } catch (RuntimeException e) {
                for (Socket so : sockets) closeQuietly(so);
                throw e;
            }
            return new TcpCollective(rank, size, timeoutMillis, sockets);
        }

        private static Socket connect(String host, int port, int peer, long deadline, long timeoutMillis) throws IOException {
            IOException last = null;
            while (System.nanoTime() < deadline) {
                Socket so = new Socket();
                try {
                    so.setTcpNoDelay(true);
                    so.connect(new InetSocketAddress(host, port), (int) Math.max(1, (deadline - System.nanoTime()) / 1_000_000L));
                    return so;
                } catch (IOException e) {
                    last = e;
                    so.close();
                    try {
                        Thread.sleep(20);
                    } catch (InterruptedException ie) {
                        Thread.currentThread().interrupt();
                        throw new CollectiveException("TcpCollective: interrupted while connecting to rank " + peer);
                    }
                }
            }
            throw new CollectiveException("TcpCollective: could not connect to rank " + peer + " at " + host + ":" + port
                    + " within " + seconds(timeoutMillis) + (last != null ? " (" + last.getMessage() + ")" : ""));
        }

        @Override
        public void close() {
            closeQuietly(server);
        }
    }

    /** The group of one rank whose peers are connected by {@code sockets} (its own slot null). */
    @SuppressWarnings("unchecked")
    private TcpCollective(int rank, int size, long timeoutMillis, Socket[] sockets) {
        this.rank = rank;
        this.size = size;
        this.timeoutMillis = timeoutMillis;
        this.sockets = sockets;
        this.inbox = new BlockingQueue[size];
        this.outbox = new BlockingQueue[size];
        this.threads = new Thread[2 * size];
        for (int p = 0; p < size; p++) {
            if (p == rank) continue;
            int peer = p;
            inbox[p] = new LinkedBlockingQueue<>();
            outbox[p] = new LinkedBlockingQueue<>();
            try {
                sockets[p].setTcpNoDelay(true);
            } catch (IOException ignored) {
                // a closed socket shows up as the reader's failure
            }
            threads[2 * p] = daemon("normlab-tcp-read-" + rank + "<" + p, () -> readLoop(peer));
            threads[2 * p + 1] = daemon("normlab-tcp-write-" + rank + ">" + p, () -> writeLoop(peer));
        }
    }

    private static Thread daemon(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Peer p's frames, in order, into its inbox; a closed or failed connection becomes a failure frame. */
    private void readLoop(int p) {
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(sockets[p].getInputStream(), 1 << 16))) {
            while (true) {
                int kind = in.readInt();
                long s = in.readLong();
                String op = in.readUTF();
                int n = in.readInt();
                if (kind == ABORT) {
                    inbox[p].add(new Frame(s, op, kind, null, in.readUTF()));
                    return;
                }
                int width = kind == DATA_DOUBLE ? 8 : 4;
                byte[] bytes = new byte[n * width];
                in.readFully(bytes);
                ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
                Object payload;
                if (kind == DATA_DOUBLE) {
                    double[] d = new double[n];
                    b.asDoubleBuffer().get(d);
                    payload = d;
                } else {
                    float[] f = new float[n];
                    b.asFloatBuffer().get(f);
                    payload = f;
                }
                inbox[p].add(new Frame(s, op, kind, payload, null));
            }
        } catch (EOFException e) {
            if (!closed) inbox[p].add(new Frame(-1, null, 0, null, "rank " + p + " closed the connection (its task ended or died)"));
        } catch (IOException e) {
            if (!closed) inbox[p].add(new Frame(-1, null, 0, null, "the connection to rank " + p + " failed: " + e.getMessage()));
        }
    }

    /** Writes peer p's queued frames; flushes when the queue is empty. */
    private void writeLoop(int p) {
        try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(sockets[p].getOutputStream(), 1 << 16))) {
            while (true) {
                byte[] frame = outbox[p].take();
                if (frame.length == 0) return; // close
                out.write(frame);
                if (outbox[p].isEmpty()) out.flush();
            }
        } catch (IOException | InterruptedException e) {
            // the reader sees the broken connection and reports it
        }
    }

    /** A frame's bytes: kind, sequence number, operation, length, payload (little-endian) or abort reason. */
    private static byte[] encode(int kind, long seq, String op, Object payload, int from, int to, String reason) {
        byte[] opBytes = op.getBytes(StandardCharsets.UTF_8);
        byte[] why = reason == null ? new byte[0] : reason.getBytes(StandardCharsets.UTF_8);
        int n = to - from, width = kind == DATA_DOUBLE ? 8 : kind == DATA_FLOAT ? 4 : 0;
        ByteBuffer b = ByteBuffer.allocate(4 + 8 + 2 + opBytes.length + 4 + n * width + (kind == ABORT ? 2 + why.length : 0));
        b.putInt(kind).putLong(seq).putShort((short) opBytes.length).put(opBytes).putInt(n);
        if (kind == ABORT) {
            b.putShort((short) why.length).put(why);
        } else {
            ByteBuffer body = b.slice().order(ByteOrder.LITTLE_ENDIAN);
            if (kind == DATA_DOUBLE) body.asDoubleBuffer().put((double[]) payload, from, n);
            else body.asFloatBuffer().put((float[]) payload, from, n);
        }
        return b.array();
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return size;
    }

    /** The first chunk boundary of rank c for an array of n values: chunks [lo(c), lo(c + 1)). */
    private int lo(int c, int n) {
        return (int) ((long) n * c / size);
    }

    @Override
    public double[][] allGather(double[] local) {
        String op = "allGather";
        long s = begin();
        for (int p = 0; p < size; p++) if (p != rank) send(p, encode(DATA_DOUBLE, s, op, local, 0, local.length, null));
        double[][] out = new double[size][];
        for (int p = 0; p < size; p++) out[p] = p == rank ? local.clone() : (double[]) receive(p, s, op).payload();
        return out;
    }

    @Override
    public void allReduceSum(double[] data) {
        String op = "allReduceSum(double[" + data.length + "])";
        long s = begin();
        int n = data.length, from = lo(rank, n), to = lo(rank + 1, n);
        for (int p = 0; p < size; p++) if (p != rank) send(p, encode(DATA_DOUBLE, s, op, data, lo(p, n), lo(p + 1, n), null));
        double[][] parts = new double[size][];
        for (int p = 0; p < size; p++) parts[p] = p == rank ? null : (double[]) receive(p, s, op).payload();
        double[] sum = new double[to - from];
        for (int p = 0; p < size; p++) { // rank order
            if (p == rank) for (int i = 0; i < sum.length; i++) sum[i] += data[from + i];
            else for (int i = 0; i < sum.length; i++) sum[i] += parts[p][i];
        }
        System.arraycopy(sum, 0, data, from, sum.length);
        gatherChunks(s, op, data, DATA_DOUBLE);
    }

    @Override
    public void allReduceSum(float[] data) {
        String op = "allReduceSum(float[" + data.length + "])";
        long s = begin();
        int n = data.length, from = lo(rank, n), to = lo(rank + 1, n);
        for (int p = 0; p < size; p++) if (p != rank) send(p, encode(DATA_FLOAT, s, op, data, lo(p, n), lo(p + 1, n), null));
        float[][] parts = new float[size][];
        for (int p = 0; p < size; p++) parts[p] = p == rank ? null : (float[]) receive(p, s, op).payload();
        double[] sum = new double[to - from];
        for (int p = 0; p < size; p++) { // rank order, in double
            if (p == rank) for (int i = 0; i < sum.length; i++) sum[i] += data[from + i];
            else for (int i = 0; i < sum.length; i++) sum[i] += parts[p][i];
        }
        for (int i = 0; i < sum.length; i++) data[from + i] = (float) sum[i];
        gatherChunks(s, op, data, DATA_FLOAT);
    }

    /** Second round of an all-reduce: this rank's reduced chunk to every peer, every peer's chunk into {@code data}. */
    private void gatherChunks(long s, String op, Object data, int kind) {
        int n = kind == DATA_DOUBLE ? ((double[]) data).length : ((float[]) data).length;
        String op2 = op + " (gather)";
        for (int p = 0; p < size; p++) if (p != rank) send(p, encode(kind, s, op2, data, lo(rank, n), lo(rank + 1, n), null));
        for (int p = 0; p < size; p++) {
            if (p == rank) continue;
            Object part = receive(p, s, op2).payload();
            int len = lo(p + 1, n) - lo(p, n);
            System.arraycopy(part, 0, data, lo(p, n), len);
        }
    }

    private long begin() {
        String b = broken;
        if (b != null) throw new CollectiveException("rank " + rank + ": the group already failed: " + b);
        if (closed) throw new CollectiveException("rank " + rank + ": the collective is closed");
        return seq++;
    }

    private void send(int p, byte[] frame) {
        outbox[p].add(frame);
    }

    /** The next frame of peer p, which must be operation {@code op} number {@code s}; else fails naming p. */
    private Frame receive(int p, long s, String op) {
        Frame f;
        try {
            f = inbox[p].poll(timeoutMillis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw fail(op, "interrupted while waiting for rank " + p);
        }
        if (f == null) throw fail(op, "rank " + p + " did not answer within " + seconds(timeoutMillis));
        if (f.failure() != null) throw fail(op, f.failure());
        if (f.seq() != s || !f.op().equals(op)) {
            int a = Math.min(rank, p), b = Math.max(rank, p);
            String opA = a == rank ? op + " (call " + s + ")" : f.op() + " (call " + f.seq() + ")";
            String opB = b == rank ? op + " (call " + s + ")" : f.op() + " (call " + f.seq() + ")";
            throw fail(op, "collective mismatch: rank " + a + " called " + opA + ", rank " + b + " called " + opB);
        }
        return f;
    }

    /** Marks the group failed with {@code why}, tells the peers, and returns the exception to throw. */
    private CollectiveException fail(String op, String why) {
        abort(why);
        return new CollectiveException(op + " on rank " + rank + ": " + why);
    }

    /**
     * Marks this rank failed with {@code why}: the peers' pending and later operations fail with "rank r failed: why"
     * (instead of waiting for the timeout), and this rank's later operations fail at once.
     */
    public void abort(String why) {
        if (broken != null || closed) return;
        broken = why;
        // a reason that already names a rank ("rank 1 did not answer …") is passed on as it is
        String msg = why.startsWith("rank ") ? why : "rank " + rank + " failed: " + why;
        for (int p = 0; p < size; p++) if (p != rank) send(p, encode(ABORT, -1, "abort", null, 0, 0, msg));
    }

    /** Closes every connection (after the frames already queued are written) and stops the threads. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (int p = 0; p < size; p++) if (p != rank) outbox[p].add(new byte[0]);
        long until = System.nanoTime() + 2_000_000_000L;
        for (int p = 0; p < size; p++) {
            if (p == rank) continue;
            try {
                threads[2 * p + 1].join(Math.max(1, (until - System.nanoTime()) / 1_000_000L));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            closeQuietly(sockets[p]);
        }
    }

    static String seconds(long millis) {
        return millis % 1000 == 0 ? millis / 1000 + " s" : millis + " ms";
    }

    private static String missing(Socket[] sockets, int rank) {
        List<Integer> out = new java.util.ArrayList<>();
        for (int p = rank + 1; p < sockets.length; p++) if (sockets[p] == null) out.add(p);
        return out.toString();
    }

    private static void closeQuietly(AutoCloseable c) {
        if (c == null) return;
        try {
            c.close();
        } catch (Exception ignored) {
            // closing: nothing to report
        }
    }

    @Override
    public String toString() {
        return "TcpCollective(rank " + rank + " of " + size + ", " + seq + " calls)";
    }
}
