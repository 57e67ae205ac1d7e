package dev.frcnn.data;

import org.bytedeco.pytorch.Tensor;

/**
 * The preprocessing settings of a detector: the reference's {@code preprocess(img, min_size, max_size)} with the
 * normalisation its {@code caffe_pretrain} option picks. Immutable.
 *
 * @param minSize target length of the shorter side in pixels (reference {@code min_size}, default 600)
 * @param maxSize upper bound of the longer side in pixels (reference {@code max_size}, default 1000)
 * @param norm the input normalisation matching the weights
 */
public record Preprocessing(int minSize, int maxSize, Normalization norm) {
    /** The smallest accepted {@code min_size}. */
    public static final int MIN_MIN_SIZE = 16;

    /**
     * The one place where {@code min_size} and {@code max_size} are validated (the config, the API's options and
     * training all build this record).
     *
     * @throws IllegalArgumentException if {@code minSize < }{@value #MIN_MIN_SIZE}, {@code maxSize < minSize} or
     *     {@code norm} is null
     */
    public Preprocessing {
        if (minSize < MIN_MIN_SIZE) throw new IllegalArgumentException("min_size must be >= " + MIN_MIN_SIZE + ", got " + minSize);
        if (maxSize < minSize) throw new IllegalArgumentException("max_size must be >= min_size, got " + maxSize);
        if (norm == null) throw new IllegalArgumentException("normalization must not be null");
    }

    /**
     * The network input size of an image of {@code h x w} pixels ({@link Preprocess#resizedSize}).
     *
     * @param h height in pixels (&gt; 0)
     * @param w width in pixels (&gt; 0)
     * @return {@code {H', W'}}
     */
    public long[] resizedSize(long h, long w) {
        return Preprocess.resizedSize(h, w, minSize, maxSize);
    }

    /**
     * Refuses an image that these settings would resize to a side below {@code minSide}
     * ({@link Preprocess#checkResizable}).
     *
     * @param file the image file, for the message ({@code null} if none)
     * @param h height in pixels (&gt; 0)
     * @param w width in pixels (&gt; 0)
     * @param minSide the smallest side the backbone accepts ({@code Backbone#minInputSide})
     * @throws ImageTooSmallException if a resized side is below {@code minSide}
     */
    public void checkResizable(java.nio.file.Path file, long h, long w, int minSide) {
        Preprocess.checkResizable(file, h, w, minSize, maxSize, minSide);
    }

    /**
     * {@link Preprocess#preprocess} with these settings.
     *
     * @param chw (3, H, W) float32 RGB 0..255 ({@link ImageReader#readRgbChw})
     * @return (3, H', W') float32 network input on the image's device, owned by the caller's scope
     */
    public Tensor apply(Tensor chw) {
        return Preprocess.preprocess(chw, minSize, maxSize, norm);
    }
}
