package dev.frcnn.model;

/**
 * Height and width of an image in pixels (the reference's {@code size = (H, W)}).
 *
 * @param height rows, &gt; 0
 * @param width columns, &gt; 0
 */
public record ImageSize(int height, int width) {
    /** @throws IllegalArgumentException if a side is not positive */
    public ImageSize {
        if (height <= 0 || width <= 0) {
            throw new IllegalArgumentException("image size must be positive, got " + height + "x" + width);
        }
    }
}
