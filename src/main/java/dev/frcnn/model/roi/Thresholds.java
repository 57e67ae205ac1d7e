package dev.frcnn.model.roi;

/**
 * The two prediction thresholds of the reference's {@code FasterRCNN} ({@code nms_thresh}, {@code score_thresh}),
 * as one immutable value passed with each prediction call, so that concurrent callers never share settings.
 *
 * @param nmsThresh IoU threshold of the per-class NMS, in [0, 1]
 * @param scoreThresh minimum class probability (strictly greater) of a detection, in [0, 1]
 */
public record Thresholds(double nmsThresh, double scoreThresh) {
    /** The reference's {@code use_preset('visualize')}: nms 0.3, score 0.7. */
    public static final Thresholds VISUALIZE = new Thresholds(0.3, 0.7);
    /** The reference's {@code use_preset('evaluate')}: nms 0.3, score 0.05. */
    public static final Thresholds EVALUATE = new Thresholds(0.3, 0.05);

    /** @throws IllegalArgumentException if a threshold is outside [0, 1] or NaN */
    public Thresholds {
        if (!(nmsThresh >= 0 && nmsThresh <= 1)) {
            throw new IllegalArgumentException("nms threshold must be in [0, 1], got " + nmsThresh);
        }
        if (!(scoreThresh >= 0 && scoreThresh <= 1)) {
            throw new IllegalArgumentException("score threshold must be in [0, 1], got " + scoreThresh);
        }
    }

    /**
     * A preset by the reference's name.
     *
     * @param preset {@code "visualize"} or {@code "evaluate"}
     * @return {@link #VISUALIZE} or {@link #EVALUATE}
     * @throws IllegalArgumentException for another name
     */
    public static Thresholds preset(String preset) {
        return switch (preset) {
            case "visualize" -> VISUALIZE;
            case "evaluate" -> EVALUATE;
            default -> throw new IllegalArgumentException("preset must be visualize or evaluate, got '" + preset + "'");
        };
    }
}
