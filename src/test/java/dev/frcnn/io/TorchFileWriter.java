package dev.frcnn.io;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/** Writes small torch.save-style files (zip and legacy layouts) from hand-made pickles, for tests. */
final class TorchFileWriter {
    private TorchFileWriter() {}

    /** Zip layout: {@code archive/data.pkl}, {@code archive/data/<key>} (stored), {@code archive/version}. */
    static Path writeZip(Path p, byte[] pickle, Map<String, byte[]> storages, String byteorder) throws IOException {
        try (OutputStream os = Files.newOutputStream(p); ZipOutputStream z = new ZipOutputStream(os)) {
            stored(z, "archive/data.pkl", pickle);
            if (byteorder != null) stored(z, "archive/byteorder", byteorder.getBytes());
            for (Map.Entry<String, byte[]> e : storages.entrySet()) stored(z, "archive/data/" + e.getKey(), e.getValue());
            stored(z, "archive/version", "3\n".getBytes());
        }
        return p;
    }

    private static void stored(ZipOutputStream z, String name, byte[] data) throws IOException {
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED);
        e.setSize(data.length);
        e.setCompressedSize(data.length);
        CRC32 crc = new CRC32();
        crc.update(data);
        e.setCrc(crc.getValue());
        z.putNextEntry(e);
        z.write(data);
        z.closeEntry();
    }

    /**
     * Legacy layout: magic, protocol 1001, sys_info, the main pickle, the key list, then per key an int64
     * element count ({@code counts}) and the raw bytes.
     */
    static Path writeLegacy(Path p, byte[] mainPickle, List<String> keys, Map<String, Long> counts,
                            Map<String, byte[]> data) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new PickleBuilder().proto(2).bigInteger(new BigInteger("1950a86a20f9469cfc6c", 16)).stop().toBytes());
        out.writeBytes(new PickleBuilder().proto(2).integer(1001).stop().toBytes());
        out.writeBytes(new PickleBuilder().proto(2).emptyDict().mark()
                .str("protocol_version").integer(1001).str("little_endian").bool(true)
                .str("type_sizes").emptyDict().mark().str("short").integer(2).str("int").integer(4)
                .str("long").integer(4).setitems()
                .setitems().stop().toBytes());
        out.writeBytes(mainPickle);
        PickleBuilder kl = new PickleBuilder().proto(2).emptyList().mark();
        for (String k : keys) kl.str(k);
        out.writeBytes(kl.appends().stop().toBytes());
        for (String k : keys) {
            out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(counts.get(k)).array());
            out.writeBytes(data.get(k));
        }
        Files.write(p, out.toByteArray());
        return p;
    }

    static byte[] floatsLE(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) b.putFloat(f);
        return b.array();
    }

    static byte[] floatsBE(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.BIG_ENDIAN);
        for (float f : v) b.putFloat(f);
        return b.array();
    }

    static byte[] longsLE(long... v) {
        ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long x : v) b.putLong(x);
        return b.array();
    }

    static byte[] doublesLE(double... v) {
        ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (double x : v) b.putDouble(x);
        return b.array();
    }
}
