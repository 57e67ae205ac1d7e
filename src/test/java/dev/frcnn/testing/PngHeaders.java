package dev.frcnn.testing;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;

/** Decompression-bomb stand-ins for tests: PNG files that declare a size in their header and hold no pixel data. */
public final class PngHeaders {
    private PngHeaders() {}

    /** Writes a PNG of only its signature and IHDR chunk (valid CRC), declaring {@code w x h} 8-bit RGB pixels. */
    public static Path write(Path file, int w, int h) throws IOException {
        ByteBuffer ihdr = ByteBuffer.allocate(17).put("IHDR".getBytes(StandardCharsets.US_ASCII)).putInt(w).putInt(h)
                .put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
        CRC32 crc = new CRC32();
        crc.update(ihdr.array());
        ByteBuffer b = ByteBuffer.allocate(8 + 4 + 17 + 4).put(new byte[]{(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'})
                .putInt(13).put(ihdr.array()).putInt((int) crc.getValue());
        return Files.write(file, b.array());
    }
}
