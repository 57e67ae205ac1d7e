package dev.frcnn.data;

import java.util.zip.CRC32;

/**
 * Reads the EXIF Orientation tag (TIFF tag {@code 0x0112} of the 0th IFD) of an encoded image, without decoding it:
 * from a JPEG's first {@code APP1} segment that starts with {@code "Exif\0"}, or from a PNG's {@code eXIf} chunk
 * before its first {@code IDAT}. Both TIFF byte orders ({@code II}, {@code MM}) are read; the value may be stored as
 * SHORT (the standard) or LONG.
 *
 * <p>The eight values, as the EXIF specification defines them (where the stored 0th row and 0th column are shown):
 * 1 as stored; 2 mirrored left to right; 3 rotated 180 degrees; 4 mirrored top to bottom; 5 transposed (mirrored about
 * the main diagonal); 6 rotated 90 degrees clockwise; 7 transversed (mirrored about the anti-diagonal); 8 rotated 90
 * degrees counter-clockwise. Values 5 to 8 swap the width and the height ({@link #swapsSides}).
 *
 * <p>Never throws on malformed data: no tag, a value outside 1..8 (0 and 65537 occur in real photo collections), a
 * value of another TIFF type, a truncated segment or chunk, an offset outside the block, a PNG {@code eXIf} chunk whose
 * CRC does not match (libpng drops such a chunk), or a format other than JPEG and PNG all read as {@value #NORMAL}.
 * Reading stops at a JPEG's scan data and at a PNG's first {@code IDAT}, so only the metadata before the pixels is
 * looked at.
 */
public final class ExifOrientation {
    private ExifOrientation() {}

    /** The orientation of an image without a (valid) tag: shown as stored. */
    public static final int NORMAL = 1;

    /** {@link #readPrefix}'s answer when the bytes end before the metadata that decides does. */
    static final int UNDECIDED = 0;

    private static final int TAG_ORIENTATION = 0x0112;
    private static final int TYPE_SHORT = 3;
    private static final int TYPE_LONG = 4;

    /**
     * The EXIF orientation of an image file's bytes.
     *
     * @param file the whole file (not modified); any content, also empty
     * @return 1..8; {@value #NORMAL} if there is no valid tag (see the class comment)
     */
    public static int read(byte[] file) {
        int o = readPrefix(file);
        return o == UNDECIDED ? NORMAL : o;
    }

    /**
     * Whether an orientation swaps width and height (5, 6, 7 and 8).
     *
     * @param orientation a value of {@link #read}
     * @return true for 5..8
     */
    public static boolean swapsSides(int orientation) {
        return orientation >= 5 && orientation <= 8;
    }

    /**
     * As {@link #read}, for the first bytes of a file: {@link #UNDECIDED} if they end before the part of the file that
     * decides (a JPEG's segments up to its scan data, a PNG's chunks up to its first {@code IDAT}), so that the caller
     * reads the rest; else 1..8 as {@link #read}.
     */
    static int readPrefix(byte[] b) {
        if (b == null) return NORMAL;
        if (b.length >= 3 && u8(b, 0) == 0xFF && u8(b, 1) == 0xD8 && u8(b, 2) == 0xFF) return jpeg(b);
        if (b.length >= 8 && u8(b, 0) == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G' && b[4] == '\r'
                && b[5] == '\n' && b[6] == 0x1A && b[7] == '\n') {
            return png(b);
        }
        return NORMAL;
    }

    /** JPEG: marker segments after SOI, up to the first Exif APP1 (it decides) or the scan data (none: 1). */
    private static int jpeg(byte[] b) {
        int n = b.length;
        long p = 2;
        while (true) {
            if (p >= n) return UNDECIDED;
            if (u8(b, (int) p) != 0xFF) return NORMAL; // not a marker: malformed
            while (p < n && u8(b, (int) p) == 0xFF) p++; // fill bytes
            if (p >= n) return UNDECIDED;
            int marker = u8(b, (int) p++);
            if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue; // no length
            if (marker == 0xDA || marker == 0xD9) return NORMAL; // scan data or end: no Exif before the pixels
            if (p + 2 > n) return UNDECIDED;
            int len = u16be(b, (int) p);
            if (len < 2) return NORMAL;
            long start = p + 2, end = p + len;
            if (marker == 0xE1 && len >= 2 + 6) {
                if (start + 6 > n) return UNDECIDED;
                // "Exif" NUL and a padding byte, which a reader must not check
                if (b[(int) start] == 'E' && b[(int) start + 1] == 'x' && b[(int) start + 2] == 'i'
                        && b[(int) start + 3] == 'f' && b[(int) start + 4] == 0) {
                    if (end > n) return UNDECIDED;
                    return tiff(b, (int) start + 6, (int) end);
                }
            }
            p = end;
        }
    }

    /** PNG: chunks after the signature, up to an {@code eXIf} (it decides) or the first {@code IDAT}/{@code IEND}. */
    private static int png(byte[] b) {
        int n = b.length;
        long p = 8;
        while (true) {
            if (p + 8 > n) return UNDECIDED;
            long len = u32be(b, (int) p);
            int t = (int) p + 4;
            if (type(b, t, "IDAT") || type(b, t, "IEND")) return NORMAL;
            long end = p + 12 + len; // length, type, data, CRC
            if (len > Integer.MAX_VALUE) return NORMAL;
            if (type(b, t, "eXIf")) {
                if (end > n) return UNDECIDED;
                int data = (int) p + 8;
                CRC32 crc = new CRC32();
                crc.update(b, t, 4 + (int) len);
                if (crc.getValue() != u32be(b, (int) (end - 4))) return NORMAL; // a damaged chunk is dropped
                int from = data, to = data + (int) len;
                // The first drafts of eXIf kept JPEG's "Exif\0\0" before the TIFF header; tolerate it.
                if (to - from >= 6 && b[from] == 'E' && b[from + 1] == 'x' && b[from + 2] == 'i' && b[from + 3] == 'f'
                        && b[from + 4] == 0) {
                    from += 6;
                }
                return tiff(b, from, to);
            }
            p = end;
        }
    }

    /** The Orientation entry of the 0th IFD of the TIFF structure in {@code b[from, to)}; 1 if none or invalid. */
    private static int tiff(byte[] b, int from, int to) {
        long size = (long) to - from;
        if (size < 8) return NORMAL;
        boolean le;
        if (b[from] == 'I' && b[from + 1] == 'I') le = true;
        else if (b[from] == 'M' && b[from + 1] == 'M') le = false;
        else return NORMAL;
        if (u16(b, from + 2, le) != 42) return NORMAL;
        long ifd = u32(b, from + 4, le);
        if (ifd < 8 || ifd + 2 > size) return NORMAL;
        int q = from + (int) ifd;
        int count = u16(b, q, le);
        for (int i = 0; i < count; i++) {
            long e = (long) q + 2 + 12L * i;
            if (e + 12 > to) return NORMAL; // the directory runs past the block
            int at = (int) e;
            if (u16(b, at, le) != TAG_ORIENTATION) continue;
            int type = u16(b, at + 2, le);
            long n = u32(b, at + 4, le);
            if (n < 1) return NORMAL;
            long v;
            if (type == TYPE_SHORT) v = u16(b, at + 8, le);
            else if (type == TYPE_LONG) v = u32(b, at + 8, le);
            else return NORMAL;
            return v >= 1 && v <= 8 ? (int) v : NORMAL;
        }
        return NORMAL;
    }

    private static boolean type(byte[] b, int i, String t) {
        return b[i] == t.charAt(0) && b[i + 1] == t.charAt(1) && b[i + 2] == t.charAt(2) && b[i + 3] == t.charAt(3);
    }

    private static int u8(byte[] b, int i) { return b[i] & 0xFF; }
    private static int u16be(byte[] b, int i) { return (u8(b, i) << 8) | u8(b, i + 1); }
    private static long u32be(byte[] b, int i) { return ((long) u16be(b, i) << 16) | u16be(b, i + 2); }
    private static int u16(byte[] b, int i, boolean le) { return le ? u8(b, i) | (u8(b, i + 1) << 8) : u16be(b, i); }
    private static long u32(byte[] b, int i, boolean le) {
        return le ? u16(b, i, true) | ((long) u16(b, i + 2, true) << 16) : u32be(b, i);
    }
}
