package dev.frcnn.train;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorIndex;
import org.bytedeco.pytorch.TensorIndexVector;

/**
 * torchvision's matcher ({@code torchvision.models.detection._utils.Matcher}, 0.14): assigns each prediction (anchor
 * or proposal) the ground-truth box it overlaps most, or marks it as below or between the thresholds.
 *
 * <p>For an (M gt, N predictions) quality matrix (float32 IoUs):
 * <ul>
 *   <li>each column's maximum and its row, the first gt on ties ({@code max(dim=0)});</li>
 *   <li>maximum {@code < lowThreshold} gives {@link #BELOW_LOW_THRESHOLD} (-1), {@code [low, high)} gives
 *       {@link #BETWEEN_THRESHOLDS} (-2); thresholds are compared in float32, as torchvision's scalar comparison;</li>
 *   <li>with {@code allowLowQualityMatches}, for each gt every prediction whose IoU EQUALS that gt's maximum (exact
 *       float32 ties, all of them) gets its own argmax gt back, even below the thresholds (that gt need not be the one
 *       whose maximum it attains).</li>
 * </ul>
 * The RPN uses (0.7, 0.3, true), the RoI head (0.5, 0.5, false). Immutable and thread-safe.
 */
public final class Matcher {
    /** A prediction whose best IoU is below the low threshold (a negative). */
    public static final long BELOW_LOW_THRESHOLD = -1;
    /** A prediction whose best IoU lies in {@code [low, high)} (ignored). */
    public static final long BETWEEN_THRESHOLDS = -2;

    private final double highThreshold;
    private final double lowThreshold;
    private final boolean allowLowQualityMatches;

    /**
     * A matcher; mirrors {@code Matcher(high_threshold, low_threshold, allow_low_quality_matches)}.
     *
     * @param highThreshold IoUs {@code >=} this are matches
     * @param lowThreshold IoUs {@code <} this are negatives; {@code <= highThreshold}
     * @param allowLowQualityMatches whether each gt's best predictions are matched whatever their IoU
     * @throws IllegalArgumentException if {@code lowThreshold > highThreshold} or a threshold is NaN
     */
    public Matcher(double highThreshold, double lowThreshold, boolean allowLowQualityMatches) {
        if (!(lowThreshold <= highThreshold)) {
            throw new IllegalArgumentException("Matcher: low threshold " + lowThreshold + " must be <= high threshold " + highThreshold);
        }
        this.highThreshold = highThreshold;
        this.lowThreshold = lowThreshold;
        this.allowLowQualityMatches = allowLowQualityMatches;
    }

    /** @return the high threshold */
    public double highThreshold() {
        return highThreshold;
    }

    /** @return the low threshold */
    public double lowThreshold() {
        return lowThreshold;
    }

    /** @return whether low-quality matches are allowed */
    public boolean allowLowQualityMatches() {
        return allowLowQualityMatches;
    }

    /**
     * Matches predictions to gt boxes; mirrors {@code Matcher.__call__}.
     *
     * @param matchQualityMatrix (M, N) float32 quality (IoU) of gt m with prediction n, any device
     * @return (N,) int64 on the matrix's device: the matched gt index {@code >= 0}, {@link #BELOW_LOW_THRESHOLD} or
     *     {@link #BETWEEN_THRESHOLDS}
     * @throws IllegalArgumentException if the matrix is not 2-D or empty (torchvision's "No ground-truth boxes
     *     available" / "No proposal boxes available" errors)
     */
    public Tensor match(Tensor matchQualityMatrix) {
        if (matchQualityMatrix == null || matchQualityMatrix.dim() != 2) {
            throw new IllegalArgumentException("Matcher: the match quality matrix must be (M gt, N predictions), got "
                    + (matchQualityMatrix == null ? "null" : Tensors.shapeString(matchQualityMatrix)));
        }
        if (matchQualityMatrix.numel() == 0) {
            throw new IllegalArgumentException(matchQualityMatrix.size(0) == 0
                    ? "Matcher: no ground-truth boxes available for one of the images during training"
                    : "Matcher: no proposal boxes available for one of the images during training");
        }
        T_TensorTensor_T max = matchQualityMatrix.max(0, false);
        Tensor matchedVals = max.get0();
        Tensor matches = max.get1();
        Tensor allMatches = allowLowQualityMatches ? matches.clone() : null;
        Tensor below = matchedVals.lt(new Scalar(lowThreshold));
        Tensor between = matchedVals.ge(new Scalar(lowThreshold)).logical_and(matchedVals.lt(new Scalar(highThreshold)));
        matches.masked_fill_(below, new Scalar(BELOW_LOW_THRESHOLD));
        matches.masked_fill_(between, new Scalar(BETWEEN_THRESHOLDS));
        if (allowLowQualityMatches) setLowQualityMatches(matches, allMatches, matchQualityMatrix);
        return matches;
    }

    /** Mirrors {@code set_low_quality_matches_}: every prediction attaining some gt's maximum gets its argmax back. */
    private static void setLowQualityMatches(Tensor matches, Tensor allMatches, Tensor matchQualityMatrix) {
        Tensor highestForEachGt = matchQualityMatrix.max(1, false).get0();
        Tensor pairs = matchQualityMatrix.eq(highestForEachGt.unsqueeze(1)).nonzero();   // (P, 2): (gt, prediction)
        Tensor predIndsToUpdate = pairs.select(1, 1);
        TensorIndexVector at = new TensorIndexVector(new TensorIndex(predIndsToUpdate));
        matches.index_put_(at, allMatches.index(at));
    }

    @Override
    public String toString() {
        return "Matcher(high=" + highThreshold + ", low=" + lowThreshold + ", allow_low_quality_matches="
                + allowLowQualityMatches + ")";
    }
}
