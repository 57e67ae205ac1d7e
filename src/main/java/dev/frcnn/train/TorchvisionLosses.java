package dev.frcnn.train;

import dev.frcnn.model.ImageList;
import dev.frcnn.model.utils.BboxTools;
import dev.frcnn.model.utils.BoxCoder;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The four training losses of torchvision's Faster R-CNN for one padded batch, in one call: what
 * {@code GeneralizedRCNN.forward} computes in training mode around the model's forward passes (0.14).
 *
 * <p>Order, as torchvision (it matters for a seeded {@link Sampler}, which is drawn from in this order): the RPN's
 * targets ({@link RpnTargets}) and losses ({@link RpnLoss}: sampling per image, losses over the batch), then the box
 * head's samples ({@link RoIHeadTrainingSamples}: gt appended, matched, sampled per image, targets), the caller's box
 * head on the sampled RoIs, and {@link FastRCNNLoss}. The caller's model provides the RPN outputs and runs the box head;
 * this class owns no parameters. Thread-safe if the samplers are.
 */
public final class TorchvisionLosses {
    private final RpnTargets rpnTargets;
    private final RpnLoss rpnLoss;
    private final RoIHeadTrainingSamples roiSamples;
    private final double beta;

    /**
     * The four losses, in torchvision's dict order (references/detection/engine.py sums them in this order).
     *
     * @param lossClassifier float32 scalar, box head cross entropy
     * @param lossBoxReg float32 scalar, box head smooth L1
     * @param lossObjectness float32 scalar, RPN binary cross entropy
     * @param lossRpnBoxReg float32 scalar, RPN smooth L1
     */
    public record Losses(Tensor lossClassifier, Tensor lossBoxReg, Tensor lossObjectness, Tensor lossRpnBoxReg) {
        /** torchvision's loss names, in order. */
        public static final List<String> NAMES = List.of("loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg");

        /** @return {@link #NAMES} */
        public List<String> names() {
            return NAMES;
        }

        /** @return the losses by torchvision's names, in order */
        public Map<String, Tensor> asMap() {
            Map<String, Tensor> m = new LinkedHashMap<>();
            m.put(NAMES.get(0), lossClassifier);
            m.put(NAMES.get(1), lossBoxReg);
            m.put(NAMES.get(2), lossObjectness);
            m.put(NAMES.get(3), lossRpnBoxReg);
            return m;
        }

        /** @return float32 scalar {@code sum(losses.values())}: {@code ((classifier + box_reg) + objectness) + rpn_box_reg} */
        public Tensor total() {
            return lossClassifier.add(lossBoxReg).add(lossObjectness).add(lossRpnBoxReg);
        }
    }

    /**
     * What the model's RPN gives the losses for a padded batch of B images.
     *
     * @param anchors (A, 4) float32 anchors of the padded batch {@code (x1, y1, x2, y2)}, order (level, y, x, anchor)
     *     ({@code model.rpn.AnchorGenerator}); the same for every image
     * @param objectness (B*A,) or (B*A, 1) float32 objectness logits, image-major, anchor order
     * @param predBboxDeltas (B*A, 4) float32 deltas {@code (dx, dy, dw, dh)}, same order
     * @param proposals per image (R_i, 4) float32 proposals after NMS and top-n, resized frame (detached here)
     */
    public record RpnOutputs(Tensor anchors, Tensor objectness, Tensor predBboxDeltas, List<Tensor> proposals) {}

    /**
     * What the model's box head gives for the sampled RoIs of all images.
     *
     * @param classLogits (N, C) float32 class logits (C with background 0)
     * @param boxRegression (N, 4C) float32 per-class deltas {@code (dx, dy, dw, dh)}
     */
    public record HeadOutputs(Tensor classLogits, Tensor boxRegression) {}

    /** The model's box head (RoI pooling, box head, predictor) run on the sampled RoIs. */
    @FunctionalInterface
    public interface BoxHead {
        /**
         * @param sampledProposals per image the sampled RoIs, (S_i, 4) float32 {@code (x1, y1, x2, y2)} in the resized
         *     frame, in {@link RoIHeadTrainingSamples}' order
         * @return the head's outputs for all of them, image 0's rows first
         */
        HeadOutputs run(List<Tensor> sampledProposals);
    }

    /**
     * @param rpnTargets the RPN's matcher and box coder
     * @param rpnLoss the RPN's sampler and losses
     * @param roiSamples the box head's matcher, sampler and box coder
     * @param beta the box head's smooth L1 beta
     * @throws NullPointerException if an argument is null
     */
    public TorchvisionLosses(RpnTargets rpnTargets, RpnLoss rpnLoss, RoIHeadTrainingSamples roiSamples, double beta) {
        this.rpnTargets = Objects.requireNonNull(rpnTargets, "rpnTargets");
        this.rpnLoss = Objects.requireNonNull(rpnLoss, "rpnLoss");
        this.roiSamples = Objects.requireNonNull(roiSamples, "roiSamples");
        if (!(beta > 0)) throw new IllegalArgumentException("smooth L1 beta must be > 0: " + beta);
        this.beta = beta;
    }

    /**
     * torchvision's {@code fasterrcnn_resnet50_fpn} training settings: RPN {@code Matcher(0.7, 0.3, true)}, 256 anchors
     * with 0.5 positive, weights (1, 1, 1, 1); box head {@code Matcher(0.5, 0.5, false)}, 512 RoIs with 0.25 positive,
     * weights (10, 10, 5, 5); smooth L1 beta 1/9.
     *
     * @param sampler the random choices of both samplers (e.g. {@link Sampler#seeded})
     * @return the losses
     */
    public static TorchvisionLosses fasterRcnnDefaults(Sampler sampler) {
        RpnLoss rpn = new RpnLoss(new BalancedPositiveNegativeSampler(256, 0.5, sampler), RpnLoss.SMOOTH_L1_BETA);
        RoIHeadTrainingSamples roi = new RoIHeadTrainingSamples(new Matcher(0.5, 0.5, false),
                new BalancedPositiveNegativeSampler(512, 0.25, sampler), new BoxCoder(10, 10, 5, 5));
        return new TorchvisionLosses(new RpnTargets(), rpn, roi, RpnLoss.SMOOTH_L1_BETA);
    }

    /**
     * The four losses of one padded batch.
     *
     * @param images the padded batch (its image count and sizes)
     * @param gtBoxes per image (G_i, 4) float32 gt boxes {@code (x1, y1, x2, y2)} in the RESIZED frame
     * @param gtLabels per image (G_i,) int64 labels, 1..C-1
     * @param rpn the RPN's outputs for the batch
     * @param head runs the model's box head on the sampled RoIs
     * @return the four losses (differentiable in the RPN and head outputs)
     * @throws IllegalArgumentException if the counts disagree or a gt box is degenerate ({@code x2 <= x1} or
     *     {@code y2 <= y1}: torchvision aborts the step too)
     */
    public Losses compute(ImageList images, List<Tensor> gtBoxes, List<Tensor> gtLabels, RpnOutputs rpn, BoxHead head) {
        int b = images.size();
        if (gtBoxes.size() != b || gtLabels.size() != b || rpn.proposals().size() != b) {
            throw new IllegalArgumentException("TorchvisionLosses: a batch of " + b + " images but " + gtBoxes.size()
                    + " gt box sets, " + gtLabels.size() + " label sets and " + rpn.proposals().size() + " proposal sets");
        }
        for (int i = 0; i < b; i++) checkBoxes(gtBoxes.get(i), i);
        List<RpnTargets.ImageTargets> targets = rpnTargets.assign(rpn.anchors(), gtBoxes);
        List<Tensor> labels = new ArrayList<>(b);
        List<Tensor> regression = new ArrayList<>(b);
        for (RpnTargets.ImageTargets t : targets) {
            labels.add(t.labels());
            regression.add(t.regressionTargets());
        }
        RpnLoss.Result rpnResult = rpnLoss.compute(rpn.objectness(), rpn.predBboxDeltas(), labels, regression);

        List<RoIHeadTrainingSamples.ImageSamples> samples = roiSamples.select(rpn.proposals(), gtBoxes, gtLabels);
        List<Tensor> rois = new ArrayList<>(b);
        List<Tensor> roiLabels = new ArrayList<>(b);
        List<Tensor> roiTargets = new ArrayList<>(b);
        for (RoIHeadTrainingSamples.ImageSamples s : samples) {
            rois.add(s.proposals());
            roiLabels.add(s.labels());
            roiTargets.add(s.regressionTargets());
        }
        HeadOutputs out = head.run(rois);
        FastRCNNLoss.Result headResult = FastRCNNLoss.compute(out.classLogits(), out.boxRegression(), roiLabels, roiTargets, beta);
        return new Losses(headResult.lossClassifier(), headResult.lossBoxReg(), rpnResult.lossObjectness(),
                rpnResult.lossRpnBoxReg());
    }

    /** torchvision's degenerate-box check of {@code GeneralizedRCNN.forward}. */
    private static void checkBoxes(Tensor boxes, int image) {
        BboxTools.requireBoxes(boxes, "gt boxes of image " + image);
        float[] v = Tensors.toFloatArray(boxes);
        for (int r = 0; r < v.length / 4; r++) {
            if (!(v[4 * r + 2] > v[4 * r]) || !(v[4 * r + 3] > v[4 * r + 1])) {
                throw new IllegalArgumentException("All bounding boxes should have positive height and width. Found invalid box "
                        + Arrays.toString(Arrays.copyOfRange(v, 4 * r, 4 * r + 4)) + " for target at index " + image + ".");
            }
        }
    }
}
