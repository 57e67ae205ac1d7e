package dev.frcnn.train;

import dev.frcnn.model.utils.BboxTools;
import dev.frcnn.model.utils.BoxCoder;
import dev.frcnn.model.utils.BoxOps;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * The RPN's training targets in torchvision ({@code RegionProposalNetwork.assign_targets_to_anchors} and the
 * {@code box_coder.encode} of its {@code forward}, 0.14): which anchors are positive, negative or ignored, and the
 * regression target of every anchor. torchvision's counterpart of the reference's {@link AnchorTargetCreator}; unlike
 * it, anchors crossing the image border are kept, and sampling is left to {@link RpnLoss}.
 *
 * <p>Per image: {@code matched = matcher(box_iou(gt, anchors))} (torchvision: {@code Matcher(0.7, 0.3,
 * allow_low_quality_matches=True)}); labels {@code 1.0} where {@code matched >= 0}, {@code 0.0} where it is
 * {@link Matcher#BELOW_LOW_THRESHOLD}, {@code -1.0} where {@link Matcher#BETWEEN_THRESHOLDS}; the regression targets
 * encode {@code gt[max(matched, 0)]} against every anchor with the RPN's {@link BoxCoder} (weights 1, 1, 1, 1). An
 * image without gt boxes has every anchor negative and zero targets. Immutable and thread-safe.
 */
public final class RpnTargets {
    private final Matcher matcher;
    private final BoxCoder boxCoder;

    /**
     * The targets of one image.
     *
     * @param matchedIdxs (A,) int64 matched gt index per anchor, or -1 (negative) / -2 (ignored); all -1 without gt
     * @param labels (A,) float32: 1 positive, 0 negative, -1 ignored
     * @param regressionTargets (A, 4) float32 deltas {@code (dx, dy, dw, dh)} of the matched gt against each anchor
     *     (gt 0 for unmatched anchors; zeros without gt)
     */
    public record ImageTargets(Tensor matchedIdxs, Tensor labels, Tensor regressionTargets) {}

    /**
     * @param matcher the anchor matcher (torchvision: {@code new Matcher(0.7, 0.3, true)})
     * @param boxCoder the RPN's box coder (torchvision: weights 1, 1, 1, 1)
     * @throws NullPointerException if an argument is null
     */
    public RpnTargets(Matcher matcher, BoxCoder boxCoder) {
        this.matcher = Objects.requireNonNull(matcher, "matcher");
        this.boxCoder = Objects.requireNonNull(boxCoder, "boxCoder");
    }

    /** torchvision's defaults: {@code Matcher(0.7, 0.3, true)} and weights (1, 1, 1, 1). */
    public RpnTargets() {
        this(new Matcher(0.7, 0.3, true), new BoxCoder(1, 1, 1, 1));
    }

    /**
     * The targets of one image.
     *
     * @param anchors (A, 4) float32 anchors {@code (x1, y1, x2, y2)} in pixels of the padded batch
     * @param gtBoxes (G, 4) float32 gt boxes, same frame and device; G may be 0
     * @return labels, matches and regression targets on the anchors' device
     * @throws IllegalArgumentException if a shape is not (., 4)
     */
    public ImageTargets assign(Tensor anchors, Tensor gtBoxes) {
        BboxTools.requireBoxes(anchors, "anchors");
        BboxTools.requireBoxes(gtBoxes, "gtBoxes");
        long a = anchors.size(0);
        if (gtBoxes.size(0) == 0) {
            Tensor matched = zeros(new long[]{a}, BboxTools.options(anchors, ScalarType.Long)).fill_(new Scalar(Matcher.BELOW_LOW_THRESHOLD));
            Tensor labels = zeros(new long[]{a}, BboxTools.options(anchors, ScalarType.Float));
            Tensor targets = zeros(new long[]{a, 4}, BboxTools.options(anchors, ScalarType.Float));
            return new ImageTargets(matched, labels, targets);
        }
        gtBoxes = gtBoxes.to(anchors.device(), ScalarType.Float);
        Tensor matched = matcher.match(BoxOps.boxIou(gtBoxes, anchors));
        Tensor matchedGt = gtBoxes.index_select(0, matched.clamp_min(new Scalar(0)));
        Tensor labels = matched.ge(new Scalar(0)).to(ScalarType.Float);
        labels.masked_fill_(matched.eq(new Scalar(Matcher.BELOW_LOW_THRESHOLD)), new Scalar(0.0));
        labels.masked_fill_(matched.eq(new Scalar(Matcher.BETWEEN_THRESHOLDS)), new Scalar(-1.0));
        return new ImageTargets(matched, labels, boxCoder.encode(matchedGt, anchors));
    }

    /**
     * The targets of each image of a batch (the same anchors for every image, as torchvision's padded batch).
     *
     * @param anchors (A, 4) float32 anchors of the padded batch
     * @param gtBoxes per image (G_i, 4) float32 gt boxes in the resized frame
     * @return per image the targets
     * @throws IllegalArgumentException as {@link #assign(Tensor, Tensor)}
     */
    public List<ImageTargets> assign(Tensor anchors, List<Tensor> gtBoxes) {
        List<ImageTargets> out = new ArrayList<>(gtBoxes.size());
        for (Tensor gt : gtBoxes) out.add(assign(anchors, gt));
        return out;
    }
}
