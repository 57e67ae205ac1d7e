package dev.frcnn.data;

import java.io.ByteArrayOutputStream;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * Whether an encoded image file reaches its end marker, and how to complete one that does not, so that a
 * truncated file can be decoded ({@link TruncatedImages#LOAD}).
 *
 * <p>JPEG: the file is walked marker by marker from SOI (segments by their length, entropy-coded scan data up to the
 * next real marker: {@code FF 00} stuffing, {@code FF D0..D7} restarts and {@code FF} fill bytes are data); it is
 * complete when an EOI marker ({@code FF D9}) is reached. An EOI inside a segment (an EXIF thumbnail's) does not
 * count, and bytes after the EOI (some cameras append data) are ignored. PNG: the chunks are walked by their
 * lengths; the file is complete when an {@code IEND} chunk is reached. Other formats, and files whose structure
 * cannot be walked (a byte that should start a marker does not), are reported complete: the decoder judges them.
 *
 * <p>Completion, which approximates libjpeg's own "premature end" handling and PIL's {@code LOAD_TRUNCATED_IMAGES}:
 * JPEG: {@code FF D9} is appended; libjpeg then sees the end marker where data was expected, decodes the rows it
 * has and fills the rest (zero coefficients: the remaining blocks take the last DC value, a flat grey or the colour
 * of the last decoded block). PNG: the image data that is there (the complete {@code IDAT} chunks and the part of
 * the last one) is inflated as far as it goes, padded with zero bytes to the image's full size (rows of filter type
 * 0 with value 0: black, or palette entry 0), and written back as one {@code IDAT} after the chunks that preceded
 * the image data, followed by {@code IEND}. libpng would otherwise refuse the file ("Not enough image data").
 */
final class ImageEnd {
    private ImageEnd() {}

    private static final byte[] PNG_IEND = {0, 0, 0, 0, 'I', 'E', 'N', 'D', (byte) 0xAE, 0x42, 0x60, (byte) 0x82};

    /**
     * What is missing at the end of a file, for messages: {@code "JPEG without its end marker (EOI)"},
     * {@code "PNG without its IEND chunk"}, or {@code null} when the file is complete (or not a JPEG or PNG, or
     * not walkable).
     *
     * @param b the whole file
     */
    static String missingEnd(byte[] b) {
        if (isPng(b)) return pngComplete(b) ? null : "PNG without its IEND chunk";
        if (isJpeg(b)) return jpegComplete(b) ? null : "JPEG without its end marker (EOI)";
        return null;
    }

    /**
     * The bytes of a truncated JPEG or PNG completed as the class comment says, for decoding; a complete file (or
     * another format) is returned as it is.
     *
     * @param b the whole file
     * @return completed bytes (a new array), or {@code b}
     */
    static byte[] completed(byte[] b) {
        if (missingEnd(b) == null) return b;
        if (isJpeg(b)) {
            byte[] out = java.util.Arrays.copyOf(b, b.length + 2);
            out[b.length] = (byte) 0xFF;
            out[b.length + 1] = (byte) 0xD9;
            return out;
        }
        byte[] png = completedPng(b);
        return png == null ? b : png;
    }

    private static boolean isJpeg(byte[] b) {
        return b.length >= 3 && u8(b, 0) == 0xFF && u8(b, 1) == 0xD8 && u8(b, 2) == 0xFF;
    }

    private static boolean isPng(byte[] b) {
        return b.length >= 8 && u8(b, 0) == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G' && b[4] == '\r'
                && b[5] == '\n' && b[6] == 0x1a && b[7] == '\n';
    }

    private static boolean jpegComplete(byte[] b) {
        int n = b.length, p = 2;
        while (true) {
            if (p >= n) return false;
            if (u8(b, p) != 0xFF) return true; // not walkable: let the decoder judge
            while (p < n && u8(b, p) == 0xFF) p++;
            if (p >= n) return false;
            int m = u8(b, p++);
            if (m == 0xD9) return true;
            if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;
            if (p + 2 > n) return false;
            int len = (u8(b, p) << 8) | u8(b, p + 1);
            if (len < 2) return true; // not walkable
            p += len;
            if (m != 0xDA) continue;
            // entropy-coded data of a scan: up to the next marker that is not stuffing, a restart or fill
            while (true) {
                if (p >= n) return false;
                if (u8(b, p) != 0xFF) {
                    p++;
                    continue;
                }
                if (p + 1 >= n) return false;
                int c = u8(b, p + 1);
                if (c == 0x00 || (c >= 0xD0 && c <= 0xD7)) {
                    p += 2;
                } else if (c == 0xFF) {
                    p++;
                } else {
                    break; // p at the marker's FF
                }
            }
        }
    }

    private static boolean pngComplete(byte[] b) {
        long n = b.length, p = 8;
        while (true) {
            if (p + 8 > n) return false;
            long len = u32(b, (int) p);
            if (b[(int) p + 4] == 'I' && b[(int) p + 5] == 'E' && b[(int) p + 6] == 'N' && b[(int) p + 7] == 'D') {
                return p + 12 + len <= n; // the whole chunk, CRC included
            }
            p += 12 + len;
        }
    }

    /** See the class comment; null if the file has no IHDR or an unsupported layout. */
    private static byte[] completedPng(byte[] b) {
        int n = b.length;
        if (n < 33 || b[12] != 'I' || b[13] != 'H' || b[14] != 'D' || b[15] != 'R') return null;
        long w = u32(b, 16), h = u32(b, 20);
        int depth = u8(b, 24), colour = u8(b, 25), interlace = u8(b, 28);
        int channels = switch (colour) {
            case 0, 3 -> 1;
            case 2 -> 3;
            case 4 -> 2;
            case 6 -> 4;
            default -> -1;
        };
        if (channels < 0 || w <= 0 || h <= 0) return null;
        long raw = interlace == 0 ? rawSize(w, h, channels, depth) : adam7RawSize(w, h, channels, depth);
        if (raw < 0 || raw > Integer.MAX_VALUE - 16) return null;
        ByteArrayOutputStream before = new ByteArrayOutputStream(); // chunks before the image data
        ByteArrayOutputStream idat = new ByteArrayOutputStream();
        before.write(b, 0, 8);
        int p = 8;
        boolean inData = false;
        while (p + 8 <= n) {
            long len = u32(b, p);
            boolean isIdat = b[p + 4] == 'I' && b[p + 5] == 'D' && b[p + 6] == 'A' && b[p + 7] == 'T';
            int avail = (int) Math.min(len, n - (p + 8L));
            if (isIdat) {
                inData = true;
                idat.write(b, p + 8, avail);
            } else if (!inData && p + 12L + len <= n) {
                before.write(b, p, (int) (12 + len));
            }
            if (p + 12L + len > n) break;
            p += (int) (12 + len);
        }
        byte[] data = new byte[(int) raw];
        Inflater inf = new Inflater();
        try {
            inf.setInput(idat.toByteArray());
            int off = 0;
            while (off < data.length) {
                int got = inf.inflate(data, off, data.length - off);
                if (got == 0 && (inf.finished() || inf.needsInput() || inf.needsDictionary())) break;
                off += got;
            }
        } catch (DataFormatException e) {
            // keep what was inflated before the damage; the rest stays 0
        } finally {
            inf.end();
        }
        Deflater def = new Deflater(Deflater.BEST_SPEED);
        ByteArrayOutputStream z = new ByteArrayOutputStream();
        try {
            def.setInput(data);
            def.finish();
            byte[] buf = new byte[65536];
            while (!def.finished()) z.write(buf, 0, def.deflate(buf));
        } finally {
            def.end();
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(before.toByteArray());
        writeChunk(out, "IDAT", z.toByteArray());
        out.writeBytes(PNG_IEND);
        return out.toByteArray();
    }

    /** Inflated IDAT bytes of a {@code w x h} image; {@link Long#MAX_VALUE} where that does not fit a long. */
    private static long rawSize(long w, long h, int channels, int depth) {
        if (w == 0 || h == 0) return 0;
        long rowBytes = (w * channels * depth + 7) / 8; // < 2^32 * 4 * 255: no overflow
        try {
            return Math.multiplyExact(h, 1 + rowBytes);
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    private static long adam7RawSize(long w, long h, int channels, int depth) {
        int[][] passes = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};
        long total = 0;
        for (int[] q : passes) {
            long pw = (w - q[0] + q[2] - 1) / q[2], ph = (h - q[1] + q[3] - 1) / q[3];
            if (w > q[0] && h > q[1]) total += rawSize(pw, ph, channels, depth);
        }
        return total;
    }

    private static void writeChunk(ByteArrayOutputStream out, String type, byte[] data) {
        byte[] t = type.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        int len = data.length;
        out.write(len >>> 24);
        out.write(len >>> 16);
        out.write(len >>> 8);
        out.write(len);
        out.writeBytes(t);
        out.writeBytes(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        long c = crc.getValue();
        out.write((int) (c >>> 24));
        out.write((int) (c >>> 16));
        out.write((int) (c >>> 8));
        out.write((int) c);
    }

    private static int u8(byte[] b, int i) {
        return b[i] & 0xFF;
    }

    private static long u32(byte[] b, int i) {
        return ((long) u8(b, i) << 24) | ((long) u8(b, i + 1) << 16) | ((long) u8(b, i + 2) << 8) | u8(b, i + 3);
    }
}
