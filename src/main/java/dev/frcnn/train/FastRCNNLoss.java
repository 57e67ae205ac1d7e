package dev.frcnn.train;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorVector;

import java.util.List;

import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.cross_entropy_loss;
import static org.bytedeco.pytorch.global.torch.smooth_l1_loss;

/**
 * The box head's two losses in torchvision ({@code roi_heads.fastrcnn_loss}, 0.14), over the sampled RoIs of all
 * images together (image-major, each image's RoIs in {@link RoIHeadTrainingSamples}' ascending order):
 * <ul>
 *   <li>{@code loss_classifier} = {@code cross_entropy} (mean) of the class logits against the labels;</li>
 *   <li>{@code loss_box_reg} = {@code smooth_l1_loss(beta, reduction=sum)} of the 4 columns of the gt class for the
 *       positive RoIs (label {@code > 0}) against their targets, divided by the number of sampled RoIs
 *       ({@code labels.numel()}), not by the positives.</li>
 * </ul>
 */
public final class FastRCNNLoss {
    private FastRCNNLoss() {}

    /**
     * The two losses.
     *
     * @param lossClassifier float32 scalar
     * @param lossBoxReg float32 scalar
     */
    public record Result(Tensor lossClassifier, Tensor lossBoxReg) {}

    /**
     * Computes both losses; mirrors {@code fastrcnn_loss(class_logits, box_regression, labels, regression_targets)}.
     *
     * @param classLogits (N, C) float32 class logits of the sampled RoIs of all images (C classes with background 0)
     * @param boxRegression (N, 4C) float32 per-class deltas {@code (dx, dy, dw, dh)}, same rows and device
     * @param labels per image (N_i,) int64 labels of the sampled RoIs (0 background), {@code sum N_i = N}
     * @param regressionTargets per image (N_i, 4) float32 targets (box coder weights 10, 10, 5, 5)
     * @param beta the smooth L1 beta (torchvision: {@link RpnLoss#SMOOTH_L1_BETA})
     * @return both losses, differentiable in {@code classLogits} and {@code boxRegression}
     * @throws IllegalArgumentException if the shapes disagree
     */
    public static Result compute(Tensor classLogits, Tensor boxRegression, List<Tensor> labels,
                                 List<Tensor> regressionTargets, double beta) {
        if (labels.isEmpty() || labels.size() != regressionTargets.size()) {
            throw new IllegalArgumentException("fastrcnn_loss: " + labels.size() + " images of labels and "
                    + regressionTargets.size() + " of regression targets (at least one image)");
        }
        Tensor allLabels = cat(new TensorVector(labels.toArray(new Tensor[0])), 0);
        Tensor allTargets = cat(new TensorVector(regressionTargets.toArray(new Tensor[0])), 0);
        long n = allLabels.size(0);
        if (classLogits.dim() != 2 || classLogits.size(0) != n || boxRegression.dim() != 2 || boxRegression.size(0) != n
                || boxRegression.size(1) != 4 * classLogits.size(1) || allTargets.size(0) != n) {
            throw new IllegalArgumentException("fastrcnn_loss: class logits " + Tensors.shapeString(classLogits)
                    + ", box regression " + Tensors.shapeString(boxRegression) + " and regression targets "
                    + Tensors.shapeString(allTargets) + " do not fit " + n + " sampled RoIs");
        }
        Tensor classificationLoss = cross_entropy_loss(classLogits, allLabels, new TensorOptional(),
                RpnLoss.REDUCTION_MEAN, -100, 0.0);
        Tensor pos = allLabels.gt(new Scalar(0)).nonzero().view(-1);
        Tensor labelsPos = allLabels.index_select(0, pos);
        Tensor perClass = boxRegression.reshape(n, boxRegression.size(1) / 4, 4);
        // box_regression[sampled_pos_inds_subset, labels_pos]: row i's gt-class column block.
        Tensor predPos = perClass.index_select(0, pos).gather(1, labelsPos.view(-1, 1, 1).expand(-1, 1, 4)).view(-1, 4);
        Tensor boxLoss = smooth_l1_loss(predPos, allTargets.index_select(0, pos), RpnLoss.REDUCTION_SUM, beta)
                .div(new Scalar(n));
        return new Result(classificationLoss, boxLoss);
    }
}
