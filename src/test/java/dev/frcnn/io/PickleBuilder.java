package dev.frcnn.io;

import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;

/**
 * Writes pickle opcodes by hand (protocol 2, plus STACK_GLOBAL from protocol 4) so that tests can build
 * {@code torch.save}-like files, including broken and hostile ones, without Python.
 */
final class PickleBuilder {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    PickleBuilder op(int code) {
        out.write(code);
        return this;
    }

    PickleBuilder raw(byte[] b) {
        out.writeBytes(b);
        return this;
    }

    PickleBuilder proto(int v) { return op(0x80).op(v); }
    PickleBuilder stop() { return op('.'); }
    PickleBuilder mark() { return op('('); }
    PickleBuilder tuple() { return op('t'); }
    PickleBuilder emptyTuple() { return op(')'); }
    PickleBuilder emptyDict() { return op('}'); }
    PickleBuilder emptyList() { return op(']'); }
    PickleBuilder setitem() { return op('s'); }
    PickleBuilder setitems() { return op('u'); }
    PickleBuilder appends() { return op('e'); }
    PickleBuilder reduce() { return op('R'); }
    PickleBuilder build() { return op('b'); }
    PickleBuilder binpersid() { return op('Q'); }
    PickleBuilder none() { return op('N'); }
    PickleBuilder bool(boolean b) { return op(b ? 0x88 : 0x89); }

    PickleBuilder global(String module, String name) {
        op('c');
        raw((module + "\n" + name + "\n").getBytes(StandardCharsets.UTF_8));
        return this;
    }

    PickleBuilder stackGlobal(String module, String name) {
        return str(module).str(name).op(0x93);
    }

    PickleBuilder str(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        op('X');
        int n = b.length;
        raw(new byte[]{(byte) n, (byte) (n >> 8), (byte) (n >> 16), (byte) (n >> 24)});
        return raw(b);
    }

    /** BINUNICODE with a length field that does not match the data (for hostile tests). */
    PickleBuilder strWithLength(long claimed, String s) {
        op('X');
        raw(new byte[]{(byte) claimed, (byte) (claimed >> 8), (byte) (claimed >> 16), (byte) (claimed >> 24)});
        return raw(s.getBytes(StandardCharsets.UTF_8));
    }

    PickleBuilder bytes(byte[] b) {
        op('B');
        int n = b.length;
        raw(new byte[]{(byte) n, (byte) (n >> 8), (byte) (n >> 16), (byte) (n >> 24)});
        return raw(b);
    }

    /** Any int: BININT for 32-bit values, LONG1 otherwise. */
    PickleBuilder integer(long v) {
        if (v == (int) v) {
            op('J');
            return raw(new byte[]{(byte) v, (byte) (v >> 8), (byte) (v >> 16), (byte) (v >> 24)});
        }
        return bigInteger(BigInteger.valueOf(v));
    }

    PickleBuilder bigInteger(BigInteger v) {
        byte[] be = v.toByteArray();
        byte[] le = new byte[be.length];
        for (int i = 0; i < be.length; i++) le[i] = be[be.length - 1 - i];
        op(0x8a).op(le.length);
        return raw(le);
    }

    PickleBuilder floating(double d) {
        op('G');
        long bits = Double.doubleToLongBits(d);
        for (int i = 7; i >= 0; i--) out.write((int) (bits >>> (8 * i)));
        return this;
    }

    PickleBuilder ints(long... vs) {
        mark();
        for (long v : vs) integer(v);
        return tuple();
    }

    /** {@code collections.OrderedDict()} */
    PickleBuilder orderedDict() {
        return global("collections", "OrderedDict").emptyTuple().reduce();
    }

    /**
     * {@code torch._utils._rebuild_tensor_v2(<storage pid>, offset, size, stride, False, OrderedDict())}, as
     * torch.save writes it (5-element persistent id for zip files, 6 with a trailing None for legacy files).
     */
    PickleBuilder tensor(String storageClass, String key, long storageNumel, long offset, long[] size, long[] stride,
                         boolean legacy) {
        global("torch._utils", "_rebuild_tensor_v2");
        mark();
        mark().str("storage").global("torch", storageClass).str(key).str("cpu").integer(storageNumel);
        if (legacy) none();
        tuple().binpersid();
        integer(offset).ints(size).ints(stride).bool(false).orderedDict();
        return tuple().reduce();
    }

    byte[] toBytes() {
        return out.toByteArray();
    }
}
