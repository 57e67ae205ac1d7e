package dev.frcnn.data;

import java.nio.file.Path;

/**
 * An image that the preprocessing ({@code min_size}, {@code max_size}) would resize to fewer pixels per side than
 * the model's backbone accepts: a side of 0 pixels (an extreme aspect ratio such as 1 x 20000), or a side below the
 * backbone's smallest input ({@code Backbone#minInputSide}, e.g. 17 pixels for SqueezeNet). It is refused with this
 * {@link DataException} (exit code 2 in the CLI) rather than giving LibTorch's shape errors. Images that resize to a
 * valid size but yield no proposal (e.g. a 1 x 1 image) are not refused: they give no detections.
 */
public class ImageTooSmallException extends DataException {
    private static final long serialVersionUID = 1L;

    private final long width;
    private final long height;
    private final long resizedWidth;
    private final long resizedHeight;
    private final int minSize;
    private final int maxSize;
    private final int minSide;

    /**
     * @param file the image file ({@code null} for an image without one; see {@link #withFile})
     * @param width original width in pixels
     * @param height original height in pixels
     * @param resizedWidth width after the resize
     * @param resizedHeight height after the resize
     * @param minSize the {@code min_size} setting
     * @param maxSize the {@code max_size} setting
     * @param minSide the smallest side the backbone accepts
     */
    public ImageTooSmallException(Path file, long width, long height, long resizedWidth, long resizedHeight,
                                  int minSize, int maxSize, int minSide) {
        super(file, String.format("image of %d x %d pixels (width x height) would be resized to %d x %d with "
                        + "min_size %d and max_size %d (the shorter side is scaled to min_size unless the longer side "
                        + "would exceed max_size), but the model needs at least %d pixel%s per side: too small or too "
                        + "elongated for this model (crop it, or raise max_size)", width, height, resizedWidth,
                resizedHeight, minSize, maxSize, minSide, minSide == 1 ? "" : "s"));
        this.width = width;
        this.height = height;
        this.resizedWidth = resizedWidth;
        this.resizedHeight = resizedHeight;
        this.minSize = minSize;
        this.maxSize = maxSize;
        this.minSide = minSide;
    }

    /**
     * The same refusal naming {@code file} (for callers that know the file of an image checked without it).
     *
     * @param file the image file
     * @return a new exception, or this one if it already names a file
     */
    public ImageTooSmallException withFile(Path file) {
        if (file() != null || file == null) return this;
        ImageTooSmallException e = new ImageTooSmallException(file, width, height, resizedWidth, resizedHeight, minSize,
                maxSize, minSide);
        e.setStackTrace(getStackTrace());
        return e;
    }

    /** Original width in pixels. */
    public long width() { return width; }

    /** Original height in pixels. */
    public long height() { return height; }

    /** Width after the resize. */
    public long resizedWidth() { return resizedWidth; }

    /** Height after the resize. */
    public long resizedHeight() { return resizedHeight; }

    /** The smallest side the model accepts. */
    public int minSide() { return minSide; }
}
