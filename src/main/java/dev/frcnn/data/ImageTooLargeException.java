package dev.frcnn.data;

import java.nio.file.Path;

/**
 * An image whose header declares more pixels than the limit ({@code max_image_pixels}, default
 * {@link ImageReader#DEFAULT_MAX_PIXELS}): refused before any pixel is decoded, as PIL's
 * {@code DecompressionBombError}. A {@link DataException}, so the CLI exits with code 2 and training reports
 * the file.
 */
public class ImageTooLargeException extends DataException {
    private static final long serialVersionUID = 1L;

    private final long width;
    private final long height;
    private final long limit;

    /**
     * @param file the image file
     * @param header its header (format and size)
     * @param limit the pixel limit it exceeds
     */
    public ImageTooLargeException(Path file, ImageHeader header, long limit) {
        super(file, String.format("%s image of %d x %d = %d pixels exceeds the limit of %d pixels "
                        + "(max_image_pixels); refused before decoding", header.format(), header.width(), header.height(),
                header.pixels(), limit));
        this.width = header.width();
        this.height = header.height();
        this.limit = limit;
    }

    /** Width in pixels, from the header. */
    public long width() { return width; }

    /** Height in pixels, from the header. */
    public long height() { return height; }

    /** Pixel count, from the header. */
    public long pixels() { return width * height; }

    /** The limit that was exceeded. */
    public long limit() { return limit; }
}
