package dev.frcnn.model.roi;

import java.util.Arrays;

/**
 * The normalisation of the RoI head's box offsets {@code (t_y, t_x, t_h, t_w)}: training targets are
 * {@code (t - mean) / std}, predictions are decoded as {@code loc * std + mean}. The reference's
 * {@code loc_normalize_mean = (0., 0., 0., 0.)}, {@code loc_normalize_std = (0.1, 0.1, 0.2, 0.2)}
 * ({@code model/faster_rcnn.py}, {@code ProposalTargetCreator}); torchvision's box coder weights (10, 10, 5, 5) are
 * {@code 1 / std}. Immutable; the arrays are copied in and out.
 *
 * @param mean 4 float32 means of (t_y, t_x, t_h, t_w)
 * @param std 4 float32 standard deviations, each &gt; 0
 */
public record LocNormalization(float[] mean, float[] std) {
    /** The reference's values, used by every detector of this project: mean 0, std (0.1, 0.1, 0.2, 0.2). */
    public static final LocNormalization REFERENCE =
            new LocNormalization(new float[]{0f, 0f, 0f, 0f}, new float[]{0.1f, 0.1f, 0.2f, 0.2f});

    /** @throws IllegalArgumentException unless both have 4 finite values and every std is &gt; 0 */
    public LocNormalization {
        if (mean == null || std == null || mean.length != 4 || std.length != 4) {
            throw new IllegalArgumentException("loc_normalize_mean/std must have 4 values, got "
                    + Arrays.toString(mean) + ", " + Arrays.toString(std));
        }
        for (int i = 0; i < 4; i++) {
            if (!Float.isFinite(mean[i]) || !(std[i] > 0) || !Float.isFinite(std[i])) {
                throw new IllegalArgumentException("loc_normalize_mean must be finite and loc_normalize_std > 0, got "
                        + Arrays.toString(mean) + ", " + Arrays.toString(std));
            }
        }
        mean = mean.clone();
        std = std.clone();
    }

    /** A copy of the 4 means. */
    @Override
    public float[] mean() { return mean.clone(); }

    /** A copy of the 4 standard deviations. */
    @Override
    public float[] std() { return std.clone(); }

    @Override
    public boolean equals(Object o) {
        return o instanceof LocNormalization l && Arrays.equals(mean, l.mean) && Arrays.equals(std, l.std);
    }

    @Override
    public int hashCode() { return 31 * Arrays.hashCode(mean) + Arrays.hashCode(std); }

    @Override
    public String toString() { return "LocNormalization[mean=" + Arrays.toString(mean) + ", std=" + Arrays.toString(std) + "]"; }
}
