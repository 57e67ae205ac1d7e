package dev.frcnn.data;

import java.nio.file.Path;
import java.util.zip.CRC32;

/**
 * Checks a PNG's chunk CRCs before OpenCV decodes it, so that libpng, which prints its complaints about damaged
 * chunks straight to the process's stderr ({@code libpng error: IDAT: CRC error}, {@code libpng warning: tEXt: CRC
 * error}) before any message of ours, never sees a damaged chunk. The rule is libpng's own: a critical chunk (first
 * letter upper case: IHDR, PLTE, IDAT, IEND) with a wrong CRC makes the file undecodable, which is reported here as a
 * {@link DataException} naming the file and the chunk; an ancillary chunk (tEXt, iCCP, ...) with a wrong CRC is
 * dropped, as libpng drops it after its warning, and the image decodes as before. One CRC-32 pass over the file
 * (about 1 GB/s, well under a millisecond for a photograph). A chunk running past the end of the data (a truncated
 * file) ends the walk: what happens to truncated files is the decoder's (and the dataset check's) business.
 */
final class PngChunks {
    private PngChunks() {}

    /** The 8-byte PNG signature's length; chunks start after it. */
    private static final int SIGNATURE = 8;

    /**
     * @param file the file, for messages ({@code null} for bytes from elsewhere)
     * @param png a PNG file's bytes (signature included)
     * @param what a description of bytes without a file, for messages (e.g. "encoded image (123 bytes)")
     * @return {@code png} itself if every complete chunk's CRC is right, else a copy without the ancillary chunks
     *     whose CRC is wrong
     * @throws DataException if a critical chunk's CRC is wrong
     */
    static byte[] verified(Path file, byte[] png, String what) {
        byte[] out = null; // a copy, made at the first chunk to drop
        int written = 0;   // bytes of png already copied to out
        int outLen = 0;
        int p = SIGNATURE;
        CRC32 crc = new CRC32();
        while (p + 12 <= png.length) {
            long len = u32(png, p);
            if (len > png.length - p - 12L) break; // truncated chunk: not ours to judge
            int n = (int) len;
            crc.reset();
            crc.update(png, p + 4, 4 + n);
            boolean ok = crc.getValue() == u32(png, p + 8 + n);
            int next = p + 12 + n;
            if (!ok) {
                String type = new String(png, p + 4, 4, java.nio.charset.StandardCharsets.ISO_8859_1)
                        .replaceAll("[^A-Za-z]", "?");
                if ((png[p + 4] & 0x20) == 0) { // critical
                    throw new DataException(file, (file == null && what != null ? what + ": " : "")
                            + "not a decodable image (corrupt PNG: its critical " + type + " chunk at byte " + p
                            + " fails its CRC check)");
                }
                if (out == null) out = new byte[png.length];
                System.arraycopy(png, written, out, outLen, p - written);
                outLen += p - written;
                written = next;
            }
            p = next;
        }
        if (out == null) return png;
        System.arraycopy(png, written, out, outLen, png.length - written);
        outLen += png.length - written;
        return java.util.Arrays.copyOf(out, outLen);
    }

    private static long u32(byte[] b, int i) {
        return ((b[i] & 0xFFL) << 24) | ((b[i + 1] & 0xFFL) << 16) | ((b[i + 2] & 0xFFL) << 8) | (b[i + 3] & 0xFFL);
    }
}
