package dev.frcnn.testing;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;

/** Test helper: a small valid PNG and copies of it with a damaged chunk CRC. */
public final class DamagedPngs {
    private DamagedPngs() {}

    /** A valid 16 x 8 PNG (ImageIO's encoder). */
    public static byte[] png() throws IOException {
        BufferedImage img = new BufferedImage(16, 8, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 8; y++) for (int x = 0; x < 16; x++) img.setRGB(x, y, (x * 16) << 16 | (y * 32) << 8 | 77);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "png", out);
        return out.toByteArray();
    }

    /** Offset of the first chunk of this type. */
    public static int find(byte[] png, String type) {
        for (int p = 8; p + 8 <= png.length; p += 12 + ByteBuffer.wrap(png, p, 4).getInt()) {
            if (new String(png, p + 4, 4, StandardCharsets.ISO_8859_1).equals(type)) return p;
        }
        throw new AssertionError("no " + type);
    }

    /** The same PNG with its IDAT chunk's CRC flipped (libpng: "IDAT: CRC error", an error). */
    public static byte[] badIdatCrc(byte[] png) {
        byte[] b = png.clone();
        int p = find(b, "IDAT");
        b[p + 8 + ByteBuffer.wrap(b, p, 4).getInt() + 3] ^= 1;
        return b;
    }

    /** The same PNG with a tEXt chunk whose CRC is wrong after IHDR (libpng: "tEXt: CRC error", a warning). */
    public static byte[] badTextChunk(byte[] png) {
        byte[] data = "Comment\0hello".getBytes(StandardCharsets.ISO_8859_1);
        ByteBuffer chunk = ByteBuffer.allocate(12 + data.length);
        chunk.putInt(data.length).put("tEXt".getBytes(StandardCharsets.ISO_8859_1)).put(data);
        CRC32 crc = new CRC32();
        crc.update(chunk.array(), 4, 4 + data.length);
        chunk.putInt((int) crc.getValue() ^ 0x100);
        int at = find(png, "IDAT");
        byte[] out = new byte[png.length + chunk.capacity()];
        System.arraycopy(png, 0, out, 0, at);
        System.arraycopy(chunk.array(), 0, out, at, chunk.capacity());
        System.arraycopy(png, at, out, at + chunk.capacity(), png.length - at);
        return out;
    }

}
