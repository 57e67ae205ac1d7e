package dev.frcnn.train;

import dev.frcnn.model.utils.BboxTools;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.Objects;

/**
 * Assigns ground-truth boxes to anchors to train the RPN; mirrors the reference's
 * {@code model/utils/creator_tool.AnchorTargetCreator} (with {@code _get_inside_index},
 * {@code _create_label}, {@code _calc_ious} and {@code _unmap}).
 *
 * <p>Steps: keep the anchors lying fully inside the image ({@code ymin >= 0, xmin >= 0, ymax <= H,
 * xmax <= W}); compute their float32 IoU with every gt box; label {@code -1} everywhere, {@code 0} where
 * the anchor's max IoU {@code < negIouThresh}, {@code 1} for every anchor that attains some gt box's
 * maximum IoU exactly (all ties), {@code 1} where the max IoU {@code >= posIouThresh}. Thresholds are
 * rounded to float32 first, as numpy does. Then subsample with the {@link Sampler}: keep at most
 * {@code (int)(posRatio*nSample)} positives and {@code nSample - #positives} negatives, the others become
 * {@code -1}. The loc target of every inside anchor is {@code bbox2loc(anchor, gt[argmax IoU])}, not
 * normalised. Finally both are scattered back to all anchors (label fill {@code -1}, loc fill {@code 0}).
 *
 * <p>All work is tensor ops on the inputs' device; only the small counts (positives, negatives) are read
 * back to the host. Not thread-safe if the sampler is not.
 */
public final class AnchorTargetCreator {
    private final int nSample;
    private final double posIouThresh;
    private final double negIouThresh;
    private final double posRatio;
    private final Sampler sampler;

    /**
     * Labels and regression targets of all anchors.
     *
     * @param loc (S, 4) float32 offsets {@code (t_y, t_x, t_h, t_w)} from each anchor to its assigned gt box;
     *            0 for anchors not fully inside the image
     * @param label (S,) int64: 1 positive, 0 negative, -1 ignored
     */
    public record Result(Tensor loc, Tensor label) {}

    /**
     * The result plus the intermediates of the reference's computation, all in the inside-anchor index
     * space (M = number of inside anchors, K = number of gt boxes).
     *
     * @param insideIndex (M,) int64 indices of the anchors fully inside the image, increasing
     * @param argmaxIous (M,) int64 gt index of each inside anchor's maximum IoU (first maximum)
     * @param maxIous (M,) float32 that maximum IoU
     * @param gtArgmaxIous (P,) int64 inside-anchor indices of every (anchor, gt) pair whose IoU equals that
     *                     gt's maximum, in row-major (anchor, gt) order; may repeat an anchor
     * @param labelBeforeSubsample (M,) int64 labels 1/0/-1 before subsampling
     * @param result the final targets
     */
    public record Trace(Tensor insideIndex, Tensor argmaxIous, Tensor maxIous, Tensor gtArgmaxIous,
                        Tensor labelBeforeSubsample, Result result) {}

    /** The reference's defaults: nSample 256, posIouThresh 0.7, negIouThresh 0.3, posRatio 0.5, {@link Sampler#firstN()}. */
    public AnchorTargetCreator() {
        this(256, 0.7, 0.3, 0.5, Sampler.firstN());
    }

    /**
     * A creator with explicit parameters.
     *
     * @param nSample number of anchors to sample (positives + negatives), {@code > 0}
     * @param posIouThresh anchors with max IoU {@code >=} this are positive
     * @param negIouThresh anchors with max IoU {@code <} this are negative
     * @param posRatio at most {@code (int)(posRatio * nSample)} positives are kept, in [0, 1]
     * @param sampler chooses which positives/negatives to keep when there are too many
     * @throws IllegalArgumentException if {@code nSample <= 0} or {@code posRatio} is outside [0, 1]
     * @throws NullPointerException if {@code sampler} is null
     */
    public AnchorTargetCreator(int nSample, double posIouThresh, double negIouThresh, double posRatio,
                               Sampler sampler) {
        if (nSample <= 0) throw new IllegalArgumentException("nSample must be > 0: " + nSample);
        if (!(posRatio >= 0 && posRatio <= 1)) throw new IllegalArgumentException("posRatio must be in [0,1]: " + posRatio);
        this.nSample = nSample;
        this.posIouThresh = posIouThresh;
        this.negIouThresh = negIouThresh;
        this.posRatio = posRatio;
        this.sampler = Objects.requireNonNull(sampler, "sampler");
    }

    /**
     * Computes the RPN targets; mirrors {@code AnchorTargetCreator.__call__(bbox, anchor, (H, W))}.
     *
     * @param bbox (K, 4) float32 gt boxes {@code (ymin, xmin, ymax, xmax)} in input-image pixels, K {@code >= 1}
     * @param anchor (S, 4) float32 anchors, same layout, units and device
     * @param imgH input image height in pixels
     * @param imgW input image width in pixels
     * @return loc (S, 4) float32 and label (S,) int64 on the anchors' device
     * @throws IllegalArgumentException if there is no gt box (the reference fails on an empty gt set too)
     *         or a shape is wrong. If no anchor lies inside the image, all labels are -1 and all locs 0 (the
     *         reference raises in that case).
     */
    public Result call(Tensor bbox, Tensor anchor, int imgH, int imgW) {
        return trace(bbox, anchor, imgH, imgW).result();
    }

    /**
     * As {@link #call}, also returning the intermediates (for tests and diagnostics).
     *
     * @param bbox (K, 4) float32 gt boxes {@code (ymin, xmin, ymax, xmax)} in pixels, K {@code >= 1}
     * @param anchor (S, 4) float32 anchors, same layout, units and device
     * @param imgH input image height in pixels
     * @param imgW input image width in pixels
     * @return the result and the intermediates, on the anchors' device
     * @throws IllegalArgumentException as {@link #call}
     */
    public Trace trace(Tensor bbox, Tensor anchor, int imgH, int imgW) {
        BboxTools.requireBoxes(bbox, "bbox");
        BboxTools.requireBoxes(anchor, "anchor");
        if (bbox.size(0) == 0) {
            throw new IllegalArgumentException("AnchorTargetCreator needs at least one gt box");
        }
        long nAnchor = anchor.size(0);
        bbox = bbox.to(anchor.device(), anchor.scalar_type());
        Tensor insideIndex = insideIndex(anchor, imgH, imgW);
        long m = insideIndex.size(0);
        if (m == 0) {
            Tensor empty = insideIndex;
            Tensor loc = anchor.new_zeros(new long[]{nAnchor, 4}, BboxTools.options(anchor, anchor.scalar_type()));
            Tensor label = anchor.new_full(new long[]{nAnchor}, new Scalar(-1L), BboxTools.options(anchor, ScalarType.Long));
            Tensor emptyF = anchor.new_zeros(new long[]{0}, BboxTools.options(anchor, anchor.scalar_type()));
            return new Trace(insideIndex, empty, emptyF, empty, empty, new Result(loc, label));
        }
        Tensor inside = anchor.index_select(0, insideIndex);

        // _calc_ious
        Tensor ious = BboxTools.bboxIou(inside, bbox);                 // (M, K)
        T_TensorTensor_T rowMax = ious.max(1);
        Tensor maxIous = rowMax.get0();
        Tensor argmaxIous = rowMax.get1();
        Tensor gtMax = ious.max(0).get0();                              // (K,)
        Tensor gtArgmaxIous = ious.eq(gtMax.unsqueeze(0)).nonzero().select(1, 0).contiguous();

        // _create_label
        Tensor label = maxIous.new_full(new long[]{m}, new Scalar(-1L), BboxTools.options(maxIous, ScalarType.Long));
        label.masked_fill_(maxIous.lt(new Scalar(f32(negIouThresh))), new Scalar(0L));
        label.index_fill_(0, gtArgmaxIous, new Scalar(1L));
        label.masked_fill_(maxIous.ge(new Scalar(f32(posIouThresh))), new Scalar(1L));
        Tensor labelBefore = label.clone();

        long nPos = (long) (posRatio * nSample);
        Tensor posIndex = label.eq(new Scalar(1L)).nonzero().select(1, 0);
        long posCount = posIndex.size(0);
        if (posCount > nPos) {
            Tensor keep = sampler.choose(posIndex, nPos);
            label.index_fill_(0, posIndex, new Scalar(-1L));
            label.index_fill_(0, keep, new Scalar(1L));
            posCount = nPos;
        }
        long nNeg = nSample - posCount;
        Tensor negIndex = label.eq(new Scalar(0L)).nonzero().select(1, 0);
        if (negIndex.size(0) > nNeg) {
            Tensor keep = sampler.choose(negIndex, nNeg);
            label.index_fill_(0, negIndex, new Scalar(-1L));
            label.index_fill_(0, keep, new Scalar(0L));
        }

        Tensor loc = BboxTools.bbox2loc(inside, bbox.index_select(0, argmaxIous));

        // _unmap
        Tensor fullLabel = label.new_full(new long[]{nAnchor}, new Scalar(-1L), BboxTools.options(label, ScalarType.Long));
        fullLabel.index_copy_(0, insideIndex, label);
        Tensor fullLoc = loc.new_zeros(new long[]{nAnchor, 4}, BboxTools.options(loc, loc.scalar_type()));
        fullLoc.index_copy_(0, insideIndex, loc);
        return new Trace(insideIndex, argmaxIous, maxIous, gtArgmaxIous, labelBefore, new Result(fullLoc, fullLabel));
    }

    /**
     * Indices of the anchors lying fully inside the image; mirrors {@code creator_tool._get_inside_index}.
     *
     * @param anchor (S, 4) float32 anchors {@code (ymin, xmin, ymax, xmax)} in pixels
     * @param imgH image height in pixels
     * @param imgW image width in pixels
     * @return (M,) int64 increasing indices with {@code ymin >= 0, xmin >= 0, ymax <= H, xmax <= W}
     * @throws IllegalArgumentException if {@code anchor} is not (S, 4)
     */
    public static Tensor insideIndex(Tensor anchor, int imgH, int imgW) {
        BboxTools.requireBoxes(anchor, "anchor");
        Tensor ok = anchor.select(1, 0).ge(new Scalar(0L))
                .logical_and(anchor.select(1, 1).ge(new Scalar(0L)))
                .logical_and(anchor.select(1, 2).le(new Scalar((long) imgH)))
                .logical_and(anchor.select(1, 3).le(new Scalar((long) imgW)));
        return ok.nonzero().select(1, 0).contiguous();
    }

    /** A threshold rounded to float32, as numpy 1.24 does when comparing a float32 array with a Python float. */
    private static double f32(double v) {
        return (float) v;
    }

    @Override
    public String toString() {
        return "AnchorTargetCreator[nSample=" + nSample + ", posIouThresh=" + posIouThresh + ", negIouThresh="
                + negIouThresh + ", posRatio=" + posRatio + ", sampler=" + sampler + "]";
    }
}
