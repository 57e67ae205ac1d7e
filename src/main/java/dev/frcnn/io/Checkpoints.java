package dev.frcnn.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.BufferedOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

import static org.bytedeco.pytorch.global.torch.empty;

/**
 * Our checkpoint format ({@code .ckpt}): a zip holding {@code meta.json} (format version, free-form metadata
 * such as config, class names, epoch, iteration, best mAP, and the tensor table) and one uncompressed entry
 * {@code tensors/<i>} per tensor with its raw little-endian, row-major bytes. Readable without LibTorch
 * (e.g. numpy) and by name, so a model and its optimizer state travel in one file.
 *
 * <p>Writes are atomic: the zip is written to a temporary file in the same directory, flushed to disk and
 * renamed over the target, so a killed process leaves either the old or the new checkpoint, never a torn one.
 * A process killed during a save leaves that temporary file behind: {@code <target name><digits>.tmp}
 * ({@link #isTemporaryOf(String, String)}), which training removes at its next start in that directory.
 */
public final class Checkpoints {
    /** The blob name under which training stores the optimizer's LibTorch archive. */
    public static final String OPTIMIZER_BLOB = "optimizer.pt";

    /** Format version written into meta.json. */
    public static final int FORMAT = 1;
    private static final String TEMPORARY_SUFFIX = AtomicFiles.TEMPORARY_SUFFIX;
    private static final ObjectMapper JSON = new ObjectMapper();

    private Checkpoints() {}

    static {
        dev.frcnn.tensor.NativeLibraries.ensureExtracted(); // before the first org.bytedeco.pytorch class loads
    }

    /**
     * A loaded checkpoint: tensors (CPU, in file order), the metadata object, and the named byte blobs (e.g. the
     * optimizer state as a LibTorch archive).
     */
    public record Loaded(LinkedHashMap<String, Tensor> tensors, ObjectNode meta, Map<String, byte[]> blobs) {}

    /**
     * Writes {@code tensors} (any device; copied to the host) and {@code meta} to {@code file} atomically.
     *
     * @param tensors name to tensor, written in iteration order; dtypes float32, float64, int64, int32, uint8, bool
     * @param meta metadata (must not contain the key {@code tensors} or {@code format}); may be null
     * @throws IOException when the file cannot be written (the previous file, if any, is left intact); the message
     *     names the file ({@link WriteFailures#naming}), a full disk included
     */
    public static void save(Path file, Map<String, Tensor> tensors, ObjectNode meta) throws IOException {
        save(file, tensors, meta, Map.of());
    }

    /**
     * As {@link #save(Path, Map, ObjectNode)}, also storing named byte blobs as entries {@code blobs/<name>}.
     *
     * @param blobs name (letters, digits, {@code . _ -}) to bytes
     */
    public static void save(Path file, Map<String, Tensor> tensors, ObjectNode meta, Map<String, byte[]> blobs)
            throws IOException {
        for (String name : blobs.keySet()) {
            if (!name.matches("[A-Za-z0-9._-]+")) throw new IllegalArgumentException("bad blob name '" + name + "'");
        }
        Path abs = file.toAbsolutePath();
        Path dir = abs.getParent();
        Files.createDirectories(dir);
        ObjectNode m = meta == null ? JSON.createObjectNode() : meta.deepCopy();
        m.put("format", FORMAT);
        ArrayNode table = m.putArray("tensors");
        Path tmp = createTemporary(dir, abs.getFileName().toString());
        try {
            write(tmp, abs, tensors, blobs, m, table);
        } catch (IOException e) {
            throw WriteFailures.naming(file, e); // e.g. a full disk: "No space left on device" alone names no file
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static void write(Path tmp, Path abs, Map<String, Tensor> tensors, Map<String, byte[]> blobs, ObjectNode m,
                              ArrayNode table) throws IOException {
        try (OutputStream fos = Files.newOutputStream(tmp);
             ZipOutputStream zip = new ZipOutputStream(new BufferedOutputStream(fos, 1 << 20))) {
            int i = 0;
            byte[] buf = new byte[1 << 20];
            for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                Tensor t = e.getValue().detach().cpu().contiguous();
                String dtype = dtypeName(t, e.getKey());
                String entry = "tensors/" + i++;
                ObjectNode row = table.addObject();
                row.put("name", e.getKey());
                row.put("dtype", dtype);
                ArrayNode shape = row.putArray("shape");
                for (long s : Tensors.shape(t)) shape.add(s);
                row.put("entry", entry);
                long nbytes = t.numel() * t.element_size();
                ByteBuffer bb = nbytes == 0 ? ByteBuffer.allocate(0)
                        : new BytePointer(t.data_ptr()).capacity(nbytes).asByteBuffer();
                zip.putNextEntry(storedEntry(entry, bb));
                ByteBuffer src = bb.duplicate();
                while (src.hasRemaining()) {
                    int n = Math.min(buf.length, src.remaining());
                    src.get(buf, 0, n);
                    zip.write(buf, 0, n);
                }
                zip.closeEntry();
            }
            for (Map.Entry<String, byte[]> b : blobs.entrySet()) {
                // STORED like the tensors: the optimizer state (one momentum buffer per parameter, about as
                // large as the model) does not compress, and deflating it cost seconds per save.
                byte[] v = b.getValue();
                zip.putNextEntry(storedEntry("blobs/" + b.getKey(), ByteBuffer.wrap(v)));
                zip.write(v);
                zip.closeEntry();
            }
            zip.putNextEntry(new ZipEntry("meta.json"));
            zip.write(JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(m));
            zip.closeEntry();
        }
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        AtomicFiles.moveOver(tmp, abs);
    }

    /**
     * Reads only a checkpoint's {@code meta.json} (its config, class names, tensor table), no tensor: cheap, so that
     * callers can check their inputs against the checkpoint's config before loading its weights.
     *
     * @param file a checkpoint
     * @return the metadata ({@link dev.frcnn.assembly.Checkpoint.Meta#fromJson} types it)
     * @throws java.nio.file.NoSuchFileException if the file does not exist
     * @throws WeightsFormatException if it is not a checkpoint or its meta.json is unreadable or of another format
     * @throws IOException if the file cannot be read
     */
    public static ObjectNode readMeta(Path file) throws IOException {
        try (ZipFile zf = open(file)) {
            return meta(zf, file);
        }
    }

    private static ZipFile open(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new java.nio.file.NoSuchFileException(file.toString());
        try {
            return new ZipFile(file.toFile());
        } catch (ZipException | EOFException e) {
            throw new WeightsFormatException(file, "not a checkpoint (not a zip file: " + e.getMessage() + ")");
        }
    }

    private static ObjectNode meta(ZipFile zf, Path file) throws IOException {
        ZipEntry metaEntry = zf.getEntry("meta.json");
        if (metaEntry == null) throw new WeightsFormatException(file, "not a checkpoint (no meta.json)");
        JsonNode metaNode;
        try {
            metaNode = JSON.readTree(readBounded(zf, metaEntry, file));
        } catch (WeightsFormatException e) {
            throw e;
        } catch (IOException e) {
            throw new WeightsFormatException(file, "unreadable meta.json: " + e.getMessage());
        }
        if (!(metaNode instanceof ObjectNode meta) || !meta.path("tensors").isArray()) {
            throw new WeightsFormatException(file, "meta.json has no tensor table");
        }
        if (meta.path("format").asInt(-1) != FORMAT) {
            throw new WeightsFormatException(file, "unsupported checkpoint format " + meta.path("format"));
        }
        return meta;
    }

    /**
     * Creates the temporary file that {@link #save} writes before renaming it over {@code targetName}:
     * {@code <targetName><unsigned decimal long>.tmp} in {@code dir} (the naming of
     * {@link Files#createTempFile(Path, String, String)}, which also makes it readable by its owner only).
     *
     * @throws IOException if the file cannot be created
     */
    static Path createTemporary(Path dir, String targetName) throws IOException {
        return Files.createTempFile(dir, targetName, TEMPORARY_SUFFIX);
    }

    /**
     * Whether {@code fileName} is the name of a temporary file that {@link #save} makes while writing a checkpoint
     * named {@code targetName}: exactly {@code targetName}, then 1 to 20 decimal digits (an unsigned 64-bit
     * number), then {@code .tmp}. A name that merely looks alike ({@code last.ckpt.tmp}, {@code last.ckpt1.tmp.bak},
     * {@code last.ckpt-old.tmp}) does not match.
     *
     * @param fileName a file name without directory
     * @param targetName the checkpoint's file name, e.g. {@code last.ckpt}
     */
    public static boolean isTemporaryOf(String fileName, String targetName) {
        if (fileName.length() <= targetName.length() + TEMPORARY_SUFFIX.length() || !fileName.startsWith(targetName)
                || !fileName.endsWith(TEMPORARY_SUFFIX)) {
            return false;
        }
        String digits = fileName.substring(targetName.length(), fileName.length() - TEMPORARY_SUFFIX.length());
        if (digits.isEmpty() || digits.length() > 20) return false;
        for (int i = 0; i < digits.length(); i++) {
            char c = digits.charAt(i);
            if (c < '0' || c > '9') return false;
        }
        return true;
    }

    /**
     * Reads a checkpoint written by {@link #save}. Sizes declared in meta.json are checked against the zip
     * entries before any tensor is allocated.
     *
     * @throws WeightsFormatException if the file is not a checkpoint, is truncated or inconsistent (the message
     *     names the file and the problem)
     * @throws IOException if the file cannot be read
     */
    public static Loaded load(Path file) throws IOException {
        ZipFile zf = open(file);
        long fileSize = Files.size(file);
        try (zf) {
            ObjectNode meta = meta(zf, file);
            LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
            for (JsonNode row : meta.get("tensors")) {
                String name = row.path("name").asText();
                ScalarType st = dtype(row.path("dtype").asText(), file, name);
                JsonNode shapeNode = row.path("shape");
                long[] shape = new long[shapeNode.size()];
                long numel = 1;
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = shapeNode.get(i).asLong(-1);
                    if (shape[i] < 0) throw new WeightsFormatException(file, "tensor " + name + " has a negative size");
                    numel = Math.multiplyExact(numel, shape[i]);
                }
                ZipEntry ze = zf.getEntry(row.path("entry").asText());
                if (ze == null) throw new WeightsFormatException(file, "tensor " + name + " has no data entry");
                long nbytes = Math.multiplyExact(numel, (long) elementSize(st));
                // Tensor data is written STORED: its size must then also be bounded by the file's size, so a hostile
                // size field cannot make us allocate more than the file holds.
                if (ze.getMethod() != ZipEntry.STORED || ze.getCompressedSize() != ze.getSize() || ze.getSize() > fileSize) {
                    throw new WeightsFormatException(file, "tensor " + name + " is not stored uncompressed within the file");
                }
                if (ze.getSize() != nbytes) {
                    throw new WeightsFormatException(file, "tensor " + name + " declares " + nbytes
                            + " bytes but its entry holds " + ze.getSize());
                }
                Tensor t = empty(shape, new TensorOptions(st), null);
                if (nbytes > 0) {
                    ByteBuffer dst = new BytePointer(t.data_ptr()).capacity(nbytes).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                    byte[] buf = new byte[1 << 20];
                    try (InputStream in = zf.getInputStream(ze)) {
                        for (int r; dst.hasRemaining() && (r = in.read(buf, 0, Math.min(buf.length, dst.remaining()))) > 0; ) {
                            dst.put(buf, 0, r);
                        }
                    }
                    if (dst.hasRemaining()) throw new WeightsFormatException(file, "tensor " + name + " is truncated");
                }
                out.put(name, t);
            }
            meta.remove("tensors");
            LinkedHashMap<String, byte[]> blobs = new LinkedHashMap<>();
            for (var en = zf.entries(); en.hasMoreElements(); ) {
                ZipEntry ze = en.nextElement();
                if (!ze.getName().startsWith("blobs/")) continue;
                blobs.put(ze.getName().substring("blobs/".length()), readBounded(zf, ze, file));
            }
            return new Loaded(out, meta, blobs);
        } catch (ArithmeticException e) {
            throw new WeightsFormatException(file, "a tensor size overflows");
        } catch (WeightsFormatException e) {
            throw e;
        } catch (IOException e) {
            // ZipException (bad local header, bad deflate data), EOFException: the zip is corrupt
            throw new WeightsFormatException(file, "corrupt zip data: " + e.getMessage());
        }
    }

    /** Deflate cannot expand data more than 1032:1; a blob that inflates beyond that (plus slack) is corrupt. */
    private static final long MAX_INFLATE_RATIO = 1032;

    /** An entry's bytes, refusing more than its compressed size can honestly inflate to (zip bombs). */
    private static byte[] readBounded(ZipFile zf, ZipEntry ze, Path file) throws IOException {
        long limit = Math.min(BoundedInput.MAX_ARRAY, Math.max(0, ze.getCompressedSize()) * MAX_INFLATE_RATIO + 1024);
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        byte[] buf = new byte[1 << 16];
        try (InputStream in = zf.getInputStream(ze)) {
            for (int r; (r = in.read(buf)) > 0; ) {
                if (out.size() + (long) r > limit) {
                    throw new WeightsFormatException(file, "entry " + ze.getName() + " inflates beyond " + limit + " bytes");
                }
                out.write(buf, 0, r);
            }
        }
        return out.toByteArray();
    }

    /** An uncompressed (STORED) zip entry for {@code data}'s remaining bytes: size and CRC-32 set up front. */
    private static ZipEntry storedEntry(String name, ByteBuffer data) {
        CRC32 crc = new CRC32();
        crc.update(data.duplicate());
        ZipEntry ze = new ZipEntry(name);
        ze.setMethod(ZipEntry.STORED);
        ze.setSize(data.remaining());
        ze.setCompressedSize(data.remaining());
        ze.setCrc(crc.getValue());
        return ze;
    }

    private static String dtypeName(Tensor t, String name) {
        int v = t.scalar_type().value;
        if (v == ScalarType.Float.value) return "float32";
        if (v == ScalarType.Double.value) return "float64";
        if (v == ScalarType.Long.value) return "int64";
        if (v == ScalarType.Int.value) return "int32";
        if (v == ScalarType.Byte.value) return "uint8";
        if (v == ScalarType.Bool.value) return "bool";
        throw new IllegalArgumentException("checkpoint: tensor " + name + " has unsupported dtype " + Tensors.typeName(t));
    }

    private static ScalarType dtype(String name, Path file, String tensor) throws WeightsFormatException {
        return switch (name) {
            case "float32" -> ScalarType.Float;
            case "float64" -> ScalarType.Double;
            case "int64" -> ScalarType.Long;
            case "int32" -> ScalarType.Int;
            case "uint8" -> ScalarType.Byte;
            case "bool" -> ScalarType.Bool;
            default -> throw new WeightsFormatException(file, "tensor " + tensor + " has unknown dtype '" + name + "'");
        };
    }

    private static int elementSize(ScalarType st) {
        if (st.value == ScalarType.Float.value || st.value == ScalarType.Int.value) return 4;
        if (st.value == ScalarType.Double.value || st.value == ScalarType.Long.value) return 8;
        return 1;
    }
}
