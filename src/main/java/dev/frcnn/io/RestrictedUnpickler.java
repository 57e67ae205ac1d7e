package dev.frcnn.io;

import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A pickle reader (protocols 0-5, the opcodes that {@code torch.save} and plain Python containers use) that
 * only resolves an allowlist of globals, in the spirit of {@code torch.load(weights_only=True)}. It never
 * instantiates arbitrary classes and runs no code: every allowed global maps to a fixed Java action.
 *
 * <p>Allowed globals: the tensor rebuild functions of {@code torch._utils} ({@code _rebuild_tensor},
 * {@code _rebuild_tensor_v2}, {@code _rebuild_parameter}, {@code _rebuild_parameter_with_state}), the typed
 * storage classes {@code torch.<T>Storage}, {@code collections.OrderedDict}, {@code torch.Size},
 * {@code builtins.set}/{@code frozenset}, and, for numeric NumPy scalars (which the reference's
 * checkpoints hold, e.g. the {@code best_map} in {@code other_info}), {@code numpy.dtype},
 * {@code numpy.core.multiarray.scalar} and {@code _codecs.encode} with latin-1. Anything else is a
 * {@link WeightsFormatException} naming the global.
 *
 * <p>Result types: dict to {@link LinkedHashMap} (insertion order kept), list to {@link ArrayList}, tuple
 * to {@code Object[]}, set to {@link LinkedHashSet}, str to {@link String}, bytes to {@code byte[]}, int to
 * {@link Integer}/{@link Long} (or {@link BigInteger} beyond 64 bits), float to {@link Double}, bool to
 * {@link Boolean}, None to {@code null}; tensors stay {@link TensorRef} until {@link PthReader} has read the
 * storages.
 */
final class RestrictedUnpickler {

    /** A {@code torch.<T>Storage} class: its dtype and element size in bytes. */
    record StorageType(String name, ScalarType dtype, int elemSize) {}

    /**
     * A persistent storage reference: {@code key} names the data block, {@code numel} is the declared element
     * count of that block; {@code viewOffset}/{@code viewNumel} select a part of it (legacy storage views),
     * otherwise {@code 0}/{@code numel}.
     */
    record StorageRef(String key, StorageType type, long numel, long viewOffset, long viewNumel) {}

    /** A tensor to be built as {@code storage.as_strided(size, stride, offset)}. */
    static final class TensorRef {
        final StorageRef storage;
        final long offset;
        final long[] size;
        final long[] stride;

        TensorRef(StorageRef storage, long offset, long[] size, long[] stride) {
            this.storage = storage;
            this.offset = offset;
            this.size = size;
            this.stride = stride;
        }
    }

    /** Turns a persistent id (already unpickled) into an object, e.g. a {@link StorageRef}. */
    @FunctionalInterface
    interface PersistentLoader {
        Object load(Object pid) throws IOException;
    }

    /** An allowlisted callable global. */
    private record Global(String name) {}

    /** A {@code numpy.dtype} under construction: its type string (e.g. {@code f8}) and byte order. */
    private static final class NumpyDType {
        final String descr;
        String byteOrder = "=";

        NumpyDType(String descr) {
            this.descr = descr;
        }
    }

    static final Map<String, StorageType> STORAGE_TYPES = storageTypes();

    private static Map<String, StorageType> storageTypes() {
        Map<String, StorageType> m = new HashMap<>();
        Object[][] rows = {
                {"FloatStorage", ScalarType.Float, 4}, {"DoubleStorage", ScalarType.Double, 8},
                {"HalfStorage", ScalarType.Half, 2}, {"BFloat16Storage", ScalarType.BFloat16, 2},
                {"LongStorage", ScalarType.Long, 8}, {"IntStorage", ScalarType.Int, 4},
                {"ShortStorage", ScalarType.Short, 2}, {"CharStorage", ScalarType.Char, 1},
                {"ByteStorage", ScalarType.Byte, 1}, {"BoolStorage", ScalarType.Bool, 1},
        };
        for (Object[] r : rows) {
            String n = (String) r[0];
            m.put("torch." + n, new StorageType(n, (ScalarType) r[1], (Integer) r[2]));
        }
        return Map.copyOf(m);
    }

    private static final Set<String> CALLABLES = Set.of(
            "collections.OrderedDict",
            "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
            "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
            "torch.Size",
            "builtins.set", "builtins.frozenset", "__builtin__.set", "__builtin__.frozenset",
            "numpy.dtype", "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
            "_codecs.encode");

    private static final int MAX_LINE = 1 << 16;

    private final BoundedInput in;
    private final PersistentLoader persistent;
    private final ArrayList<Object> stack = new ArrayList<>();
    private final ArrayList<Integer> marks = new ArrayList<>();
    private final HashMap<Long, Object> memo = new HashMap<>();
    private long opcodeOffset;

    /**
     * @param in         the pickle bytes (reading stops after the STOP opcode)
     * @param persistent handles persistent ids, or {@code null} if the pickle must not contain any
     */
    RestrictedUnpickler(BoundedInput in, PersistentLoader persistent) {
        this.in = in;
        this.persistent = persistent;
    }

    private WeightsFormatException fail(String problem) {
        return new WeightsFormatException(in.file(), "invalid pickle in " + in.what() + " at offset "
                + opcodeOffset + ": " + problem);
    }

    /** Stack entries above the innermost MARK (Python keeps them in a separate list). */
    private int frameSize() {
        return marks.isEmpty() ? stack.size() : stack.size() - marks.get(marks.size() - 1);
    }

    private Object pop() throws WeightsFormatException {
        if (frameSize() <= 0) throw fail("stack underflow");
        return stack.remove(stack.size() - 1);
    }

    private Object peek() throws WeightsFormatException {
        if (frameSize() <= 0) throw fail("stack underflow");
        return stack.get(stack.size() - 1);
    }

    private List<Object> popMark() throws WeightsFormatException {
        if (marks.isEmpty()) throw fail("no MARK on the stack");
        int m = marks.remove(marks.size() - 1);
        List<Object> items = new ArrayList<>(stack.subList(m, stack.size()));
        stack.subList(m, stack.size()).clear();
        return items;
    }

    private void push(Object o) {
        stack.add(o);
    }

    /** Reads one pickle (up to and including its STOP opcode) and returns its value. */
    Object load() throws IOException {
        stack.clear();
        marks.clear();
        memo.clear();
        while (true) {
            opcodeOffset = in.position();
            int op = in.readByte();
            switch (op) {
                case 0x80 -> { // PROTO
                    int v = in.readByte();
                    if (v > 5) throw fail("unsupported pickle protocol " + v);
                }
                case 0x95 -> in.readBytes(8, "FRAME header"); // FRAME: only a length hint
                case '.' -> { // STOP
                    Object v = pop();
                    return v;
                }
                case '(' -> {
                    marks.add(stack.size());
                }
                case '0' -> {
                    if (frameSize() > 0) pop();
                    else popMark();
                }
                case '1' -> popMark();
                case '2' -> push(peek());
                case 'N' -> push(null);
                case 0x88 -> push(Boolean.TRUE);
                case 0x89 -> push(Boolean.FALSE);
                case 'I' -> push(parseIntLine(in.readLine(MAX_LINE)));
                case 'J' -> push(leInt(in.readBytes(4, "BININT")));
                case 'K' -> push(in.readByte());
                case 'M' -> {
                    int lo = in.readByte();
                    push(lo | (in.readByte() << 8));
                }
                case 'L' -> push(normalize(parseBig(stripL(in.readLine(MAX_LINE)))));
                case 0x8a -> push(normalize(leBig(in.readBytes(in.readByte(), "LONG1"))));
                case 0x8b -> push(normalize(leBig(in.readBytes(leInt(in.readBytes(4, "LONG4 length")), "LONG4"))));
                case 'F' -> push(parseFloatLine(in.readLine(MAX_LINE)));
                case 'G' -> push(ByteBuffer.wrap(in.readBytes(8, "BINFLOAT")).order(ByteOrder.BIG_ENDIAN).getDouble());
                case 'T' -> push(utf8(in.readBytes(leInt(in.readBytes(4, "BINSTRING length")), "BINSTRING")));
                case 'U' -> push(utf8(in.readBytes(in.readByte(), "SHORT_BINSTRING")));
                case 'X' -> push(utf8(in.readBytes(leUInt(in.readBytes(4, "BINUNICODE length")), "BINUNICODE")));
                case 0x8c -> push(utf8(in.readBytes(in.readByte(), "SHORT_BINUNICODE")));
                case 0x8d -> push(utf8(in.readBytes(leLong(in.readBytes(8, "BINUNICODE8 length")), "BINUNICODE8")));
                case 'B' -> push(in.readBytes(leUInt(in.readBytes(4, "BINBYTES length")), "BINBYTES"));
                case 'C' -> push(in.readBytes(in.readByte(), "SHORT_BINBYTES"));
                case 0x8e -> push(in.readBytes(leLong(in.readBytes(8, "BINBYTES8 length")), "BINBYTES8"));
                case ')' -> push(new Object[0]);
                case 't' -> push(popMark().toArray());
                case 0x85 -> push(new Object[]{pop()});
                case 0x86 -> {
                    Object b = pop(), a = pop();
                    push(new Object[]{a, b});
                }
                case 0x87 -> {
                    Object c = pop(), b = pop(), a = pop();
                    push(new Object[]{a, b, c});
                }
                case ']' -> push(new ArrayList<>());
                case 'l' -> push(new ArrayList<>(popMark()));
                case 'a' -> {
                    Object v = pop();
                    asList(peek()).add(v);
                }
                case 'e' -> {
                    List<Object> items = popMark();
                    asList(peek()).addAll(items);
                }
                case '}' -> push(new LinkedHashMap<>());
                case 'd' -> {
                    List<Object> items = popMark();
                    Map<Object, Object> m = new LinkedHashMap<>();
                    putAll(m, items);
                    push(m);
                }
                case 's' -> {
                    Object v = pop(), k = pop();
                    asMap(peek()).put(hashable(k), v);
                }
                case 'u' -> {
                    List<Object> items = popMark();
                    putAll(asMap(peek()), items);
                }
                case 0x8f -> push(new LinkedHashSet<>());
                case 0x90 -> {
                    List<Object> items = popMark();
                    Object s = peek();
                    if (!(s instanceof Set<?>)) throw fail("ADDITEMS on a " + typeName(s));
                    @SuppressWarnings("unchecked") Set<Object> set = (Set<Object>) s;
                    set.addAll(hashables(items));
                }
                case 0x91 -> push(new LinkedHashSet<>(hashables(popMark())));
                case 'p' -> memo.put(parseMemoIndex(in.readLine(MAX_LINE)), peek());
                case 'q' -> memo.put((long) in.readByte(), peek());
                case 'r' -> memo.put(leUInt(in.readBytes(4, "LONG_BINPUT")), peek());
                case 0x94 -> memo.put((long) memo.size(), peek());
                case 'g' -> push(memoGet(parseMemoIndex(in.readLine(MAX_LINE))));
                case 'h' -> push(memoGet(in.readByte()));
                case 'j' -> push(memoGet(leUInt(in.readBytes(4, "LONG_BINGET"))));
                case 'c' -> {
                    String module = in.readLine(MAX_LINE);
                    String name = in.readLine(MAX_LINE);
                    push(global(module, name));
                }
                case 0x93 -> {
                    Object name = pop(), module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) {
                        throw fail("STACK_GLOBAL needs two strings");
                    }
                    push(global(m, n));
                }
                case 'i' -> { // INST module\nname\n, args since MARK
                    String module = in.readLine(MAX_LINE);
                    String name = in.readLine(MAX_LINE);
                    Object g = global(module, name);
                    push(call(g, popMark().toArray()));
                }
                case 'o' -> { // OBJ: MARK cls args...
                    List<Object> items = popMark();
                    if (items.isEmpty()) throw fail("OBJ without a class");
                    push(call(items.get(0), items.subList(1, items.size()).toArray()));
                }
                case 'R' -> {
                    Object args = pop(), fn = pop();
                    push(call(fn, asTuple(args, "REDUCE arguments")));
                }
                case 0x81 -> { // NEWOBJ
                    Object args = pop(), cls = pop();
                    push(call(cls, asTuple(args, "NEWOBJ arguments")));
                }
                case 0x92 -> { // NEWOBJ_EX
                    Object kwargs = pop(), args = pop(), cls = pop();
                    if (!(kwargs instanceof Map<?, ?> kw) || !kw.isEmpty()) throw fail("NEWOBJ_EX with keyword arguments");
                    push(call(cls, asTuple(args, "NEWOBJ_EX arguments")));
                }
                case 'b' -> build(pop(), peek());
                case 'P' -> push(persistentLoad(in.readLine(MAX_LINE)));
                case 'Q' -> push(persistentLoad(pop()));
                case 0x82, 0x83, 0x84 -> throw fail("copyreg extension codes (EXT1/2/4) are not allowed");
                case 'S', 'V' -> throw fail("protocol-0 text strings (opcode '" + (char) op + "') are not supported");
                case 0x96, 0x97, 0x98 -> throw fail("protocol-5 buffers are not supported");
                default -> throw fail(String.format("unknown opcode 0x%02x", op));
            }
        }
    }

    // ---------------------------------------------------------------- globals and calls

    private Object global(String module, String name) throws WeightsFormatException {
        String q = module + "." + name;
        StorageType st = STORAGE_TYPES.get(q);
        if (st != null) return st;
        if (CALLABLES.contains(q)) return new Global(q);
        throw new WeightsFormatException(in.file(), "refusing to load the global '" + q + "' (pickle in "
                + in.what() + " at offset " + opcodeOffset + "): only tensors, storages, OrderedDict, torch.Size "
                + "and plain containers/scalars are allowed, as with torch.load(weights_only=True)");
    }

    private Object call(Object fn, Object[] args) throws WeightsFormatException {
        if (!(fn instanceof Global g)) throw fail("cannot call an object of type " + typeName(fn));
        switch (g.name()) {
            case "collections.OrderedDict" -> {
                Map<Object, Object> m = new LinkedHashMap<>();
                if (args.length > 1) throw fail("OrderedDict with " + args.length + " arguments");
                if (args.length == 1) {
                    for (Object item : iterable(args[0], "OrderedDict argument")) {
                        Object[] kv = asTuple(item instanceof List<?> l ? l.toArray() : item, "OrderedDict item");
                        if (kv.length != 2) throw fail("OrderedDict item of length " + kv.length);
                        m.put(hashable(kv[0]), kv[1]);
                    }
                }
                return m;
            }
            case "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2" -> {
                int min = g.name().endsWith("v2") ? 6 : 4;
                if (args.length < min || args.length > min + 1) {
                    throw fail(g.name() + " with " + args.length + " arguments");
                }
                if (!(args[0] instanceof StorageRef s)) throw fail(g.name() + ": first argument is not a storage");
                return tensorRef(s, toLong(args[1], "storage offset"), longs(args[2], "size"), longs(args[3], "stride"));
            }
            case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state" -> {
                if (args.length < 1 || !(args[0] instanceof TensorRef)) throw fail(g.name() + " without a tensor");
                return args[0];
            }
            case "torch.Size" -> {
                if (args.length == 0) return new Object[0];
                if (args.length != 1) throw fail("torch.Size with " + args.length + " arguments");
                return iterable(args[0], "torch.Size argument").toArray();
            }
            case "builtins.set", "builtins.frozenset", "__builtin__.set", "__builtin__.frozenset" -> {
                if (args.length == 0) return new LinkedHashSet<>();
                if (args.length != 1) throw fail(g.name() + " with " + args.length + " arguments");
                return new LinkedHashSet<>(hashables(iterable(args[0], g.name() + " argument")));
            }
            case "_codecs.encode" -> {
                if (args.length != 2 || !(args[0] instanceof String s) || !(args[1] instanceof String enc)
                        || !(enc.equalsIgnoreCase("latin1") || enc.equalsIgnoreCase("latin-1"))) {
                    throw fail("_codecs.encode is only allowed as encode(str, 'latin1')");
                }
                for (int i = 0; i < s.length(); i++) {
                    if (s.charAt(i) > 0xFF) throw fail("_codecs.encode: character outside latin-1");
                }
                return s.getBytes(StandardCharsets.ISO_8859_1);
            }
            case "numpy.dtype" -> {
                if (args.length < 1 || !(args[0] instanceof String d)) throw fail("numpy.dtype without a type string");
                return new NumpyDType(d);
            }
            case "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar" -> {
                if (args.length != 2 || !(args[0] instanceof NumpyDType dt) || !(args[1] instanceof byte[] b)) {
                    throw fail("numpy scalar needs (dtype, bytes)");
                }
                return numpyScalar(dt, b);
            }
            default -> throw fail("internal: no action for " + g.name());
        }
    }

    private TensorRef tensorRef(StorageRef s, long offset, long[] size, long[] stride) throws WeightsFormatException {
        if (size.length != stride.length) {
            throw fail("tensor size " + Arrays.toString(size) + " and stride " + Arrays.toString(stride) + " differ in length");
        }
        if (offset < 0) throw fail("negative storage offset " + offset);
        long numel = 1;
        long extent = offset; // index of the last element
        try {
            for (int i = 0; i < size.length; i++) {
                if (size[i] < 0 || stride[i] < 0) {
                    throw fail("negative tensor size or stride: size " + Arrays.toString(size) + ", stride "
                            + Arrays.toString(stride));
                }
                numel = Math.multiplyExact(numel, size[i]);
            }
            if (numel > 0) {
                for (int i = 0; i < size.length; i++) {
                    extent = Math.addExact(extent, Math.multiplyExact(size[i] - 1, stride[i]));
                }
                extent = Math.addExact(extent, 1);
            }
        } catch (ArithmeticException e) {
            throw fail("absurd tensor size " + Arrays.toString(size) + " / stride " + Arrays.toString(stride)
                    + " (overflows 64 bits)");
        }
        if (extent > s.viewNumel()) {
            throw new WeightsFormatException(in.file(), "a tensor of size " + Arrays.toString(size) + ", stride "
                    + Arrays.toString(stride) + " and offset " + offset + " needs " + extent
                    + " elements, but its storage '" + s.key() + "' has only " + s.viewNumel());
        }
        return new TensorRef(s, offset, size, stride);
    }

    private Object numpyScalar(NumpyDType dt, byte[] b) throws WeightsFormatException {
        String d = dt.descr;
        if (d.length() < 2) throw fail("numpy dtype '" + d + "' not supported");
        char kind = d.charAt(0);
        int n;
        try {
            n = Integer.parseInt(d.substring(1));
        } catch (NumberFormatException e) {
            throw fail("numpy dtype '" + d + "' not supported");
        }
        if (b.length != n) throw fail("numpy scalar of dtype " + d + " with " + b.length + " bytes");
        ByteBuffer bb = ByteBuffer.wrap(b).order(">".equals(dt.byteOrder) ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
        return switch (kind + "" + n) {
            case "f8" -> bb.getDouble();
            case "f4" -> (double) bb.getFloat();
            case "i8" -> bb.getLong();
            case "i4" -> (long) bb.getInt();
            case "i2" -> (long) bb.getShort();
            case "i1" -> (long) bb.get();
            case "u4" -> bb.getInt() & 0xFFFFFFFFL;
            case "u2" -> (long) (bb.getShort() & 0xFFFF);
            case "u1" -> (long) (bb.get() & 0xFF);
            case "b1" -> bb.get() != 0;
            default -> throw fail("numpy scalar of dtype '" + d + "' not supported");
        };
    }

    private void build(Object state, Object obj) throws WeightsFormatException {
        if (obj instanceof Map<?, ?>) {
            return; // OrderedDict's instance attributes (state_dict._metadata): not needed, dropped
        }
        if (obj instanceof NumpyDType dt && state instanceof Object[] t && t.length > 1 && t[1] instanceof String bo) {
            dt.byteOrder = bo;
            return;
        }
        throw fail("BUILD (setting object state) is not allowed on a " + typeName(obj));
    }

    private Object persistentLoad(Object pid) throws IOException {
        if (persistent == null) throw fail("persistent id where none is allowed");
        return persistent.load(pid);
    }

    // ---------------------------------------------------------------- helpers

    private Object memoGet(long idx) throws WeightsFormatException {
        if (!memo.containsKey(idx)) throw fail("memo key " + idx + " not defined");
        return memo.get(idx);
    }

    private List<Object> asList(Object o) throws WeightsFormatException {
        if (o instanceof List<?>) {
            @SuppressWarnings("unchecked") List<Object> l = (List<Object>) o;
            return l;
        }
        throw fail("APPEND to a " + typeName(o));
    }

    private Map<Object, Object> asMap(Object o) throws WeightsFormatException {
        if (o instanceof Map<?, ?>) {
            @SuppressWarnings("unchecked") Map<Object, Object> m = (Map<Object, Object>) o;
            return m;
        }
        throw fail("SETITEM on a " + typeName(o));
    }

    private void putAll(Map<Object, Object> m, List<Object> items) throws WeightsFormatException {
        if (items.size() % 2 != 0) throw fail("odd number of items for a dict");
        for (int i = 0; i < items.size(); i += 2) m.put(hashable(items.get(i)), items.get(i + 1));
    }

    /**
     * Dict keys and set elements must be hashable in Python; here that also keeps Java's structural
     * {@code hashCode} away from (possibly self-containing) lists, dicts and sets.
     */
    private Object hashable(Object k) throws WeightsFormatException {
        if (k instanceof List<?> || k instanceof Map<?, ?> || k instanceof Set<?>) {
            throw fail("unhashable " + typeName(k) + " used as a dict key or set element");
        }
        return k;
    }

    private Collection<Object> hashables(Collection<Object> items) throws WeightsFormatException {
        for (Object o : items) hashable(o);
        return items;
    }

    private Object[] asTuple(Object o, String what) throws WeightsFormatException {
        if (o instanceof Object[] a) return a;
        throw fail(what + " is a " + typeName(o) + ", not a tuple");
    }

    private Collection<Object> iterable(Object o, String what) throws WeightsFormatException {
        if (o instanceof Object[] a) return Arrays.asList(a);
        if (o instanceof Collection<?>) {
            @SuppressWarnings("unchecked") Collection<Object> c = (Collection<Object>) o;
            return c;
        }
        throw fail(what + " is a " + typeName(o));
    }

    private long toLong(Object o, String what) throws WeightsFormatException {
        if (o instanceof Integer || o instanceof Long) return ((Number) o).longValue();
        if (o instanceof BigInteger b) throw fail(what + " " + b + " does not fit in 64 bits");
        throw fail(what + " is a " + typeName(o) + ", not an int");
    }

    private long[] longs(Object o, String what) throws WeightsFormatException {
        Collection<Object> c = iterable(o, what);
        long[] r = new long[c.size()];
        int i = 0;
        for (Object x : c) r[i++] = toLong(x, what + " element");
        return r;
    }

    static String typeName(Object o) {
        if (o == null) return "None";
        if (o instanceof Global g) return "global " + g.name();
        if (o instanceof StorageType s) return "storage class " + s.name();
        if (o instanceof Object[]) return "tuple";
        return o.getClass().getSimpleName();
    }

    private static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    private static int leInt(byte[] b) {
        return (b[0] & 0xFF) | (b[1] & 0xFF) << 8 | (b[2] & 0xFF) << 16 | (b[3] & 0xFF) << 24;
    }

    private static long leUInt(byte[] b) {
        return leInt(b) & 0xFFFFFFFFL;
    }

    private static long leLong(byte[] b) {
        long v = 0;
        for (int i = 7; i >= 0; i--) v = (v << 8) | (b[i] & 0xFF);
        return v;
    }

    /** Little-endian two's complement, as LONG1/LONG4 store it. */
    private static BigInteger leBig(byte[] b) {
        if (b.length == 0) return BigInteger.ZERO;
        byte[] be = new byte[b.length];
        for (int i = 0; i < b.length; i++) be[i] = b[b.length - 1 - i];
        return new BigInteger(be);
    }

    private static Object normalize(BigInteger v) {
        if (v.bitLength() < 32) return v.intValue();
        if (v.bitLength() < 64) return v.longValue();
        return v;
    }

    private Object parseIntLine(String s) throws WeightsFormatException {
        if (s.equals("01")) return Boolean.TRUE;
        if (s.equals("00")) return Boolean.FALSE;
        return normalize(parseBig(s));
    }

    private static String stripL(String s) {
        return s.endsWith("L") ? s.substring(0, s.length() - 1) : s;
    }

    private BigInteger parseBig(String s) throws WeightsFormatException {
        try {
            return new BigInteger(s.trim());
        } catch (NumberFormatException e) {
            throw fail("bad integer literal '" + s + "'");
        }
    }

    private Double parseFloatLine(String s) throws WeightsFormatException {
        try {
            return Double.parseDouble(s.trim());
        } catch (NumberFormatException e) {
            throw fail("bad float literal '" + s + "'");
        }
    }

    private long parseMemoIndex(String s) throws WeightsFormatException {
        try {
            return Long.parseLong(s.trim());
        } catch (NumberFormatException e) {
            throw fail("bad memo index '" + s + "'");
        }
    }
}
