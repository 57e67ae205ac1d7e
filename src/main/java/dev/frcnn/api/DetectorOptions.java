package dev.frcnn.api;

import dev.frcnn.config.Config;
import dev.frcnn.data.ExifOrientationMode;
import dev.frcnn.model.roi.Thresholds;
import dev.frcnn.tensor.ComputeDevice;
import dev.frcnn.tensor.Precision;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * How a {@link Detector} is loaded and predicts. Immutable; build with {@link #builder()}. The defaults are what
 * {@code bin/frcnn detect} uses: CPU, the reference's {@code visualize} preset (NMS IoU 0.3, score &gt; 0.7), the
 * min/max size of the weights' config (600/1000 for the reference's checkpoints), the EXIF orientation rule of the
 * weights' config ({@code apply} unless set: images are read as photo viewers show them), LibTorch's default number
 * of intra-op threads.
 *
 * <pre>{@code
 * DetectorOptions opts = DetectorOptions.builder()
 *         .preset("evaluate")          // or .thresholds(0.3, 0.5)
 *         .minSize(600).maxSize(1000)
 *         .intraOpThreads(2)
 *         .build();
 * }</pre>
 */
public final class DetectorOptions {
    private final ComputeDevice device;
    private final Thresholds thresholds;
    private final Integer minSize;
    private final Integer maxSize;
    private final Long maxImagePixels;
    private final Precision precision;
    private final ExifOrientationMode exifOrientation;
    private final int intraOpThreads;
    private final Config config;
    private final List<String> configOverrides;

    private DetectorOptions(Builder b) {
        this.device = b.device;
        this.thresholds = b.thresholds;
        this.minSize = b.minSize;
        this.maxSize = b.maxSize;
        this.maxImagePixels = b.maxImagePixels;
        this.precision = b.precision;
        this.exifOrientation = b.exifOrientation;
        this.intraOpThreads = b.intraOpThreads;
        this.config = b.config;
        this.configOverrides = List.copyOf(b.configOverrides);
    }

    /** The defaults ({@code visualize} preset, CPU, sizes from the weights' config). */
    public static DetectorOptions defaults() {
        return builder().build();
    }

    /** A builder holding the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these options. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.device = device;
        b.thresholds = thresholds;
        b.minSize = minSize;
        b.maxSize = maxSize;
        b.maxImagePixels = maxImagePixels;
        b.precision = precision;
        b.exifOrientation = exifOrientation;
        b.intraOpThreads = intraOpThreads;
        b.config = config;
        b.configOverrides.addAll(configOverrides);
        return b;
    }

    /** {@code "cpu"} or {@code "cuda"}. */
    public String device() { return device.configName(); }

    /** The device, typed. */
    public ComputeDevice computeDevice() { return device; }

    /** Score and NMS thresholds of every {@code detect} call. */
    public Thresholds thresholds() { return thresholds; }

    /** The shorter side's target length in pixels, or null for the weights' config value. */
    public Integer minSize() { return minSize; }

    /** The longer side's upper bound in pixels, or null for the weights' config value. */
    public Integer maxSize() { return maxSize; }

    /** The largest accepted image in pixels ({@code max_image_pixels}), or null for the weights' config value. */
    public Long maxImagePixels() { return maxImagePixels; }

    /** {@code "fp32"} or {@code "bf16"} ({@code precision}), or null for the weights' config value. */
    public String precision() { return precision == null ? null : precision.configName(); }

    /**
     * Whether images are decoded with their EXIF orientation applied ({@code exif_orientation}), or null for the
     * weights' config value.
     */
    public ExifOrientationMode exifOrientation() { return exifOrientation; }

    /** LibTorch intra-op threads to set when loading (process-wide), or 0 to leave LibTorch's setting. */
    public int intraOpThreads() { return intraOpThreads; }

    /**
     * Config for PyTorch {@code .pth} weights, which carry none; a {@code .ckpt} carries its own and ignores this one
     * (use {@link #configOverrides()} to change a checkpoint's settings).
     */
    public Config config() { return config; }

    /** {@code key=value} overrides applied to the weights' config (as {@code bin/frcnn --set}). */
    public List<String> configOverrides() { return configOverrides; }

    /**
     * The weights' config with these options applied: the {@code key=value} overrides, then the typed settings
     * (min/max size, the pixel limit, the precision, the EXIF orientation rule), each validated by its own type when the config is built.
     *
     * @param weightsConfig the config the weights carry (or {@link #config()} for PyTorch files)
     * @return the config the detector runs with
     * @throws dev.frcnn.config.ConfigException for a bad override or setting
     */
    Config apply(Config weightsConfig) {
        Config c = weightsConfig.withOverrides(configOverrides);
        if (minSize != null) c = c.withMinSize(minSize);
        if (maxSize != null) c = c.withMaxSize(maxSize);
        if (maxImagePixels != null) c = c.withMaxImagePixels(maxImagePixels);
        if (precision != null) c = c.withPrecision(precision);
        if (exifOrientation != null) c = c.withExifOrientation(exifOrientation);
        return c;
    }

    @Override
    public String toString() {
        return "DetectorOptions[device=" + device + ", thresholds=" + thresholds + ", minSize=" + minSize
                + ", maxSize=" + maxSize + ", maxImagePixels=" + maxImagePixels + ", precision=" + precision
                + ", exifOrientation=" + (exifOrientation == null ? null : exifOrientation.configName())
                + ", intraOpThreads=" + intraOpThreads + ", configOverrides=" + configOverrides + "]";
    }

    /** Builds {@link DetectorOptions}; not thread-safe, the built options are. */
    public static final class Builder {
        private ComputeDevice device = ComputeDevice.CPU;
        private Thresholds thresholds = Thresholds.VISUALIZE;
        private Integer minSize;
        private Integer maxSize;
        private Long maxImagePixels;
        private Precision precision;
        private ExifOrientationMode exifOrientation;
        private int intraOpThreads;
        private Config config = Config.defaults();
        private final List<String> configOverrides = new ArrayList<>();

        private Builder() {}

        /**
         * @param device {@code "cpu"} (default) or {@code "cuda"}
         * @throws IllegalArgumentException for another name
         */
        public Builder device(String device) {
            this.device = ComputeDevice.fromName(device);
            return this;
        }

        /**
         * One of the reference's presets.
         *
         * @param preset {@code "visualize"} (default: NMS 0.3, score &gt; 0.7) or {@code "evaluate"} (score &gt; 0.05)
         * @throws IllegalArgumentException for another name
         */
        public Builder preset(String preset) {
            this.thresholds = Thresholds.preset(preset);
            return this;
        }

        /**
         * Custom thresholds.
         *
         * @param nmsThresh IoU threshold of the per-class NMS, in [0, 1]
         * @param scoreThresh minimum class probability (strictly greater), in [0, 1]
         * @throws IllegalArgumentException if a value is outside [0, 1]
         */
        public Builder thresholds(double nmsThresh, double scoreThresh) {
            this.thresholds = new Thresholds(nmsThresh, scoreThresh);
            return this;
        }

        /**
         * @param minSize target length of the shorter side in pixels (the reference's {@code min_size}); validated
         *     with the weights' {@code max_size} when the detector loads (a {@link dev.frcnn.config.ConfigException}
         *     below 16 or above the max size)
         */
        public Builder minSize(int minSize) {
            this.minSize = minSize;
            return this;
        }

        /**
         * @param maxSize upper bound of the longer side in pixels (the reference's {@code max_size}); validated when
         *     the detector loads (a {@link dev.frcnn.config.ConfigException} below the min size)
         */
        public Builder maxSize(int maxSize) {
            this.maxSize = maxSize;
            return this;
        }

        /**
         * @param maxPixels the largest image ({@code width * height}, read from the header before decoding) that
         *     {@code detect(Path)} and {@code detect(byte[])} accept; larger ones throw
         *     {@link dev.frcnn.data.ImageTooLargeException}. Default: the weights' config value
         *     ({@code max_image_pixels}, 178,956,970 unless set); validated when the detector loads (a
         *     {@link dev.frcnn.config.ConfigException} below 1)
         */
        public Builder maxImagePixels(long maxPixels) {
            this.maxImagePixels = maxPixels;
            return this;
        }

        /**
         * @param precision {@code "fp32"} (the reference's numbers) or {@code "bf16"} (mixed precision where the CPU
         *     or GPU supports bfloat16, docs/performance.md); default: the weights' config value ({@code fp32}
         *     unless set)
         * @throws IllegalArgumentException for another name
         */
        public Builder precision(String precision) {
            return precision(Precision.fromName(precision));
        }

        /**
         * @param precision {@link Precision#FP32} or {@link Precision#BF16}, as {@link #precision(String)}
         */
        public Builder precision(Precision precision) {
            this.precision = Objects.requireNonNull(precision, "precision");
            return this;
        }

        /**
         * @param mode {@link ExifOrientationMode#APPLY} (images as photo viewers show them: a photo stored sideways
         *     with EXIF Orientation 6 is detected upright, and the boxes are in its upright pixels) or
         *     {@link ExifOrientationMode#IGNORE} (the stored pixels, as the reference reads them); default: the
         *     weights' config value ({@code apply} unless set). Applies to {@code detect(Path)},
         *     {@code detect(byte[])} and {@link Detector#decode}; a {@code BufferedImage} is used as given
         * @throws NullPointerException if {@code mode} is null
         */
        public Builder exifOrientation(ExifOrientationMode mode) {
            this.exifOrientation = Objects.requireNonNull(mode, "mode");
            return this;
        }

        /**
         * @param threads LibTorch intra-op threads (process-wide, set when the detector loads); 0 keeps LibTorch's
         *     setting (one per core). With N concurrent callers, about cores / N avoids oversubscription.
         * @throws IllegalArgumentException if negative
         */
        public Builder intraOpThreads(int threads) {
            if (threads < 0) throw new IllegalArgumentException("intraOpThreads must be >= 0, got " + threads);
            this.intraOpThreads = threads;
            return this;
        }

        /**
         * @param config the config that describes a PyTorch {@code .pth} file's model (backbone, RoI op, class
         *     names, ...); default {@link Config#defaults()} (the reference's VGG16 with the 20 VOC classes)
         */
        public Builder config(Config config) {
            this.config = Objects.requireNonNull(config, "config");
            return this;
        }

        /**
         * @param overrides {@code key=value} config overrides, applied to the weights' config (as
         *     {@code bin/frcnn --set}); replaces earlier ones
         */
        public Builder configOverrides(List<String> overrides) {
            this.configOverrides.clear();
            this.configOverrides.addAll(overrides);
            return this;
        }

        /** @return the options */
        public DetectorOptions build() {
            return new DetectorOptions(this);
        }
    }
}
