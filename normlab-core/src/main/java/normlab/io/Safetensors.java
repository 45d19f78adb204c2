package normlab.io;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32C;
import normlab.tensor.Tensor;

/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON
 * ({@code {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}}}), then the
 * raw little-endian tensor bytes, offsets relative to the end of the header.
 *
 * <p>Tensors are float32 in memory. Files may hold F32, F64 (converted down), and I64/I32 (converted to float; used for
 * {@code num_batches_tracked}). Writing uses F32, except keys ending in {@code num_batches_tracked}, written as I64 as
 * PyTorch stores them. Reading validates everything before allocating: header length within the file, JSON well
 * formed, known dtypes, shapes whose byte size equals the offsets, offsets inside the data, not overlapping and
 * covering it without holes or trailing bytes (as the reference implementation requires).
 * Writing is atomic: a temporary file in the same directory, fsynced, then renamed over the target.
 *
 * <p>Integrity: {@link #write} records a CRC-32C in {@code __metadata__["normlab.crc32c"]} over the other metadata
 * entries (sorted by key) and, for each tensor in file order, its name, dtype, shape and raw bytes; {@link #read}
 * recomputes and compares it when present (and leaves it out of the metadata it returns) (files from other writers have none and are read as they are), and
 * {@link #read(Path, boolean)} with {@code requireChecksum} also refuses a file without one (normlab's own checkpoints:
 * otherwise damage to the key itself would switch the check off). A mismatch, like every other defect, is a {@link ModelFileException};
 * other {@link IOException}s mean the file could not be read at all (missing, unreadable).
 */
public final class Safetensors {
    /** Header JSON larger than this is refused (the reference implementation's limit is 100 MB). */
    public static final long MAX_HEADER = 100L << 20;
    /** Metadata key of the checksum written by {@link #write}. */
    public static final String CHECKSUM_KEY = "normlab.crc32c";

    private Safetensors() {}

    /** What {@link #read} returns: the tensors in file order and the {@code __metadata__} strings. */
    public record Contents(Map<String, Tensor> tensors, Map<String, String> metadata) {}

    /** Writes {@code tensors} with optional string metadata, atomically (temp file, fsync, rename). */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        byte[] bytes = encode(tensors, metadata);
        AtomicFiles.write(file, bytes);
    }

    /** The file's bytes for {@code tensors} and {@code metadata}. */
    public static byte[] encode(Map<String, Tensor> tensors, Map<String, String> metadata) {
        Map<String, String> meta = new TreeMap<>(metadata == null ? Map.of() : metadata);
        meta.remove(CHECKSUM_KEY);
        meta.put(CHECKSUM_KEY, checksum(tensors, meta));
        JsonObject header = new JsonObject();
        JsonObject metaJson = new JsonObject();
        for (Map.Entry<String, String> e : meta.entrySet()) metaJson.addProperty(e.getKey(), e.getValue());
        header.add("__metadata__", metaJson);
        long offset = 0;
        List<Object[]> order = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            boolean isLong = isLong(e.getKey());
            long size = (long) e.getValue().numel() * (isLong ? 8 : 4);
            JsonObject info = new JsonObject();
            info.addProperty("dtype", isLong ? "I64" : "F32");
            com.google.gson.JsonArray shape = new com.google.gson.JsonArray();
            for (int d : e.getValue().shape()) shape.add(d);
            info.add("shape", shape);
            com.google.gson.JsonArray offs = new com.google.gson.JsonArray();
            offs.add(offset);
            offs.add(offset + size);
            info.add("data_offsets", offs);
            header.add(e.getKey(), info);
            order.add(new Object[] {e.getValue(), isLong});
            offset += size;
        }
        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        int pad = (8 - json.length % 8) % 8; // align data to 8 bytes, padding with spaces as the reference writer does
        int headerLen = json.length + pad;
        ByteBuffer buf = ByteBuffer.allocate(Math.toIntExact(8 + headerLen + offset)).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(headerLen);
        buf.put(json);
        for (int i = 0; i < pad; i++) buf.put((byte) ' ');
        for (Object[] o : order) {
            Tensor t = (Tensor) o[0];
            if ((Boolean) o[1]) for (float v : t.data) buf.putLong((long) v);
            else for (float v : t.data) buf.putFloat(v);
        }
        return buf.array();
    }

    private static boolean isLong(String key) {
        return key.endsWith("num_batches_tracked");
    }

    /** The CRC-32C that {@link #write} stores for {@code tensors}, as 8 hex digits (what F32/I64 encoding gives). */
    private static String checksum(Map<String, Tensor> tensors, Map<String, String> metadata) {
        CRC32C crc = new CRC32C();
        updateMetadata(crc, metadata);
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            boolean isLong = isLong(e.getKey());
            ByteBuffer raw = ByteBuffer.allocate(e.getValue().numel() * (isLong ? 8 : 4)).order(ByteOrder.LITTLE_ENDIAN);
            if (isLong) for (float v : e.getValue().data) raw.putLong((long) v);
            else for (float v : e.getValue().data) raw.putFloat(v);
            updateEntry(crc, e.getKey(), isLong ? "I64" : "F32", e.getValue().shape());
            crc.update(raw.array());
        }
        return String.format("%08x", crc.getValue());
    }

    /** Feeds the metadata entries other than the checksum, sorted by key, into the checksum. */
    private static void updateMetadata(CRC32C crc, Map<String, String> metadata) {
        for (Map.Entry<String, String> e : new TreeMap<>(metadata).entrySet()) {
            if (!e.getKey().equals(CHECKSUM_KEY)) crc.update((e.getKey() + "\0" + e.getValue() + "\0").getBytes(StandardCharsets.UTF_8));
        }
    }

    /** Feeds one tensor's name, dtype and shape into the checksum (its bytes follow). */
    private static void updateEntry(CRC32C crc, String key, String dtype, int[] shape) {
        crc.update((key + "\0" + dtype + "\0" + java.util.Arrays.toString(shape) + "\0").getBytes(StandardCharsets.UTF_8));
    }

    /** Reads a safetensors file; any inconsistency is a {@link ModelFileException} naming the file. */
    public static Contents read(Path file) throws IOException {
        return read(file, false);
    }

    /**
     * Reads a safetensors file, verifying its checksum when present; with {@code requireChecksum} a file without one is
     * refused too. Any defect is a {@link ModelFileException} naming the file.
     */
    public static Contents read(Path file, boolean requireChecksum) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return read(ch::read, ch.size(), file.toString(), requireChecksum);
        }
    }

    /** {@link #read(Path, boolean)} on the bytes of a file already in memory; {@code name} is used in messages. */
    public static Contents decode(byte[] bytes, String name, boolean requireChecksum) throws ModelFileException {
        try {
            return read((dst, pos) -> {
                if (pos >= bytes.length) return -1;
                int n = (int) Math.min(dst.remaining(), bytes.length - pos);
                dst.put(bytes, (int) pos, n);
                return n;
            }, bytes.length, name, requireChecksum);
        } catch (ModelFileException e) {
            throw e;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e); // unreachable: reading an array does no I/O
        }
    }

    private static Contents read(PositionalReader ch, long fileSize, String file, boolean requireChecksum) throws IOException {
        if (fileSize < 8) throw bad(file, "file is " + fileSize + " bytes, shorter than the 8-byte header length");
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, lenBuf, 0, file);
        long headerLen = lenBuf.getLong(0);
        if (headerLen < 2 || headerLen > MAX_HEADER || headerLen > fileSize - 8) {
            throw bad(file, "header length " + Long.toUnsignedString(headerLen) + " does not fit in a file of " + fileSize + " bytes");
        }
        ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
        readFully(ch, hb, 8, file);
        String json = new String(hb.array(), StandardCharsets.UTF_8);
        long dataStart = 8 + headerLen;
        long dataLen = fileSize - dataStart;
        Map<String, long[]> spans = new LinkedHashMap<>();
        Map<String, int[]> shapes = new LinkedHashMap<>();
        Map<String, String> dtypes = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        parseHeader(file, json, dataLen, spans, shapes, dtypes, metadata);
        String expectedCrc = metadata.get(CHECKSUM_KEY);
        if (expectedCrc == null && requireChecksum) throw bad(file, "no " + CHECKSUM_KEY + " checksum in __metadata__");
        CRC32C crc = new CRC32C();
        updateMetadata(crc, metadata);
        Map<String, Tensor> out = new LinkedHashMap<>();
        // Read in chunks of whole elements, so memory is the float[] plus one chunk, never a second full copy.
        ByteBuffer chunk = ByteBuffer.allocate((int) Math.min(1 << 20, Math.max(8, dataLen))).order(ByteOrder.LITTLE_ENDIAN);
        for (Map.Entry<String, long[]> e : spans.entrySet()) {
            String key = e.getKey();
            long[] span = e.getValue();
            int[] shape = shapes.get(key);
            String dtype = dtypes.get(key);
            int size = (int) elemSize(dtype);
            float[] vals = new float[(int) ((span[1] - span[0]) / size)];
            updateEntry(crc, key, dtype, shape);
            int perChunk = chunk.capacity() / size;
            for (int done = 0; done < vals.length; done += perChunk) {
                int count = Math.min(perChunk, vals.length - done);
                chunk.clear().limit(count * size);
                readFully(ch, chunk, dataStart + span[0] + (long) done * size, file);
                crc.update(chunk.array(), 0, count * size);
                for (int i = 0; i < count; i++) {
                    switch (dtype) {
                        case "F32" -> vals[done + i] = chunk.getFloat(i * 4);
                        case "F64" -> vals[done + i] = (float) chunk.getDouble(i * 8);
                        case "I64" -> vals[done + i] = chunk.getLong(i * 8);
                        case "I32" -> vals[done + i] = chunk.getInt(i * 4);
                        default -> throw bad(file, "tensor '" + key + "': unsupported dtype " + dtype);
                    }
                }
            }
            out.put(key, Tensor.of(vals, shape));
        }
        if (expectedCrc != null && !expectedCrc.equals(String.format("%08x", crc.getValue()))) {
            throw bad(file, "checksum mismatch: " + CHECKSUM_KEY + " says " + expectedCrc + ", contents give "
                    + String.format("%08x", crc.getValue()) + " (the file is corrupted)");
        }
        metadata.remove(CHECKSUM_KEY); // verified; callers see the metadata they wrote
        return new Contents(out, metadata);
    }

    /** The dtype of every tensor in the file's header ({@code F32}, {@code I64}, ...), validated as {@link #read} does. */
    public static Map<String, String> dtypes(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            String name = file.toString();
            long fileSize = ch.size();
            if (fileSize < 8) throw bad(name, "file is " + fileSize + " bytes, shorter than the 8-byte header length");
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch::read, lenBuf, 0, name);
            long headerLen = lenBuf.getLong(0);
            if (headerLen < 2 || headerLen > MAX_HEADER || headerLen > fileSize - 8) {
                throw bad(name, "header length " + Long.toUnsignedString(headerLen) + " does not fit in a file of " + fileSize + " bytes");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            readFully(ch::read, hb, 8, name);
            Map<String, String> dtypes = new LinkedHashMap<>();
            parseHeader(name, new String(hb.array(), StandardCharsets.UTF_8), fileSize - 8 - headerLen, new LinkedHashMap<>(),
                    new LinkedHashMap<>(), dtypes, new LinkedHashMap<>());
            return dtypes;
        }
    }

    private static void parseHeader(String file, String json, long dataLen, Map<String, long[]> spans, Map<String, int[]> shapes,
                                    Map<String, String> dtypes, Map<String, String> metadata) throws ModelFileException {
        JsonElement root;
        try {
            root = JsonParser.parseString(json.strip());
        } catch (RuntimeException e) {
            throw bad(file, "header is not valid JSON: " + e.getMessage());
        }
        if (!root.isJsonObject()) throw bad(file, "header is not a JSON object");
        List<long[]> used = new ArrayList<>();
        for (Map.Entry<String, JsonElement> e : root.getAsJsonObject().entrySet()) {
            String key = e.getKey();
            JsonElement v = e.getValue();
            if (key.equals("__metadata__")) {
                if (!v.isJsonObject()) throw bad(file, "__metadata__ is not an object");
                for (Map.Entry<String, JsonElement> m : v.getAsJsonObject().entrySet()) {
                    if (!m.getValue().isJsonPrimitive() || !m.getValue().getAsJsonPrimitive().isString()) {
                        throw bad(file, "__metadata__ value for '" + m.getKey() + "' is not a string");
                    }
                    metadata.put(m.getKey(), m.getValue().getAsString());
                }
                continue;
            }
            if (!v.isJsonObject()) throw bad(file, "tensor '" + key + "': entry is not an object");
            JsonObject o = v.getAsJsonObject();
            String dtype = string(file, key, o, "dtype");
            long size = elemSize(dtype);
            if (size == 0) throw bad(file, "tensor '" + key + "': unsupported dtype " + dtype + " (expected F32, F64, I64 or I32)");
            JsonElement sh = o.get("shape");
            if (sh == null || !sh.isJsonArray()) throw bad(file, "tensor '" + key + "': missing shape");
            int[] shape = new int[sh.getAsJsonArray().size()];
            long numel = 1;
            for (int i = 0; i < shape.length; i++) {
                long d = integer(file, key, sh.getAsJsonArray().get(i), "shape");
                if (d < 0 || d > Integer.MAX_VALUE) throw bad(file, "tensor '" + key + "': dimension " + d + " out of range");
                shape[i] = (int) d;
            }
            // Element count, saturated just above dataLen so that lying shapes cannot overflow.
            for (int d : shape) {
                if (d == 0) { numel = 0; break; }
                numel = numel > (dataLen + 1) / d ? dataLen + 1 : numel * d;
            }
            JsonElement offs = o.get("data_offsets");
            if (offs == null || !offs.isJsonArray() || offs.getAsJsonArray().size() != 2) {
                throw bad(file, "tensor '" + key + "': data_offsets must be [begin, end]");
            }
            long begin = integer(file, key, offs.getAsJsonArray().get(0), "data_offsets");
            long end = integer(file, key, offs.getAsJsonArray().get(1), "data_offsets");
            if (begin < 0 || end < begin || end > dataLen) {
                throw bad(file, "tensor '" + key + "': data_offsets [" + begin + ", " + end + "] outside the " + dataLen + " data bytes");
            }
            if (numel > dataLen || numel * size != end - begin) {
                throw bad(file, "tensor '" + key + "': shape " + java.util.Arrays.toString(shape) + " of " + dtype + " needs "
                        + (numel > dataLen ? "more than " + dataLen : String.valueOf(numel * size)) + " bytes, data_offsets give " + (end - begin));
            }
            if (numel > Integer.MAX_VALUE - 8) throw bad(file, "tensor '" + key + "': too many elements (" + numel + ")");
            for (long[] u : used) {
                if (begin < u[1] && u[0] < end) throw bad(file, "tensor '" + key + "': data_offsets overlap another tensor");
            }
            spans.put(key, new long[] {begin, end});
            shapes.put(key, shape);
            dtypes.put(key, dtype);
            if (begin == end) continue; // empty tensors occupy no bytes and are not part of the coverage check
            used.add(new long[] {begin, end});
        }
        // Non-overlapping spans must tile [0, dataLen) exactly: a hole or trailing bytes mean the offsets lie.
        long covered = 0;
        for (long[] u : used) covered += u[1] - u[0];
        if (covered != dataLen) {
            throw bad(file, "tensors cover " + covered + " of the " + dataLen + " data bytes (offsets leave holes or trailing bytes)");
        }
    }

    private static String string(String file, String key, JsonObject o, String field) throws ModelFileException {
        JsonElement v = o.get(field);
        if (v == null || !v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()) throw bad(file, "tensor '" + key + "': missing " + field);
        return v.getAsString();
    }

    private static long integer(String file, String key, JsonElement v, String field) throws ModelFileException {
        if (v == null || !v.isJsonPrimitive() || !v.getAsJsonPrimitive().isNumber()) throw bad(file, "tensor '" + key + "': " + field + " holds a non-number");
        try {
            return new java.math.BigDecimal(v.getAsString()).longValueExact();
        } catch (ArithmeticException | NumberFormatException e) {
            throw bad(file, "tensor '" + key + "': " + field + " value " + v + " is not a 64-bit integer");
        }
    }

    private static long elemSize(String dtype) {
        return switch (dtype) {
            case "F32", "I32" -> 4;
            case "F64", "I64" -> 8;
            default -> 0;
        };
    }

    /** Reads into {@code dst} from byte {@code pos} of a file or an array: bytes read, or −1 at the end (as FileChannel). */
    @FunctionalInterface
    private interface PositionalReader {
        int read(ByteBuffer dst, long pos) throws IOException;
    }

    private static void readFully(PositionalReader ch, ByteBuffer buf, long pos, String file) throws IOException {
        while (buf.hasRemaining()) {
            int r = ch.read(buf, pos + buf.position());
            if (r < 0) throw bad(file, "truncated: ended at byte " + (pos + buf.position()));
        }
        buf.flip();
    }

    private static ModelFileException bad(String file, String what) {
        return new ModelFileException(file + ": not a valid safetensors file: " + what);
    }
}
