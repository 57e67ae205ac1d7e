package dev.frcnn.testing;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.opencv.opencv_core.Mat;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32;

import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMWRITE_JPEG_QUALITY;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMWRITE_JPEG_SAMPLING_FACTOR;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMWRITE_JPEG_SAMPLING_FACTOR_444;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imencode;

/**
 * Test files with an EXIF Orientation tag, built byte by byte: a TIFF block with a 0th IFD, put into a JPEG as an
 * {@code APP1 "Exif"} segment or into a PNG as an {@code eXIf} chunk; and images stored in the frame that a given
 * orientation shows upright, computed from the EXIF specification's table (where the stored 0th row and 0th column
 * are shown), independently of the code under test.
 */
public final class ExifImages {
    private ExifImages() {}

    /** TIFF type SHORT (the standard type of Orientation). */
    public static final int SHORT = 3;
    /** TIFF type LONG. */
    public static final int LONG = 4;

    /** A TIFF block whose 0th IFD holds one Orientation entry (SHORT). */
    public static byte[] tiff(boolean littleEndian, int orientation) {
        return tiff(littleEndian, SHORT, orientation, 0);
    }

    /**
     * A TIFF block (header, 0th IFD, no next IFD) whose 0th IFD holds {@code entriesBefore} other entries (ImageWidth,
     * Make, ...: tags below 0x0112, as sorted IFDs have them) and then the Orientation entry.
     *
     * @param littleEndian {@code II} or {@code MM}
     * @param type the entry's TIFF type ({@link #SHORT}, {@link #LONG}, or anything else)
     * @param value the value, in the entry's value field (left-justified for SHORT)
     * @param entriesBefore entries before Orientation
     */
    public static byte[] tiff(boolean littleEndian, int type, long value, int entriesBefore) {
        ByteBuffer b = ByteBuffer.allocate(8 + 2 + 12 * (entriesBefore + 1) + 4)
                .order(littleEndian ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN);
        b.put((byte) (littleEndian ? 'I' : 'M')).put((byte) (littleEndian ? 'I' : 'M')).putShort((short) 42).putInt(8);
        b.putShort((short) (entriesBefore + 1));
        for (int i = 0; i < entriesBefore; i++) {
            b.putShort((short) (0x0100 + i)).putShort((short) SHORT).putInt(1).putShort((short) 77).putShort((short) 0);
        }
        b.putShort((short) 0x0112).putShort((short) type).putInt(1);
        if (type == SHORT) b.putShort((short) value).putShort((short) 0);
        else b.putInt((int) value);
        b.putInt(0); // no next IFD
        return b.array();
    }

    /** A JPEG {@code APP1} segment: marker, length, {@code "Exif\0\0"}, the TIFF block. */
    public static byte[] app1(byte[] tiff) {
        ByteArrayOutputStream s = new ByteArrayOutputStream();
        int len = 2 + 6 + tiff.length;
        s.write(0xFF);
        s.write(0xE1);
        s.write(len >> 8);
        s.write(len & 0xFF);
        s.writeBytes(new byte[] {'E', 'x', 'i', 'f', 0, 0});
        s.writeBytes(tiff);
        return s.toByteArray();
    }

    /** {@code jpeg} with {@code segments} inserted right after its SOI marker. */
    public static byte[] insertAfterSoi(byte[] jpeg, byte[]... segments) {
        ByteArrayOutputStream s = new ByteArrayOutputStream();
        s.write(jpeg, 0, 2);
        for (byte[] seg : segments) s.writeBytes(seg);
        s.write(jpeg, 2, jpeg.length - 2);
        return s.toByteArray();
    }

    /** {@code jpeg} with an Exif APP1 holding {@code orientation} (SHORT, little-endian) after its SOI. */
    public static byte[] jpegWithOrientation(byte[] jpeg, int orientation) {
        return insertAfterSoi(jpeg, app1(tiff(true, orientation)));
    }

    /** A PNG chunk: length, type, data, CRC (of type and data). */
    public static byte[] pngChunk(String type, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(12 + data.length);
        b.putInt(data.length).put(type.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1)).put(data);
        CRC32 crc = new CRC32();
        crc.update(b.array(), 4, 4 + data.length);
        b.putInt((int) crc.getValue());
        return b.array();
    }

    /**
     * {@code png} with {@code chunk} inserted right after IHDR (before the image data), or, with {@code afterIdat},
     * right before IEND.
     */
    public static byte[] insertPngChunk(byte[] png, byte[] chunk, boolean afterIdat) {
        int at = afterIdat ? png.length - 12 : 8 + 12 + 13; // IEND is the last 12 bytes; IHDR's data is 13 bytes
        ByteArrayOutputStream s = new ByteArrayOutputStream();
        s.write(png, 0, at);
        s.writeBytes(chunk);
        s.write(png, at, png.length - at);
        return s.toByteArray();
    }

    /** Encodes 8-bit BGR as a JPEG of quality 100 without chroma subsampling (4:4:4). */
    public static byte[] jpeg444(Mat bgr) {
        try (BytePointer buf = new BytePointer();
             IntPointer params = new IntPointer(IMWRITE_JPEG_QUALITY, 100, IMWRITE_JPEG_SAMPLING_FACTOR,
                     IMWRITE_JPEG_SAMPLING_FACTOR_444)) {
            if (!imencode(".jpg", bgr, buf, params)) throw new IllegalStateException("imencode failed");
            byte[] out = new byte[(int) buf.limit()];
            buf.get(out);
            return out;
        }
    }

    /** Encodes 8-bit BGR as a PNG. */
    public static byte[] png(Mat bgr) {
        try (BytePointer buf = new BytePointer()) {
            if (!imencode(".png", bgr, buf)) throw new IllegalStateException("imencode failed");
            byte[] out = new byte[(int) buf.limit()];
            buf.get(out);
            return out;
        }
    }

    /**
     * The stored frame that EXIF orientation {@code o} shows as {@code upright} (8-bit, 3 channels). With stored
     * height H and width W, the shown pixel (y, x) is the stored pixel: 1 (y, x); 2 (y, W-1-x); 3 (H-1-y, W-1-x);
     * 4 (H-1-y, x); 5 (x, y); 6 (H-1-x, y); 7 (H-1-x, W-1-y); 8 (x, W-1-y). (From the specification: for 6, "the 0th
     * row is the visual right-hand side of the image, and the 0th column is the visual top".)
     */
    public static Mat stored(Mat upright, int o) {
        int uh = upright.rows(), uw = upright.cols();
        boolean swap = o >= 5;
        int h = swap ? uw : uh, w = swap ? uh : uw;
        byte[] u = bytes(upright), s = new byte[u.length];
        for (int y = 0; y < uh; y++) {
            for (int x = 0; x < uw; x++) {
                int sy, sx;
                switch (o) {
                    case 1 -> { sy = y; sx = x; }
                    case 2 -> { sy = y; sx = w - 1 - x; }
                    case 3 -> { sy = h - 1 - y; sx = w - 1 - x; }
                    case 4 -> { sy = h - 1 - y; sx = x; }
                    case 5 -> { sy = x; sx = y; }
                    case 6 -> { sy = h - 1 - x; sx = y; }
                    case 7 -> { sy = h - 1 - x; sx = w - 1 - y; }
                    case 8 -> { sy = x; sx = w - 1 - y; }
                    default -> throw new IllegalArgumentException("orientation " + o);
                }
                System.arraycopy(u, 3 * (y * uw + x), s, 3 * (sy * w + sx), 3);
            }
        }
        return mat(s, h, w);
    }

    /** The bytes of an 8-bit 3-channel Mat, row-major HWC. */
    public static byte[] bytes(Mat m) {
        Mat c = m.isContinuous() ? m : m.clone();
        byte[] out = new byte[c.rows() * c.cols() * 3];
        c.data().get(out);
        return out;
    }

    /** An 8-bit 3-channel Mat holding a copy of {@code hwc}. */
    public static Mat mat(byte[] hwc, int h, int w) {
        Mat m = new Mat(h, w, CV_8UC3);
        m.data().put(hwc);
        return m;
    }

    /**
     * {@code src} cut to multiples of 8 and made of flat 8 x 8 blocks (each the block's top-left pixel). With
     * {@link #jpeg444}, every block is a DC-only JPEG block, so the decoded pixels do not depend on where a block lies:
     * any mirror or rotation of the image encodes and decodes to the same mirror or rotation of the decoded pixels,
     * exactly.
     */
    public static Mat blocky(Mat src) {
        int h = src.rows() / 8 * 8, w = src.cols() / 8 * 8, sw = src.cols();
        byte[] s = bytes(src), o = new byte[h * w * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) System.arraycopy(s, 3 * ((y / 8 * 8) * sw + x / 8 * 8), o, 3 * (y * w + x), 3);
        }
        return mat(o, h, w);
    }
}
