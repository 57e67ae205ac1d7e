package dev.frcnn.model.roi;

import dev.frcnn.model.utils.BboxTools;
import dev.frcnn.ops.Nms;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.softmax;
import static org.bytedeco.pytorch.global.torch.stack;
import static org.bytedeco.pytorch.global.torch.tensor;

/**
 * The RoI head's postprocessing: decoding the head's outputs into per-class boxes in the original image, then
 * per-class score thresholding and NMS. The second half of the reference's {@code FasterRCNN.predict} loop body and
 * its {@code _suppress}; torchvision's {@code RoIHeads.postprocess_detections}. Immutable: the thresholds come with
 * each call ({@link Thresholds}), so concurrent callers never share settings.
 */
public final class RoIPostprocess {
    /**
     * Decoded per-class boxes and probabilities of one image (before suppression).
     *
     * @param clsBbox (R, nClass*4) float32 boxes (ymin, xmin, ymax, xmax) per class in original-image pixels,
     *     clipped to the original image
     * @param prob (R, nClass) float32 softmax class probabilities
     */
    public record Decoded(Tensor clsBbox, Tensor prob) {}

    /**
     * Detections of one image as tensors (the reference's {@code _suppress} result), concatenated in class order.
     *
     * @param bbox (D, 4) float32 (ymin, xmin, ymax, xmax) in original-image pixels
     * @param label (D,) int64 0-based foreground class
     * @param score (D,) float32 class probability
     */
    public record Suppressed(Tensor bbox, Tensor label, Tensor score) {}

    private final int nClass;
    private final LocNormalization locNormalization;

    /**
     * @param nClass number of classes including the background ({@code >= 2})
     * @param locNormalization the offsets' normalisation the head was trained with
     * @throws IllegalArgumentException if {@code nClass < 2} or the normalisation is null
     */
    public RoIPostprocess(int nClass, LocNormalization locNormalization) {
        if (nClass < 2) throw new IllegalArgumentException("nClass must be >= 2 (background + 1), got " + nClass);
        if (locNormalization == null) throw new IllegalArgumentException("locNormalization is required");
        this.nClass = nClass;
        this.locNormalization = locNormalization;
    }

    /** Number of classes including the background. */
    public int nClass() { return nClass; }

    /** The offsets' normalisation. */
    public LocNormalization locNormalization() { return locNormalization; }

    /**
     * Converts head outputs of one image into per-class boxes in the original image and class probabilities:
     * {@code roi_cls_loc * std + mean}, decode against {@code rois / scale} with {@link BboxTools#loc2bbox}, clip y
     * to [0, H] and x to [0, W] of the original size, softmax of the scores. All float32, on the inputs' device.
     *
     * @param roiClsLoc (R, nClass*4) float32; R may be 0 (no RoI: no boxes)
     * @param roiScores (R, nClass) float32 logits
     * @param rois (R, 4) float32 (ymin, xmin, ymax, xmax) in input pixels
     * @param scale input width / original width
     * @param originalHeight the original image's height in pixels (clip bound of y)
     * @param originalWidth the original image's width in pixels (clip bound of x)
     * @return the decoded boxes and probabilities
     */
    public Decoded decode(Tensor roiClsLoc, Tensor roiScores, Tensor rois, double scale, int originalHeight,
                          int originalWidth) {
        Device device = roiClsLoc.device();
        Tensor roi = rois.to(device, ScalarType.Float).div(new Scalar(scale));
        Tensor mean = tensor(locNormalization.mean()).to(device, ScalarType.Float).repeat(nClass).unsqueeze(0);
        Tensor std = tensor(locNormalization.std()).to(device, ScalarType.Float).repeat(nClass).unsqueeze(0);
        long r = roiClsLoc.size(0); // explicit row counts: a -1 is ambiguous when there are no RoIs (r = 0)
        Tensor loc = roiClsLoc.mul(std).add(mean).view(r, nClass, 4);
        Tensor roiExp = roi.view(r, 1, 4).expand_as(loc);
        Tensor clsBbox = BboxTools.loc2bbox(roiExp.reshape(r * nClass, 4), loc.reshape(r * nClass, 4))
                .view(r, nClass * 2L, 2);
        Scalar zero = new Scalar(0.0);
        Tensor ys = clsBbox.select(2, 0).clamp(new ScalarOptional(zero),
                new ScalarOptional(new Scalar((double) originalHeight)));
        Tensor xs = clsBbox.select(2, 1).clamp(new ScalarOptional(zero),
                new ScalarOptional(new Scalar((double) originalWidth)));
        clsBbox = stack(new TensorVector(ys, xs), 2).view(r, nClass * 4L);
        Tensor prob = softmax(roiScores, 1);
        return new Decoded(clsBbox, prob);
    }

    /**
     * Per-class score thresholding and NMS (reference {@code _suppress}): for each class l = 1..nClass-1, keep rows
     * with {@code prob[:, l] > scoreThresh}, run {@link Nms#nms} at {@code nmsThresh}, and concatenate the survivors
     * in class order (label l-1).
     *
     * @param clsBbox (R, nClass*4) float32 per-class boxes
     * @param prob (R, nClass) float32 probabilities
     * @param t score and NMS thresholds
     * @return detections as tensors on the inputs' device
     */
    public Suppressed suppress(Tensor clsBbox, Tensor prob, Thresholds t) {
        double scoreThresh = t.scoreThresh(), nmsThresh = t.nmsThresh();
        Tensor boxes = clsBbox.view(clsBbox.size(0), nClass, 4);
        TensorVector bbox = new TensorVector(), label = new TensorVector(), score = new TensorVector();
        Scalar thr = new Scalar(scoreThresh);
        for (int l = 1; l < nClass; l++) {
            Tensor probL = prob.select(1, l);
            Tensor idx = probL.gt(thr).nonzero().reshape(-1);
            Tensor bboxL = boxes.select(1, l).index_select(0, idx).contiguous();
            probL = probL.index_select(0, idx).contiguous();
            Tensor keep = idx.size(0) == 0 ? idx : Nms.nms(bboxL, probL, nmsThresh);
            bbox.push_back(bboxL.index_select(0, keep));
            score.push_back(probL.index_select(0, keep));
            label.push_back(keep.mul(new Scalar(0L)).add(new Scalar((long) (l - 1))));
        }
        return new Suppressed(cat(bbox, 0), cat(label, 0), cat(score, 0));
    }
}
