package dev.frcnn.data;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.javacpp.indexer.UByteIndexer;
import org.bytedeco.opencv.opencv_core.Mat;

import java.util.Arrays;

import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imencode;

/** Real JPEG and PNG files made with OpenCV's {@code imencode} for the truncated-image tests, whole or cut short. */
@SuppressWarnings("try")
final class TruncatedImageFiles {
    private TruncatedImageFiles() {}

    /**
     * An image of {@code h x w} pixels with a gradient (so that the entropy-coded data is not trivial), encoded.
     *
     * @param ext {@code ".jpg"} or {@code ".png"}
     */
    static byte[] encoded(String ext, int h, int w) {
        try (PointerScope s = new PointerScope()) {
            Mat m = new Mat(h, w, CV_8UC3);
            UByteIndexer u = m.createIndexer();
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    for (int c = 0; c < 3; c++) u.put(y, x, c, (x * 7 + y * 13 + c * 50) & 0xFF);
                }
            }
            BytePointer out = new BytePointer();
            if (!imencode(ext, m, out)) throw new IllegalStateException("imencode " + ext + " failed");
            byte[] b = new byte[(int) out.limit()];
            out.get(b);
            return b;
        }
    }

    /** A JPEG 20 bytes short of its end (its EOI marker and the last entropy-coded bytes are missing). */
    static byte[] jpegShort(int h, int w) {
        byte[] b = encoded(".jpg", h, w);
        return Arrays.copyOf(b, b.length - 20);
    }

    /** A PNG without its 12-byte IEND chunk. */
    static byte[] pngWithoutIend(int h, int w) {
        byte[] b = encoded(".png", h, w);
        return Arrays.copyOf(b, b.length - 12);
    }
}
