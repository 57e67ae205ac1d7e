package dev.frcnn.model.roi;

import dev.frcnn.model.utils.BoxCoder;
import dev.frcnn.model.utils.BoxOps;
import dev.frcnn.ops.BatchedNms;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.ArrayList;
import java.util.List;

import static org.bytedeco.pytorch.global.torch.arange;
import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.softmax;

/**
 * torchvision 0.14's {@code RoIHeads} for inference (box branch): {@link MultiScaleRoIAlign} over the FPN levels
 * {@code '0'..'3'}, the box head ({@code box_head}: {@link TwoMLPHead} in {@code fasterrcnn_resnet50_fpn},
 * {@link FastRCNNConvFCHead} in {@code fasterrcnn_resnet50_fpn_v2}), the {@link FastRCNNPredictor}
 * ({@code box_predictor}) and {@code postprocess_detections}:
 * <ol>
 *   <li>decode every class's deltas against its proposal ({@link BoxCoder} weights (10, 10, 5, 5), dw/dh clamped at
 *       log(1000/16)); softmax over all classes;</li>
 *   <li>per image: boxes clipped to the resized image, the background column dropped, candidates in (roi, class)
 *       order, kept when {@code score > score_thresh} (strict), then when both sides are {@code >= 1e-2};</li>
 *   <li>NMS per class ({@link BatchedNms}), by decreasing score, the first {@code detections_per_img} kept.</li>
 * </ol>
 * Boxes are torchvision's (x1, y1, x2, y2) in resized-image pixels; labels are class indices 1..K-1 (COCO category
 * ids for torchvision's COCO models). This is the multi-scale head beside the reference family's {@link RoIHead}
 * (one feature map, {@link RoIPostprocess}).
 */
public final class RoIHeads extends Module {
    /** torchvision's box coder weights of the box head. */
    public static final double[] BOX_CODER_WEIGHTS = {10.0, 10.0, 5.0, 5.0};
    /** torchvision's smallest detection side in {@code postprocess_detections}. */
    public static final double MIN_BOX_SIZE = 1e-2;

    /**
     * Postprocess settings (torchvision's {@code box_*} arguments).
     *
     * @param scoreThresh a candidate needs a score strictly above this (0.05)
     * @param nmsThresh IoU threshold of the per-class NMS (0.5)
     * @param detectionsPerImg detections kept per image (100)
     */
    public record Settings(double scoreThresh, double nmsThresh, int detectionsPerImg) {
        /** torchvision's defaults. */
        public static final Settings DEFAULTS = new Settings(0.05, 0.5, 100);
    }

    /**
     * One image's detections, by decreasing score.
     *
     * @param boxes (D, 4) float32 (x1, y1, x2, y2) in resized-image pixels
     * @param scores (D,) float32 softmax probabilities
     * @param labels (D,) int64 class indices in 1..K-1
     */
    public record Detections(Tensor boxes, Tensor scores, Tensor labels) {}

    private final MultiScaleRoIAlign boxRoIPool;
    private final BoxHead boxHead;
    private final FastRCNNPredictor boxPredictor;
    private final BoxCoder boxCoder = new BoxCoder(BOX_CODER_WEIGHTS);
    private final Settings settings;

    /**
     * @param boxRoIPool the multi-scale pooler
     * @param boxHead the box head (registered as {@code box_head})
     * @param boxPredictor the predictor (registered as {@code box_predictor})
     * @param settings the postprocess settings
     */
    public RoIHeads(MultiScaleRoIAlign boxRoIPool, TwoMLPHead boxHead, FastRCNNPredictor boxPredictor, Settings settings) {
        this(boxRoIPool, BoxHead.of(boxHead, boxHead::forward, boxHead.representationSize(), boxRoIPool.outputSize()),
                boxPredictor, settings);
    }

    /**
     * With any box head, e.g. {@code fasterrcnn_resnet50_fpn_v2}'s {@link FastRCNNConvFCHead}.
     *
     * @param boxRoIPool the multi-scale pooler
     * @param boxHead the box head (its {@link BoxHead#module()} registered as {@code box_head})
     * @param boxPredictor the predictor (registered as {@code box_predictor})
     * @param settings the postprocess settings
     * @throws IllegalArgumentException if the head expects another pooled size than the pooler's
     */
    public RoIHeads(MultiScaleRoIAlign boxRoIPool, BoxHead boxHead, FastRCNNPredictor boxPredictor, Settings settings) {
        super("RoIHeads");
        if (boxHead.roiSize() != boxRoIPool.outputSize()) {
            throw new IllegalArgumentException("the box head expects " + boxHead.roiSize() + "x" + boxHead.roiSize()
                    + " pooled features but the pooler gives " + boxRoIPool.outputSize() + "x" + boxRoIPool.outputSize());
        }
        this.boxRoIPool = boxRoIPool;
        register_module("box_head", boxHead.module());
        this.boxHead = boxHead;
        this.boxPredictor = register_module("box_predictor", boxPredictor);
        this.settings = settings;
    }

    /** The pooler. */
    public MultiScaleRoIAlign boxRoIPool() { return boxRoIPool; }

    /** The box head ({@link TwoMLPHead} or {@link FastRCNNConvFCHead}). */
    public BoxHead boxHead() { return boxHead; }

    /** The predictor. */
    public FastRCNNPredictor boxPredictor() { return boxPredictor; }

    /** The postprocess settings. */
    public Settings settings() { return settings; }

    /**
     * The head on given proposals: pooling, box head, predictor.
     *
     * @param features the FPN levels (N, 256, H_l, W_l) float32
     * @param proposals per image (R_i, 4) float32 (x1, y1, x2, y2) in resized-image pixels
     * @param imageSizes the batch's resized sizes, {height, width} in pixels
     * @return (sum R_i, K) logits and (sum R_i, 4K) deltas
     */
    public FastRCNNPredictor.Output predict(List<Tensor> features, List<Tensor> proposals, List<long[]> imageSizes) {
        Tensor pooled = boxRoIPool.forward(features, proposals, imageSizes);
        return boxPredictor.forward(boxHead.forward(pooled));
    }

    /**
     * Inference: {@link #predict} then {@link #postprocessDetections}.
     *
     * @param features the FPN levels
     * @param proposals per image (R_i, 4) float32 proposals
     * @param imageSizes the batch's resized sizes, {height, width} in pixels
     * @return per image the detections in resized-image pixels
     */
    public List<Detections> forward(List<Tensor> features, List<Tensor> proposals, List<long[]> imageSizes) {
        return forward(features, proposals, imageSizes, settings);
    }

    /**
     * As {@link #forward(List, List, List)} with other postprocess settings for this call (the module's own are
     * unchanged, so concurrent callers never share them).
     *
     * @param features the FPN levels
     * @param proposals per image (R_i, 4) float32 proposals
     * @param imageSizes the batch's resized sizes, {height, width} in pixels
     * @param s score threshold, NMS threshold and detections per image of this call
     * @return per image the detections in resized-image pixels
     */
    public List<Detections> forward(List<Tensor> features, List<Tensor> proposals, List<long[]> imageSizes,
                                    Settings s) {
        FastRCNNPredictor.Output out = predict(features, proposals, imageSizes);
        return postprocessDetections(out.classLogits(), out.boxRegression(), proposals, imageSizes, s);
    }

    /**
     * torchvision's {@code postprocess_detections}.
     *
     * @param classLogits (sum R_i, K) float32
     * @param boxRegression (sum R_i, 4K) float32
     * @param proposals per image (R_i, 4) float32 proposals the deltas refer to
     * @param imageSizes per image the resized {height, width} (clip bounds)
     * @return per image the detections, by decreasing score
     */
    public List<Detections> postprocessDetections(Tensor classLogits, Tensor boxRegression, List<Tensor> proposals,
                                                  List<long[]> imageSizes) {
        return postprocessDetections(classLogits, boxRegression, proposals, imageSizes, settings);
    }

    /**
     * As {@link #postprocessDetections(Tensor, Tensor, List, List)} with the given settings.
     *
     * @param classLogits (sum R_i, K) float32
     * @param boxRegression (sum R_i, 4K) float32
     * @param proposals per image (R_i, 4) float32 proposals the deltas refer to
     * @param imageSizes per image the resized {height, width} (clip bounds)
     * @param settings score threshold, NMS threshold, detections per image
     * @return per image the detections, by decreasing score
     */
    public List<Detections> postprocessDetections(Tensor classLogits, Tensor boxRegression, List<Tensor> proposals,
                                                  List<long[]> imageSizes, Settings settings) {
        long numClasses = classLogits.size(1);
        Tensor predBoxes = boxCoder.decode(boxRegression, cat(new TensorVector(proposals.toArray(new Tensor[0])), 0));
        Tensor predScores = softmax(classLogits, -1);
        List<Detections> out = new ArrayList<>(proposals.size());
        long start = 0;
        for (int i = 0; i < proposals.size(); i++) {
            long n = proposals.get(i).size(0);
            long[] size = imageSizes.get(i);
            Tensor boxes = BoxOps.clipBoxesToImage(predBoxes.narrow(0, start, n), size[0], size[1]);
            Tensor scores = predScores.narrow(0, start, n);
            Tensor labels = arange(new Scalar(numClasses)).to(classLogits.device(), ScalarType.Long).view(1, -1)
                    .expand_as(scores);
            boxes = boxes.narrow(1, 1, numClasses - 1).reshape(-1, 4);
            scores = scores.narrow(1, 1, numClasses - 1).reshape(-1);
            labels = labels.narrow(1, 1, numClasses - 1).reshape(-1);
            Tensor keep = scores.gt(new Scalar(settings.scoreThresh())).nonzero().reshape(-1);
            boxes = boxes.index_select(0, keep);
            scores = scores.index_select(0, keep);
            labels = labels.index_select(0, keep);
            keep = BoxOps.removeSmallBoxes(boxes, MIN_BOX_SIZE);
            boxes = boxes.index_select(0, keep);
            scores = scores.index_select(0, keep);
            labels = labels.index_select(0, keep);
            keep = BatchedNms.batchedNms(boxes, scores, labels, settings.nmsThresh());
            if (keep.size(0) > settings.detectionsPerImg()) keep = keep.narrow(0, 0, settings.detectionsPerImg());
            out.add(new Detections(boxes.index_select(0, keep), scores.index_select(0, keep), labels.index_select(0, keep)));
            start += n;
        }
        return out;
    }
}
