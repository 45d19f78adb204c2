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
import normlab.tensor.Tensor;

/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON
 * ({@code {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__": {...}}}), then the
 * raw little-endian tensor bytes, offsets relative to the end of the header.
 *
 * <p>Tensors are float32 in memory. Files may hold F32, F64 (converted down), and I64/I32 (converted to float; used for
 * {@code num_batches_tracked}). Writing uses F32, except keys ending in {@code num_batches_tracked}, written as I64 as
 * PyTorch stores them. Reading validates everything before allocating: header length within the file, JSON well
 * formed, known dtypes, shapes whose byte size equals the offsets, offsets inside the data and not overlapping.
 * Writing is atomic: a temporary file in the same directory, fsynced, then renamed over the target.
 */
public final class Safetensors {
    /** Header JSON larger than this is refused (the reference implementation's limit is 100 MB). */
    public static final long MAX_HEADER = 100L << 20;

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
        JsonObject header = new JsonObject();
        if (metadata != null && !metadata.isEmpty()) {
            JsonObject meta = new JsonObject();
            for (Map.Entry<String, String> e : new TreeMap<>(metadata).entrySet()) meta.addProperty(e.getKey(), e.getValue());
            header.add("__metadata__", meta);
        }
        long offset = 0;
        List<Object[]> order = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            boolean isLong = e.getKey().endsWith("num_batches_tracked");
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

    /** Reads a safetensors file; any inconsistency is a {@link ModelFileException} naming the file. */
    public static Contents read(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long fileSize = ch.size();
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
            Map<String, Tensor> out = new LinkedHashMap<>();
            for (Map.Entry<String, long[]> e : spans.entrySet()) {
                String key = e.getKey();
                long[] span = e.getValue();
                int[] shape = shapes.get(key);
                String dtype = dtypes.get(key);
                ByteBuffer data = ByteBuffer.allocate((int) (span[1] - span[0])).order(ByteOrder.LITTLE_ENDIAN);
                readFully(ch, data, dataStart + span[0], file);
                float[] vals = new float[(int) ((span[1] - span[0]) / elemSize(dtype))];
                for (int i = 0; i < vals.length; i++) {
                    switch (dtype) {
                        case "F32" -> vals[i] = data.getFloat(i * 4);
                        case "F64" -> vals[i] = (float) data.getDouble(i * 8);
                        case "I64" -> vals[i] = data.getLong(i * 8);
                        case "I32" -> vals[i] = data.getInt(i * 4);
                        default -> throw bad(file, "tensor '" + key + "': unsupported dtype " + dtype);
                    }
                }
                out.put(key, Tensor.of(vals, shape));
            }
            return new Contents(out, metadata);
        }
    }

    /** The dtype of every tensor in the file's header ({@code F32}, {@code I64}, ...), validated as {@link #read} does. */
    public static Map<String, String> dtypes(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long fileSize = ch.size();
            if (fileSize < 8) throw bad(file, "file is " + fileSize + " bytes, shorter than the 8-byte header length");
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0, file);
            long headerLen = lenBuf.getLong(0);
            if (headerLen < 2 || headerLen > MAX_HEADER || headerLen > fileSize - 8) {
                throw bad(file, "header length " + Long.toUnsignedString(headerLen) + " does not fit in a file of " + fileSize + " bytes");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            readFully(ch, hb, 8, file);
            Map<String, String> dtypes = new LinkedHashMap<>();
            parseHeader(file, new String(hb.array(), StandardCharsets.UTF_8), fileSize - 8 - headerLen, new LinkedHashMap<>(),
                    new LinkedHashMap<>(), dtypes, new LinkedHashMap<>());
            return dtypes;
        }
    }

    private static void parseHeader(Path file, String json, long dataLen, Map<String, long[]> spans, Map<String, int[]> shapes,
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
            used.add(new long[] {begin, end});
            spans.put(key, new long[] {begin, end});
            shapes.put(key, shape);
            dtypes.put(key, dtype);
        }
    }

    private static String string(Path file, String key, JsonObject o, String field) throws ModelFileException {
        JsonElement v = o.get(field);
        if (v == null || !v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()) throw bad(file, "tensor '" + key + "': missing " + field);
        return v.getAsString();
    }

    private static long integer(Path file, String key, JsonElement v, String field) throws ModelFileException {
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

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos, Path file) throws IOException {
        while (buf.hasRemaining()) {
            int r = ch.read(buf, pos + buf.position());
            if (r < 0) throw bad(file, "truncated: ended at byte " + (pos + buf.position()));
        }
        buf.flip();
    }

    private static ModelFileException bad(Path file, String what) {
        return new ModelFileException(file + ": not a valid safetensors file: " + what);
    }
}
