package dev.frcnn.data;

import java.nio.charset.StandardCharsets;

/**
 * The format and pixel size of an image, read from its header only (no pixel is decoded, nothing is allocated
 * beyond this record), so that {@link ImageReader} can refuse decompression bombs before OpenCV allocates the
 * decoded image.
 *
 * <p>Formats: PNG (IHDR), JPEG (the first SOF0..SOF15 marker segment), BMP (BITMAPCOREHEADER and the
 * BITMAPINFOHEADER family), GIF (logical screen), WebP (VP8, VP8L, VP8X), TIFF (first IFD, classic TIFF) and
 * PNM (P1..P6). These are the formats OpenCV decodes that the project accepts; other files are rejected, since
 * their size could not be checked before decoding.
 *
 * @param format a short format name, e.g. {@code "PNG"}
 * @param width width in pixels (&gt;= 1)
 * @param height height in pixels (&gt;= 1)
 */
public record ImageHeader(String format, long width, long height) {
    /** Formats {@link #parse} understands, for messages. */
    public static final String FORMATS = "JPEG, PNG, BMP, GIF, WebP, TIFF, PNM";

    /**
     * The pixel count {@code width * height}, or {@link Long#MAX_VALUE} where it does not fit a long (both sides are
     * below 2^32, so their product can reach 2^64: a PNG header of 4294967295 x 4285202177 would wrap to a negative
     * count and pass every pixel limit).
     */
    public long pixels() {
        return Math.multiplyHigh(width, height) != 0 || width * height < 0 ? Long.MAX_VALUE : width * height;
    }

    /**
     * This header in the frame an image with EXIF orientation {@code orientation} is decoded in
     * ({@link ExifOrientationMode#APPLY}): width and height swapped for 5..8 ({@link ExifOrientation#swapsSides}).
     *
     * @param orientation 1..8, as {@link ExifOrientation#read} gives
     * @return this header, or one with the sides swapped
     */
    public ImageHeader oriented(int orientation) {
        return ExifOrientation.swapsSides(orientation) ? new ImageHeader(format, height, width) : this;
    }

    /** A header that cannot be parsed: the message says why (no file name; {@link ImageReader} adds it). */
    public static final class MalformedHeaderException extends Exception {
        private static final long serialVersionUID = 1L;

        MalformedHeaderException(String message) {
            super(message);
        }
    }

    /**
     * Reads the format and size from the first bytes of an image file.
     *
     * @param b the file's bytes (only the header part is read)
     * @return the header
     * @throws MalformedHeaderException if the format is not one of {@link #FORMATS}, the header is truncated or
     *     inconsistent, or a dimension is zero or negative
     */
    public static ImageHeader parse(byte[] b) throws MalformedHeaderException {
        if (b.length >= 8 && u8(b, 0) == 0x89 && ascii(b, 1, "PNG\r\n\u001a\n")) return png(b);
        if (b.length >= 3 && u8(b, 0) == 0xFF && u8(b, 1) == 0xD8 && u8(b, 2) == 0xFF) return jpeg(b);
        if (b.length >= 2 && ascii(b, 0, "BM")) return bmp(b);
        if (b.length >= 6 && (ascii(b, 0, "GIF87a") || ascii(b, 0, "GIF89a"))) return gif(b);
        if (b.length >= 12 && ascii(b, 0, "RIFF") && ascii(b, 8, "WEBP")) return webp(b);
        if (b.length >= 4 && (ascii(b, 0, "II*\0") || ascii(b, 0, "MM\0*"))) return tiff(b);
        if (b.length >= 2 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6') return pnm(b);
        throw new MalformedHeaderException("not a supported image format (" + FORMATS + ")");
    }

    private static ImageHeader of(String format, long w, long h) throws MalformedHeaderException {
        if (w <= 0 || h <= 0) throw new MalformedHeaderException(format + " header gives a size of " + w + " x " + h);
        return new ImageHeader(format, w, h);
    }

    private static ImageHeader png(byte[] b) throws MalformedHeaderException {
        need(b, 24, "PNG");
        if (!ascii(b, 12, "IHDR")) throw new MalformedHeaderException("PNG without IHDR as its first chunk");
        return of("PNG", u32be(b, 16), u32be(b, 20));
    }

    private static ImageHeader jpeg(byte[] b) throws MalformedHeaderException {
        int p = 2;
        while (true) {
            // find the next marker: 0xFF followed by a non-0xFF byte (0xFF fill bytes are allowed)
            if (p >= b.length) throw new MalformedHeaderException("JPEG without a frame header (SOF)");
            if (u8(b, p) != 0xFF) throw new MalformedHeaderException("JPEG marker expected at byte " + p);
            while (p < b.length && u8(b, p) == 0xFF) p++;
            if (p >= b.length) throw new MalformedHeaderException("JPEG truncated before a frame header (SOF)");
            int marker = u8(b, p++);
            if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue; // no length
            if (marker == 0xD9 || marker == 0xDA) {
                throw new MalformedHeaderException("JPEG without a frame header (SOF) before its scan data");
            }
            need(b, p + 2, "JPEG");
            int len = u16be(b, p);
            if (len < 2) throw new MalformedHeaderException("JPEG segment length " + len + " at byte " + p);
            boolean sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
            if (sof) {
                need(b, p + 7, "JPEG");
                long h = u16be(b, p + 3), w = u16be(b, p + 5);
                if (h == 0) throw new MalformedHeaderException("JPEG with its height defined later (DNL) is not supported");
                return of("JPEG", w, h);
            }
            p += len;
        }
    }

    private static ImageHeader bmp(byte[] b) throws MalformedHeaderException {
        need(b, 18, "BMP");
        long dib = u32le(b, 14);
        if (dib == 12) {
            need(b, 22, "BMP");
            return of("BMP", u16le(b, 18), u16le(b, 20));
        }
        if (dib < 40) throw new MalformedHeaderException("BMP with an unknown info header of " + dib + " bytes");
        need(b, 26, "BMP");
        long w = (int) u32le(b, 18), h = (int) u32le(b, 22);
        return of("BMP", w, Math.abs(h)); // negative height = top-down rows
    }

    private static ImageHeader gif(byte[] b) throws MalformedHeaderException {
        need(b, 10, "GIF");
        return of("GIF", u16le(b, 6), u16le(b, 8));
    }

    private static ImageHeader webp(byte[] b) throws MalformedHeaderException {
        need(b, 16, "WebP");
        if (ascii(b, 12, "VP8 ")) {
            need(b, 30, "WebP");
            if (u8(b, 23) != 0x9D || u8(b, 24) != 0x01 || u8(b, 25) != 0x2A) {
                throw new MalformedHeaderException("WebP (VP8) without the key-frame start code");
            }
            return of("WebP", u16le(b, 26) & 0x3FFF, u16le(b, 28) & 0x3FFF);
        }
        if (ascii(b, 12, "VP8L")) {
            need(b, 25, "WebP");
            if (u8(b, 20) != 0x2F) throw new MalformedHeaderException("WebP (VP8L) without its signature byte");
            long bits = u32le(b, 21);
            return of("WebP", (bits & 0x3FFF) + 1, ((bits >>> 14) & 0x3FFF) + 1);
        }
        if (ascii(b, 12, "VP8X")) {
            need(b, 30, "WebP");
            return of("WebP", u24le(b, 24) + 1, u24le(b, 27) + 1);
        }
        throw new MalformedHeaderException("WebP with an unknown first chunk");
    }

    private static ImageHeader tiff(byte[] b) throws MalformedHeaderException {
        boolean le = b[0] == 'I';
        need(b, 8, "TIFF");
        long ifd = le ? u32le(b, 4) : u32be(b, 4);
        if (ifd < 8 || ifd > b.length - 2) throw new MalformedHeaderException("TIFF with its first IFD at " + ifd + ", outside the file");
        int p = (int) ifd;
        int n = le ? u16le(b, p) : u16be(b, p);
        p += 2;
        long w = -1, h = -1;
        for (int i = 0; i < n; i++, p += 12) {
            need(b, p + 12, "TIFF");
            int tag = le ? u16le(b, p) : u16be(b, p);
            int type = le ? u16le(b, p + 2) : u16be(b, p + 2);
            if (tag != 256 && tag != 257) continue;
            long v;
            if (type == 3) v = le ? u16le(b, p + 8) : u16be(b, p + 8);       // SHORT, left-justified
            else if (type == 4) v = le ? u32le(b, p + 8) : u32be(b, p + 8);  // LONG
            else throw new MalformedHeaderException("TIFF size tag " + tag + " of type " + type);
            if (tag == 256) w = v; else h = v;
        }
        if (w < 0 || h < 0) throw new MalformedHeaderException("TIFF without ImageWidth/ImageLength in its first IFD");
        return of("TIFF", w, h);
    }

    private static ImageHeader pnm(byte[] b) throws MalformedHeaderException {
        int[] pos = {2};
        long w = pnmNumber(b, pos), h = pnmNumber(b, pos);
        return of("PNM", w, h);
    }

    /** Next decimal number after whitespace and '#' comments; at most 10 digits. */
    private static long pnmNumber(byte[] b, int[] pos) throws MalformedHeaderException {
        int p = pos[0];
        while (true) {
            if (p >= b.length) throw new MalformedHeaderException("PNM header truncated");
            int c = u8(b, p);
            if (c == '#') {
                while (p < b.length && b[p] != '\n' && b[p] != '\r') p++;
            } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0x0B || c == 0x0C) {
                p++;
            } else {
                break;
            }
        }
        long v = 0;
        int digits = 0;
        while (p < b.length && b[p] >= '0' && b[p] <= '9') {
            if (++digits > 10) throw new MalformedHeaderException("PNM size with more than 10 digits");
            v = v * 10 + (b[p++] - '0');
        }
        if (digits == 0) throw new MalformedHeaderException("PNM header without a size");
        pos[0] = p;
        return v;
    }

    private static void need(byte[] b, int n, String format) throws MalformedHeaderException {
        if (n < 0 || b.length < n) throw new MalformedHeaderException(format + " header truncated (" + b.length + " bytes)");
    }

    private static boolean ascii(byte[] b, int off, String s) {
        byte[] t = s.getBytes(StandardCharsets.ISO_8859_1);
        if (off + t.length > b.length) return false;
        for (int i = 0; i < t.length; i++) if (b[off + i] != t[i]) return false;
        return true;
    }

    private static int u8(byte[] b, int i) { return b[i] & 0xFF; }
    private static int u16be(byte[] b, int i) { return (u8(b, i) << 8) | u8(b, i + 1); }
    private static int u16le(byte[] b, int i) { return u8(b, i) | (u8(b, i + 1) << 8); }
    private static long u24le(byte[] b, int i) { return u8(b, i) | (u8(b, i + 1) << 8) | ((long) u8(b, i + 2) << 16); }
    private static long u32be(byte[] b, int i) { return ((long) u16be(b, i) << 16) | u16be(b, i + 2); }
    private static long u32le(byte[] b, int i) { return u16le(b, i) | ((long) u16le(b, i + 2) << 16); }
}
