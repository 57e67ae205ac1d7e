package dev.frcnn.io;

import dev.frcnn.io.RestrictedUnpickler.StorageRef;
import dev.frcnn.io.RestrictedUnpickler.StorageType;
import dev.frcnn.io.RestrictedUnpickler.TensorRef;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;

import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

import static org.bytedeco.pytorch.global.torch.empty;

/**
 * Reads files written by PyTorch's {@code torch.save} without Python, as LibTorch CPU tensors. Mirrors
 * {@code torch.load(f, map_location='cpu', weights_only=True)} for the two on-disk formats:
 * <ul>
 *   <li>the zip format (torch &ge; 1.6): {@code <prefix>/data.pkl} (the pickled object),
 *       {@code <prefix>/data/<key>} (one raw storage per key), optionally {@code <prefix>/version} and
 *       {@code <prefix>/byteorder};</li>
 *   <li>the legacy stream (torch &lt; 1.6, or {@code _use_new_zipfile_serialization=False}): pickled magic
 *       number {@code 0x1950a86a20f9469cfc6c}, protocol version 1001, {@code sys_info}, the object, the pickled
 *       list of storage keys, then per key an int64 element count and the raw bytes.</li>
 * </ul>
 * Storages are referenced by persistent ids {@code ('storage', torch.<T>Storage, key, location, numel[,
 * view_metadata])}; tensors are rebuilt from {@code torch._utils._rebuild_tensor_v2(storage, offset, size,
 * stride, requires_grad, backward_hooks[, metadata])} (and {@code _rebuild_parameter}) as
 * {@code storage.as_strided(size, stride, offset)} on one 1-D tensor per storage, so views that share a storage
 * in the file share memory here too. Supported storage types: Float, Double, Half, BFloat16, Long, Int, Short,
 * Char, Byte, Bool. {@code requires_grad} and backward hooks are ignored (state dicts are detached anyway).
 *
 * <p>Security: only an allowlist of globals is resolved (see {@link RestrictedUnpickler}); any other global
 * (e.g. {@code os.system}, {@code builtins.eval}, a pickled {@code nn.Module} class) is rejected. Every declared
 * size is checked against the file before memory is allocated: storage sizes against zip entry sizes or the
 * bytes left in a legacy stream, each tensor's extent against its storage, and 64-bit overflows.
 *
 * <p>Result: a Java object tree of {@link LinkedHashMap} (dict and OrderedDict, order kept), {@link List}
 * (list), {@code Object[]} (tuple, torch.Size), {@link Set} (set), {@link String}, {@code byte[]},
 * {@link Integer}/{@link Long} (int; {@link BigInteger} beyond 64 bits), {@link Double}, {@link Boolean},
 * {@code null} and {@link Tensor}. Tensors are created on the calling thread: call inside a
 * {@link org.bytedeco.javacpp.PointerScope} or close them yourself.
 */
public final class PthReader {
    private PthReader() {}

    /** The legacy format's magic number (first pickle of the stream). */
    static final BigInteger LEGACY_MAGIC = new BigInteger("1950a86a20f9469cfc6c", 16);
    /** The legacy format's protocol version (second pickle). */
    static final int LEGACY_PROTOCOL = 1001;
    /** Largest {@code data.pkl} accepted (a state dict's pickle is kilobytes to a few megabytes). */
    static final long MAX_PICKLE_BYTES = 256L << 20;
    /** Deflate cannot expand data by more than about 1032:1. */
    private static final long MAX_DEFLATE_RATIO = 1032;
    /** Nesting deeper than this in the unpickled object is rejected (no stack overflow on hostile input). */
    private static final int MAX_DEPTH = 1000;

    /**
     * Reads a {@code torch.save} file (zip or legacy format) into a Java object tree with CPU tensors.
     *
     * @param file the {@code .pth}/{@code .pt} file
     * @return the unpickled object (for a state dict: a {@code LinkedHashMap<String, Tensor>} in file order)
     * @throws WeightsFormatException if the file is not a PyTorch file, is truncated or inconsistent, or holds a
     *                                global outside the allowlist; the message names the file and the problem
     * @throws IOException            if the file cannot be read at all (e.g. it does not exist)
     */
    public static Object read(Path file) throws IOException {
        long fileSize = Files.size(file);
        byte[] head = new byte[4];
        int n;
        try (InputStream in = Files.newInputStream(file)) {
            n = in.readNBytes(head, 0, 4);
        }
        if (n >= 2 && head[0] == 'P' && head[1] == 'K') return readZip(file, fileSize);
        if (n >= 1 && (head[0] & 0xFF) == 0x80) return readLegacy(file, fileSize);
        if (n == 0) throw new WeightsFormatException(file, "empty file, not a PyTorch weights file");
        throw new WeightsFormatException(file, "not a PyTorch weights file: neither a zip archive (torch >= 1.6) "
                + "nor a legacy torch.save stream (first bytes " + hex(head, n) + ")");
    }

    /**
     * Reads a file holding a state dict, or a checkpoint dict holding one under {@code model} (see
     * {@link StateDicts#stateDict(Object, Path)}).
     *
     * @param file the {@code .pth} file
     * @return parameter/buffer name to tensor, in file order
     * @throws WeightsFormatException as {@link #read(Path)}, or if the content is not a state dict
     * @throws IOException            if the file cannot be read at all
     */
    public static Map<String, Tensor> readStateDict(Path file) throws IOException {
        return StateDicts.stateDict(read(file), file);
    }

    // ------------------------------------------------------------------ zip format

    private static Object readZip(Path file, long fileSize) throws IOException {
        ZipFile zf;
        try {
            zf = new ZipFile(file.toFile());
        } catch (ZipException | EOFException e) {
            throw new WeightsFormatException(file, "corrupt or truncated zip archive (" + e.getMessage() + ")", e);
        }
        try (zf) {
            ZipEntry pklEntry = null;
            boolean torchScript = false;
            for (Enumeration<? extends ZipEntry> en = zf.entries(); en.hasMoreElements(); ) {
                ZipEntry e = en.nextElement();
                String name = e.getName();
                int slash = name.indexOf('/');
                if (slash > 0 && name.substring(slash + 1).equals("data.pkl")) {
                    if (pklEntry != null) {
                        throw new WeightsFormatException(file, "zip archive holds more than one data.pkl ("
                                + pklEntry.getName() + ", " + name + ")");
                    }
                    pklEntry = e;
                }
                if (name.endsWith("/constants.pkl")) torchScript = true;
            }
            if (pklEntry == null) {
                throw new WeightsFormatException(file, "zip archive without <name>/data.pkl: not a torch.save file");
            }
            if (torchScript) {
                throw new WeightsFormatException(file, "TorchScript archive (torch.jit.save), not a torch.save file");
            }
            String prefix = pklEntry.getName().substring(0, pklEntry.getName().length() - "data.pkl".length());

            byte[] pkl = readSmallEntry(file, zf, pklEntry, MAX_PICKLE_BYTES);
            Map<String, StorageRef> refs = new LinkedHashMap<>();
            BoundedInput pin = new BoundedInput(new ByteArrayInputStream(pkl), pkl.length, file, pklEntry.getName());
            Object root = new RestrictedUnpickler(pin, pid -> storageRef(file, pid, refs, false)).load();

            boolean bigEndian = false;
            ZipEntry bo = zf.getEntry(prefix + "byteorder");
            if (bo != null) {
                String order = new String(readSmallEntry(file, zf, bo, 64), StandardCharsets.US_ASCII).trim();
                if (order.equals("big")) bigEndian = true;
                else if (!order.equals("little")) {
                    throw new WeightsFormatException(file, "unknown byteorder '" + order + "' in " + bo.getName());
                }
            }

            Map<String, Tensor> storages = new LinkedHashMap<>();
            for (StorageRef ref : refs.values()) {
                String entryName = prefix + "data/" + ref.key();
                ZipEntry e = zf.getEntry(entryName);
                if (e == null) {
                    throw new WeightsFormatException(file, "storage '" + ref.key() + "' is referenced by data.pkl, but "
                            + "the zip archive has no entry " + entryName);
                }
                long nbytes = storageBytes(file, ref);
                long declared = e.getSize();
                if (declared >= 0 && declared != nbytes) {
                    throw new WeightsFormatException(file, "storage '" + ref.key() + "' declares " + ref.numel() + " "
                            + ref.type().name() + " elements (" + nbytes + " bytes), but zip entry " + entryName
                            + " holds " + declared + " bytes");
                }
                long bound = fileSize;
                if (e.getMethod() != ZipEntry.STORED) {
                    long c = Math.max(e.getCompressedSize(), 0);
                    bound = c > Long.MAX_VALUE / MAX_DEFLATE_RATIO ? Long.MAX_VALUE : c * MAX_DEFLATE_RATIO;
                }
                if (nbytes > bound) {
                    throw new WeightsFormatException(file, "storage '" + ref.key() + "' claims " + nbytes
                            + " bytes, more than the file (" + fileSize + " bytes) can hold");
                }
                try (InputStream in = zf.getInputStream(e)) {
                    BoundedInput bin = new BoundedInput(in, nbytes, file, "zip entry " + entryName);
                    storages.put(ref.key(), readStorage(bin, ref, bigEndian));
                    if (in.read() >= 0) {
                        throw new WeightsFormatException(file, "zip entry " + entryName + " is longer than the "
                                + nbytes + " bytes its storage declares");
                    }
                }
            }
            return resolve(file, root, storages);
        } catch (ZipException | EOFException e) {
            throw new WeightsFormatException(file, "corrupt or truncated zip archive (" + e.getMessage() + ")", e);
        }
    }

    private static byte[] readSmallEntry(Path file, ZipFile zf, ZipEntry e, long max) throws IOException {
        if (e.getSize() > max) {
            throw new WeightsFormatException(file, "zip entry " + e.getName() + " is too large (" + e.getSize() + " bytes)");
        }
        try (InputStream in = zf.getInputStream(e)) {
            byte[] b = in.readNBytes((int) max + 1);
            if (b.length > max) {
                throw new WeightsFormatException(file, "zip entry " + e.getName() + " is larger than " + max + " bytes");
            }
            if (e.getSize() >= 0 && b.length != e.getSize()) {
                throw new WeightsFormatException(file, "zip entry " + e.getName() + " is truncated (" + b.length
                        + " of " + e.getSize() + " bytes)");
            }
            return b;
        }
    }

    // ------------------------------------------------------------------ legacy format

    private static Object readLegacy(Path file, long fileSize) throws IOException {
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
            BoundedInput header = new BoundedInput(raw, fileSize, file, "legacy torch.save stream");
            Object magic;
            try {
                magic = new RestrictedUnpickler(header, null).load();
            } catch (WeightsFormatException e) {
                throw new WeightsFormatException(file, "not a PyTorch weights file (no legacy torch.save magic number): "
                        + e.getMessage(), e);
            }
            if (!LEGACY_MAGIC.equals(magic)) {
                throw new WeightsFormatException(file, "not a PyTorch weights file: a pickle, but without the legacy "
                        + "torch.save magic number (did you mean a plain pickle?)");
            }
            Object protocol = new RestrictedUnpickler(header, null).load();
            if (!(protocol instanceof Integer p) || p != LEGACY_PROTOCOL) {
                throw new WeightsFormatException(file, "unsupported legacy protocol version " + protocol);
            }
            Object sysInfo = new RestrictedUnpickler(header, null).load();
            boolean bigEndian = false;
            if (sysInfo instanceof Map<?, ?> m && Boolean.FALSE.equals(m.get("little_endian"))) bigEndian = true;

            Map<String, StorageRef> refs = new LinkedHashMap<>();
            Object root = new RestrictedUnpickler(header, pid -> storageRef(file, pid, refs, true)).load();
            Object keys = new RestrictedUnpickler(header, null).load();
            if (!(keys instanceof List<?> keyList)) {
                throw new WeightsFormatException(file, "legacy storage key list missing (found "
                        + RestrictedUnpickler.typeName(keys) + ")");
            }
            Map<String, Tensor> storages = new LinkedHashMap<>();
            for (Object k : keyList) {
                String key = String.valueOf(k);
                StorageRef ref = refs.get(key);
                if (ref == null) {
                    throw new WeightsFormatException(file, "legacy storage '" + key + "' is listed but never referenced");
                }
                if (storages.containsKey(key)) {
                    throw new WeightsFormatException(file, "legacy storage '" + key + "' is listed twice");
                }
                long count = header.readLongLE();
                if (count != ref.numel()) {
                    throw new WeightsFormatException(file, "legacy storage '" + key + "' holds " + count
                            + " elements, but the pickle declares " + ref.numel());
                }
                long nbytes = storageBytes(file, ref);
                header.checkAvailable(nbytes, "storage '" + key + "' (" + count + " " + ref.type().name() + " elements)");
                storages.put(key, readStorage(header, ref, bigEndian));
            }
            for (String key : refs.keySet()) {
                if (!storages.containsKey(key)) {
                    throw new WeightsFormatException(file, "legacy storage '" + key
                            + "' is referenced by the pickle but not stored in the file");
                }
            }
            return resolve(file, root, storages);
        }
    }

    // ------------------------------------------------------------------ storages and tensors

    /** Validates a persistent id and records its storage (one record per key, consistent across uses). */
    private static StorageRef storageRef(Path file, Object pid, Map<String, StorageRef> refs, boolean legacy)
            throws WeightsFormatException {
        if (!(pid instanceof Object[] t) || t.length < 5 || !"storage".equals(t[0])) {
            throw new WeightsFormatException(file, "unsupported persistent id " + describe(pid)
                    + " (expected ('storage', type, key, location, numel))");
        }
        if (!(t[1] instanceof StorageType type)) {
            throw new WeightsFormatException(file, "persistent id with storage type "
                    + RestrictedUnpickler.typeName(t[1]) + " (supported: Float, Double, Half, BFloat16, Long, Int, "
                    + "Short, Char, Byte, Bool)");
        }
        String key = String.valueOf(t[2]);
        if (!(t[4] instanceof Integer || t[4] instanceof Long)) {
            throw new WeightsFormatException(file, "storage '" + key + "' with element count " + describe(t[4]));
        }
        long numel = ((Number) t[4]).longValue();
        if (numel < 0) throw new WeightsFormatException(file, "storage '" + key + "' with negative size " + numel);
        StorageRef root = new StorageRef(key, type, numel, 0, numel);
        StorageRef old = refs.putIfAbsent(key, root);
        if (old != null && (!old.type().equals(type) || old.numel() != numel)) {
            throw new WeightsFormatException(file, "storage '" + key + "' is declared twice with different type/size ("
                    + old.type().name() + " x " + old.numel() + " vs " + type.name() + " x " + numel + ")");
        }
        if (t.length > 5 && t[5] != null) {
            if (!legacy || !(t[5] instanceof Object[] v) || v.length != 3
                    || !(v[1] instanceof Integer || v[1] instanceof Long) || !(v[2] instanceof Integer || v[2] instanceof Long)) {
                throw new WeightsFormatException(file, "unsupported storage view metadata " + describe(t[5]));
            }
            long off = ((Number) v[1]).longValue(), len = ((Number) v[2]).longValue();
            if (off < 0 || len < 0 || off > numel || len > numel - off) {
                throw new WeightsFormatException(file, "storage view [" + off + ", +" + len + ") outside storage '"
                        + key + "' of " + numel + " elements");
            }
            return new StorageRef(key, type, numel, off, len);
        }
        return old != null ? old : root;
    }

    private static long storageBytes(Path file, StorageRef ref) throws WeightsFormatException {
        try {
            return Math.multiplyExact(ref.numel(), ref.type().elemSize());
        } catch (ArithmeticException e) {
            throw new WeightsFormatException(file, "storage '" + ref.key() + "' claims an absurd size of "
                    + ref.numel() + " elements");
        }
    }

    /** Allocates a 1-D tensor of the storage's dtype and fills it from {@code in} (sizes already checked). */
    private static Tensor readStorage(BoundedInput in, StorageRef ref, boolean bigEndian) throws IOException {
        StorageType type = ref.type();
        long nbytes = Math.multiplyExact(ref.numel(), type.elemSize());
        in.checkAvailable(nbytes, "storage '" + ref.key() + "'");
        Tensor s = empty(new long[]{ref.numel()}, new TensorOptions(type.dtype()), null);
        if (nbytes == 0) return s;
        BytePointer dst = new BytePointer(s.data_ptr());
        byte[] buf = new byte[(int) Math.min(nbytes, 1 << 20)];
        for (long off = 0; off < nbytes; ) {
            int len = (int) Math.min(buf.length, nbytes - off);
            in.readFully(buf, 0, len);
            if (bigEndian && type.elemSize() > 1) swapBytes(buf, len, type.elemSize());
            dst.position(off).put(buf, 0, len);
            off += len;
        }
        return s;
    }

    private static void swapBytes(byte[] b, int len, int elem) {
        for (int i = 0; i + elem <= len; i += elem) {
            for (int a = i, z = i + elem - 1; a < z; a++, z--) {
                byte t = b[a];
                b[a] = b[z];
                b[z] = t;
            }
        }
    }

    /** Replaces every {@link TensorRef} (and bare storage) in the tree by a tensor; shared refs stay shared. */
    private static Object resolve(Path file, Object root, Map<String, Tensor> storages) throws WeightsFormatException {
        return new Resolver(file, storages).walk(root, 0);
    }

    private static final class Resolver {
        private final Path file;
        private final Map<String, Tensor> storages;
        private final IdentityHashMap<Object, Object> done = new IdentityHashMap<>();

        Resolver(Path file, Map<String, Tensor> storages) {
            this.file = file;
            this.storages = storages;
        }

        Object walk(Object o, int depth) throws WeightsFormatException {
            if (o == null || o instanceof String || o instanceof Number || o instanceof Boolean || o instanceof byte[]) {
                return o;
            }
            Object prev = done.get(o);
            if (prev != null) return prev;
            if (depth > MAX_DEPTH) throw new WeightsFormatException(file, "object nested deeper than " + MAX_DEPTH);
            if (o instanceof TensorRef t) {
                Tensor storage = storages.get(t.storage.key());
                Tensor r = storage.as_strided(t.size, t.stride, new LongOptional(t.storage.viewOffset() + t.offset));
                done.put(o, r);
                return r;
            }
            if (o instanceof StorageRef s) {
                Tensor r = storages.get(s.key()).narrow(0, s.viewOffset(), s.viewNumel());
                done.put(o, r);
                return r;
            }
            if (o instanceof Map<?, ?> m) {
                done.put(o, o);
                @SuppressWarnings("unchecked") Map<Object, Object> mm = (Map<Object, Object>) m;
                for (Map.Entry<Object, Object> e : mm.entrySet()) e.setValue(walk(e.getValue(), depth + 1));
                return o;
            }
            if (o instanceof List<?> l) {
                done.put(o, o);
                @SuppressWarnings("unchecked") List<Object> ll = (List<Object>) l;
                for (int i = 0; i < ll.size(); i++) ll.set(i, walk(ll.get(i), depth + 1));
                return o;
            }
            if (o instanceof Object[] a) {
                done.put(o, o);
                for (int i = 0; i < a.length; i++) a[i] = walk(a[i], depth + 1);
                return o;
            }
            if (o instanceof Set<?> s) {
                Set<Object> r = new LinkedHashSet<>();
                done.put(o, r);
                for (Object x : s) r.add(walk(x, depth + 1));
                return r;
            }
            throw new WeightsFormatException(file, "unsupported value of type " + RestrictedUnpickler.typeName(o)
                    + " in the unpickled object");
        }
    }

    private static String describe(Object o) {
        if (o instanceof Object[] a) {
            List<String> parts = new ArrayList<>();
            for (Object x : a) parts.add(describe(x));
            return "(" + String.join(", ", parts) + ")";
        }
        if (o instanceof String s) return "'" + s + "'";
        return o == null ? "None" : o instanceof Number || o instanceof Boolean ? o.toString() : RestrictedUnpickler.typeName(o);
    }

    private static String hex(byte[] b, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) sb.append(String.format("%02x", b[i] & 0xFF));
        return sb.toString();
    }
}
