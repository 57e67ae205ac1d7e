package dev.frcnn.api;

import dev.frcnn.config.Config;
import dev.frcnn.model.roi.Thresholds;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * How a {@link Detector} is loaded and predicts. Immutable; build with {@link #builder()}. The defaults are what
 * {@code bin/frcnn detect} uses: CPU, the reference's {@code visualize} preset (NMS IoU 0.3, score &gt; 0.7), the
 * min/max size of the weights' config (600/1000 for the reference's checkpoints), LibTorch's default number of
 * intra-op threads.
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
    private final String device;
    private final Thresholds thresholds;
    private final Integer minSize;
    private final Integer maxSize;
    private final Long maxImagePixels;
    private final String precision;
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
        b.intraOpThreads = intraOpThreads;
        b.config = config;
        b.configOverrides.addAll(configOverrides);
        return b;
    }

    /** {@code "cpu"} or {@code "cuda"}. */
    public String device() { return device; }

    /** Score and NMS thresholds of every {@code detect} call. */
    public Thresholds thresholds() { return thresholds; }

    /** The shorter side's target length in pixels, or null for the weights' config value. */
    public Integer minSize() { return minSize; }

    /** The longer side's upper bound in pixels, or null for the weights' config value. */
    public Integer maxSize() { return maxSize; }

    /** The largest accepted image in pixels ({@code max_image_pixels}), or null for the weights' config value. */
    public Long maxImagePixels() { return maxImagePixels; }

    /** {@code "fp32"} or {@code "bf16"} ({@code precision}), or null for the weights' config value. */
    public String precision() { return precision; }

    /** LibTorch intra-op threads to set when loading (process-wide), or 0 to leave LibTorch's setting. */
    public int intraOpThreads() { return intraOpThreads; }

    /**
     * Config for PyTorch {@code .pth} weights, which carry none; a {@code .ckpt} carries its own and ignores this one
     * (use {@link #configOverrides()} to change a checkpoint's settings).
     */
    public Config config() { return config; }

    /** {@code key=value} overrides applied to the weights' config (as {@code bin/frcnn --set}). */
    public List<String> configOverrides() { return configOverrides; }

    /** The overrides including min/max size, the pixel limit and the precision. */
    List<String> allOverrides() {
        List<String> all = new ArrayList<>(configOverrides);
        if (minSize != null) all.add("min_size=" + minSize);
        if (maxSize != null) all.add("max_size=" + maxSize);
        if (maxImagePixels != null) all.add("max_image_pixels=" + maxImagePixels);
        if (precision != null) all.add("precision=" + precision);
        return all;
    }

    @Override
    public String toString() {
        return "DetectorOptions[device=" + device + ", thresholds=" + thresholds + ", minSize=" + minSize
                + ", maxSize=" + maxSize + ", maxImagePixels=" + maxImagePixels + ", precision=" + precision
                + ", intraOpThreads=" + intraOpThreads + ", configOverrides=" + configOverrides + "]";
    }

    /** Builds {@link DetectorOptions}; not thread-safe, the built options are. */
    public static final class Builder {
        private String device = "cpu";
        private Thresholds thresholds = Thresholds.VISUALIZE;
        private Integer minSize;
        private Integer maxSize;
        private Long maxImagePixels;
        private String precision;
        private int intraOpThreads;
        private Config config = Config.defaults();
        private final List<String> configOverrides = new ArrayList<>();

        private Builder() {}

        /**
         * @param device {@code "cpu"} (default) or {@code "cuda"}
         * @throws IllegalArgumentException for another name
         */
        public Builder device(String device) {
            if (!"cpu".equals(device) && !"cuda".equals(device)) {
                throw new IllegalArgumentException("device must be cpu or cuda, got '" + device + "'");
            }
            this.device = device;
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
         * @param minSize target length of the shorter side in pixels (the reference's {@code min_size})
         * @throws IllegalArgumentException if not positive
         */
        public Builder minSize(int minSize) {
            if (minSize <= 0) throw new IllegalArgumentException("minSize must be positive, got " + minSize);
            this.minSize = minSize;
            return this;
        }

        /**
         * @param maxSize upper bound of the longer side in pixels (the reference's {@code max_size})
         * @throws IllegalArgumentException if not positive
         */
        public Builder maxSize(int maxSize) {
            if (maxSize <= 0) throw new IllegalArgumentException("maxSize must be positive, got " + maxSize);
            this.maxSize = maxSize;
            return this;
        }

        /**
         * @param maxPixels the largest image ({@code width * height}, read from the header before decoding) that
         *     {@code detect(Path)} and {@code detect(byte[])} accept; larger ones throw
         *     {@link dev.frcnn.data.ImageTooLargeException}. Default: the weights' config value
         *     ({@code max_image_pixels}, 178,956,970 unless set)
         * @throws IllegalArgumentException if below 1
         */
        public Builder maxImagePixels(long maxPixels) {
            if (maxPixels < 1) throw new IllegalArgumentException("maxImagePixels must be >= 1, got " + maxPixels);
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
            if (!"fp32".equals(precision) && !"bf16".equals(precision)) {
                throw new IllegalArgumentException("precision must be fp32 or bf16, got " + precision);
            }
            this.precision = precision;
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
