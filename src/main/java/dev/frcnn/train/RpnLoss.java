package dev.frcnn.train;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import static org.bytedeco.pytorch.global.torch.binary_cross_entropy_with_logits;
import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.smooth_l1_loss;

/**
 * The RPN's two losses in torchvision ({@code RegionProposalNetwork.compute_loss}, 0.14).
 *
 * <p>Sampling is per image ({@link BalancedPositiveNegativeSampler}, torchvision: 256 anchors, 0.5 positive), the
 * losses are over the concatenated batch (image-major, anchor order (level, y, x, anchor) within each image):
 * <ul>
 *   <li>{@code loss_objectness} = {@code binary_cross_entropy_with_logits} (mean) over the sampled anchors of all
 *       images, in torchvision's order (all positives, then all negatives);</li>
 *   <li>{@code loss_rpn_box_reg} = {@code smooth_l1_loss(beta, reduction=sum)} over the 4 deltas of the sampled
 *       positives, divided by the number of sampled anchors (positives and negatives) of all images.</li>
 * </ul>
 * Thread-safe if the sampler is.
 */
public final class RpnLoss {
    /** torchvision's smooth L1 beta of both box losses: {@code 1/9}. */
    public static final double SMOOTH_L1_BETA = 1.0 / 9;
    /** ATen's {@code Reduction::Mean}. */
    static final long REDUCTION_MEAN = 1;
    /** ATen's {@code Reduction::Sum}. */
    static final long REDUCTION_SUM = 2;

    private final BalancedPositiveNegativeSampler fgBgSampler;
    private final double beta;

    /**
     * The two losses and the samples they were computed on.
     *
     * @param lossObjectness float32 scalar
     * @param lossRpnBoxReg float32 scalar
     * @param samples per image the sampled anchors (indices within the image)
     */
    public record Result(Tensor lossObjectness, Tensor lossRpnBoxReg, List<BalancedPositiveNegativeSampler.Sample> samples) {}

    /**
     * @param fgBgSampler the per-image sampler (torchvision: 256, 0.5)
     * @param beta the smooth L1 beta (torchvision: {@link #SMOOTH_L1_BETA})
     * @throws IllegalArgumentException if beta is not positive
     * @throws NullPointerException if the sampler is null
     */
    public RpnLoss(BalancedPositiveNegativeSampler fgBgSampler, double beta) {
        this.fgBgSampler = Objects.requireNonNull(fgBgSampler, "fgBgSampler");
        if (!(beta > 0)) throw new IllegalArgumentException("smooth L1 beta must be > 0: " + beta);
        this.beta = beta;
    }

    /**
     * Samples each image and computes both losses; mirrors {@code compute_loss(objectness, pred_bbox_deltas, labels,
     * regression_targets)}.
     *
     * @param objectness (B*A,) or (B*A, 1) float32 logits, image-major, the RPN head's flattened output
     * @param predBboxDeltas (B*A, 4) float32 predicted deltas {@code (dx, dy, dw, dh)}, same order and device
     * @param labels per image (A_i,) float32 labels (1 positive, 0 negative, -1 ignored), {@link RpnTargets}
     * @param regressionTargets per image (A_i, 4) float32 targets, {@link RpnTargets}
     * @return both losses (differentiable in {@code objectness} and {@code predBboxDeltas}) and the samples
     * @throws IllegalArgumentException if the lengths or row counts disagree
     */
    public Result compute(Tensor objectness, Tensor predBboxDeltas, List<Tensor> labels, List<Tensor> regressionTargets) {
        if (labels.size() != regressionTargets.size() || labels.isEmpty()) {
            throw new IllegalArgumentException("RpnLoss: " + labels.size() + " images of labels and "
                    + regressionTargets.size() + " of regression targets (at least one image)");
        }
        Tensor flatObjectness = objectness.flatten(0, -1);
        long total = 0;
        for (Tensor l : labels) total += l.size(0);
        if (flatObjectness.size(0) != total || predBboxDeltas.dim() != 2 || predBboxDeltas.size(0) != total
                || predBboxDeltas.size(1) != 4) {
            throw new IllegalArgumentException("RpnLoss: objectness " + Tensors.shapeString(objectness) + " and deltas "
                    + Tensors.shapeString(predBboxDeltas) + " do not fit " + total + " anchors of " + labels.size() + " images");
        }
        List<BalancedPositiveNegativeSampler.Sample> samples = fgBgSampler.sample(labels);
        List<Tensor> pos = new ArrayList<>(samples.size());
        List<Tensor> neg = new ArrayList<>(samples.size());
        long offset = 0;
        for (int i = 0; i < samples.size(); i++) {
            Scalar off = new Scalar(offset);
            pos.add(samples.get(i).positive().add(off));
            neg.add(samples.get(i).negative().add(off));
            offset += labels.get(i).size(0);
        }
        Tensor sampledPos = cat(new TensorVector(pos.toArray(new Tensor[0])), 0);
        Tensor sampledNeg = cat(new TensorVector(neg.toArray(new Tensor[0])), 0);
        Tensor sampled = cat(new TensorVector(sampledPos, sampledNeg), 0);
        Tensor allLabels = cat(new TensorVector(labels.toArray(new Tensor[0])), 0);
        Tensor allTargets = cat(new TensorVector(regressionTargets.toArray(new Tensor[0])), 0);

        Tensor boxLoss = smooth_l1_loss(predBboxDeltas.index_select(0, sampledPos), allTargets.index_select(0, sampledPos),
                REDUCTION_SUM, beta).div(new Scalar(sampled.size(0)));
        Tensor objectnessLoss = binary_cross_entropy_with_logits(flatObjectness.index_select(0, sampled),
                allLabels.index_select(0, sampled), new TensorOptional(), new TensorOptional(), REDUCTION_MEAN);
        return new Result(objectnessLoss, boxLoss, samples);
    }
}
