package dev.frcnn.data;

import org.bytedeco.pytorch.Tensor;

import java.nio.file.Path;
import java.util.Objects;

/**
 * An image decoded once by {@link ImageReader#read}: its pixels, and its size in the frame they are in (after the
 * EXIF orientation under {@link ExifOrientationMode#APPLY}), so that a caller that detects, draws and reports the size
 * decodes nothing a second time and uses one frame throughout.
 *
 * <p>The tensor is native memory: read inside a {@code PointerScope}, it belongs to that scope; otherwise
 * {@link #close()} frees it (or the garbage collector, eventually).
 *
 * @param rgbChw (3, height, width) float32 CPU tensor, RGB, values 0..255
 * @param height rows in pixels (&gt;= 1), the displayed height when the orientation was applied
 * @param width columns in pixels (&gt;= 1)
 * @param source the file it was read from, for messages; null for bytes from elsewhere
 */
public record DecodedImage(Tensor rgbChw, int height, int width, Path source) implements AutoCloseable {
    /**
     * @throws NullPointerException if {@code rgbChw} is null
     * @throws IllegalArgumentException if a side is below 1
     */
    public DecodedImage {
        Objects.requireNonNull(rgbChw, "rgbChw");
        if (height < 1 || width < 1) {
            throw new IllegalArgumentException("image size must be at least 1 x 1, got " + width + " x " + height);
        }
    }

    /** Frees the pixels' native memory (one reference, as {@link Tensor#close()}). */
    @Override
    public void close() {
        rgbChw.close();
    }
}
