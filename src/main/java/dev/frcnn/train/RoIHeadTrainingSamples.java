package dev.frcnn.train;

import dev.frcnn.model.utils.BboxTools;
import dev.frcnn.model.utils.BoxCoder;
import dev.frcnn.model.utils.BoxOps;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * The box head's training samples in torchvision ({@code RoIHeads.select_training_samples} with
 * {@code add_gt_proposals}, {@code assign_targets_to_proposals} and {@code subsample}, 0.14). torchvision's counterpart
 * of the reference's {@link ProposalTargetCreator}.
 *
 * <p>Per image:
 * <ol>
 *   <li>the gt boxes are APPENDED to the (detached) RPN proposals, so every gt matches itself;</li>
 *   <li>{@code matched = matcher(box_iou(gt, proposals))} (torchvision: {@code Matcher(0.5, 0.5, false)}); labels
 *       are the matched gt's label, 0 where {@link Matcher#BELOW_LOW_THRESHOLD}, -1 where
 *       {@link Matcher#BETWEEN_THRESHOLDS}; the matched index is clamped at 0 (negatives point at gt 0);</li>
 *   <li>{@link BalancedPositiveNegativeSampler} (torchvision: 512, 0.25) picks positives and negatives; the head sees
 *       the proposals at {@code sorted(pos ∪ neg)} (ascending index, not positives first);</li>
 *   <li>the regression targets of all sampled proposals encode their (clamped) matched gt with the head's
 *       {@link BoxCoder} (weights 10, 10, 5, 5); those of negatives are computed but unused by the loss.</li>
 * </ol>
 * An image without gt boxes has every proposal negative (label 0) with gt "box" zeros, as torchvision. Thread-safe if
 * the sampler is.
 */
public final class RoIHeadTrainingSamples {
    private final Matcher proposalMatcher;
    private final BalancedPositiveNegativeSampler fgBgSampler;
    private final BoxCoder boxCoder;

    /**
     * The match of every proposal of one image (gt appended).
     *
     * @param matchedIdxs (P,) int64 matched gt index, or -1 / -2
     * @param clampedMatchedIdxs (P,) int64 {@code max(matchedIdxs, 0)}
     * @param labels (P,) int64 class labels: the matched gt's label, 0 background, -1 ignored
     */
    public record Assignment(Tensor matchedIdxs, Tensor clampedMatchedIdxs, Tensor labels) {}

    /**
     * The training samples of one image.
     *
     * @param proposalsWithGt (P, 4) float32 RPN proposals with the gt boxes appended (what the matcher sees)
     * @param assignment the match of every one of them
     * @param sample the sampled positives and negatives (indices into {@code proposalsWithGt}, ascending)
     * @param sampledIndices (S,) int64 {@code sorted(pos ∪ neg)}
     * @param proposals (S, 4) float32 the sampled proposals, in that order: the head's RoIs
     * @param matchedIdxs (S,) int64 their clamped matched gt index
     * @param labels (S,) int64 their labels
     * @param regressionTargets (S, 4) float32 their targets {@code (dx, dy, dw, dh)}
     */
    public record ImageSamples(Tensor proposalsWithGt, Assignment assignment, BalancedPositiveNegativeSampler.Sample sample,
                               Tensor sampledIndices, Tensor proposals, Tensor matchedIdxs, Tensor labels,
                               Tensor regressionTargets) {}

    /**
     * @param proposalMatcher torchvision: {@code new Matcher(0.5, 0.5, false)}
     * @param fgBgSampler torchvision: 512 per image, 0.25 positive
     * @param boxCoder the box head's coder, torchvision: weights (10, 10, 5, 5)
     * @throws NullPointerException if an argument is null
     */
    public RoIHeadTrainingSamples(Matcher proposalMatcher, BalancedPositiveNegativeSampler fgBgSampler, BoxCoder boxCoder) {
        this.proposalMatcher = Objects.requireNonNull(proposalMatcher, "proposalMatcher");
        this.fgBgSampler = Objects.requireNonNull(fgBgSampler, "fgBgSampler");
        this.boxCoder = Objects.requireNonNull(boxCoder, "boxCoder");
    }

    /**
     * Appends the gt boxes to the proposals; mirrors {@code add_gt_proposals} for one image.
     *
     * @param proposals (R, 4) float32 proposals {@code (x1, y1, x2, y2)}, resized frame
     * @param gtBoxes (G, 4) gt boxes, same frame
     * @return (R + G, 4) float32, detached, on the proposals' device
     * @throws IllegalArgumentException if a shape is not (., 4)
     */
    public static Tensor addGtProposals(Tensor proposals, Tensor gtBoxes) {
        BboxTools.requireBoxes(proposals, "proposals");
        BboxTools.requireBoxes(gtBoxes, "gtBoxes");
        return cat(new TensorVector(proposals.detach(), gtBoxes.detach().to(proposals.device(), proposals.scalar_type())), 0);
    }

    /**
     * Matches proposals to the gt boxes; mirrors {@code assign_targets_to_proposals} for one image.
     *
     * @param proposals (P, 4) float32 proposals (gt appended)
     * @param gtBoxes (G, 4) float32 gt boxes, same device; G may be 0
     * @param gtLabels (G,) int64 gt labels (1..C-1)
     * @return the match of every proposal
     * @throws IllegalArgumentException if the shapes disagree
     */
    public Assignment assignTargetsToProposals(Tensor proposals, Tensor gtBoxes, Tensor gtLabels) {
        if (gtLabels.dim() != 1 || gtLabels.size(0) != gtBoxes.size(0)) {
            throw new IllegalArgumentException("RoIHeadTrainingSamples: " + gtBoxes.size(0) + " gt boxes but gt labels of shape "
                    + java.util.Arrays.toString(gtLabels.sizes().vec().get()));
        }
        long p = proposals.size(0);
        if (gtBoxes.size(0) == 0) {
            Tensor zerosLong = zeros(new long[]{p}, BboxTools.options(proposals, ScalarType.Long));
            Tensor matched = zerosLong.clone().fill_(new Scalar(Matcher.BELOW_LOW_THRESHOLD));
            return new Assignment(matched, zerosLong, zerosLong.clone());
        }
        Tensor matched = proposalMatcher.match(BoxOps.boxIou(gtBoxes, proposals));
        Tensor clamped = matched.clamp_min(new Scalar(0));
        Tensor labels = gtLabels.to(proposals.device(), ScalarType.Long).index_select(0, clamped);
        labels.masked_fill_(matched.eq(new Scalar(Matcher.BELOW_LOW_THRESHOLD)), new Scalar(0));
        labels.masked_fill_(matched.eq(new Scalar(Matcher.BETWEEN_THRESHOLDS)), new Scalar(-1));
        return new Assignment(matched, clamped, labels);
    }

    /**
     * The training samples of one image (gt appended, matched, sampled, encoded).
     *
     * @param proposals (R, 4) float32 RPN proposals of the image, resized frame (detached here)
     * @param gtBoxes (G, 4) float32 gt boxes, resized frame
     * @param gtLabels (G,) int64 gt labels
     * @return the image's samples
     * @throws IllegalArgumentException if a shape is wrong
     */
    public ImageSamples select(Tensor proposals, Tensor gtBoxes, Tensor gtLabels) {
        Tensor withGt = addGtProposals(proposals, gtBoxes);
        Tensor gt = gtBoxes.detach().to(withGt.device(), withGt.scalar_type());
        Assignment a = assignTargetsToProposals(withGt, gt, gtLabels);
        BalancedPositiveNegativeSampler.Sample sample = fgBgSampler.sample(a.labels());
        Tensor sampled = sample.sampled();
        Tensor sampledProposals = withGt.index_select(0, sampled);
        Tensor matched = a.clampedMatchedIdxs().index_select(0, sampled);
        Tensor labels = a.labels().index_select(0, sampled);
        Tensor gtForTargets = gt.size(0) == 0 ? zeros(new long[]{1, 4}, BboxTools.options(withGt, ScalarType.Float)) : gt;
        Tensor targets = boxCoder.encode(gtForTargets.index_select(0, matched), sampledProposals);
        return new ImageSamples(withGt, a, sample, sampled, sampledProposals, matched, labels, targets);
    }

    /**
     * The training samples of each image; mirrors {@code select_training_samples(proposals, targets)}.
     *
     * @param proposals per image (R_i, 4) float32 RPN proposals
     * @param gtBoxes per image (G_i, 4) float32 gt boxes
     * @param gtLabels per image (G_i,) int64 gt labels
     * @return per image the samples
     * @throws IllegalArgumentException if the list lengths differ or a shape is wrong
     */
    public List<ImageSamples> select(List<Tensor> proposals, List<Tensor> gtBoxes, List<Tensor> gtLabels) {
        if (proposals.size() != gtBoxes.size() || proposals.size() != gtLabels.size()) {
            throw new IllegalArgumentException("RoIHeadTrainingSamples: " + proposals.size() + " images of proposals, "
                    + gtBoxes.size() + " of gt boxes and " + gtLabels.size() + " of gt labels");
        }
        List<ImageSamples> out = new ArrayList<>(proposals.size());
        for (int i = 0; i < proposals.size(); i++) out.add(select(proposals.get(i), gtBoxes.get(i), gtLabels.get(i)));
        return out;
    }
}
