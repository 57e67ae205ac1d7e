package dev.frcnn.model;

import dev.frcnn.data.ImageReader;
import dev.frcnn.data.Preprocessing;
import dev.frcnn.data.VocDataset;
import dev.frcnn.model.backbone.Backbone;
import dev.frcnn.model.roi.RoIHead;
import dev.frcnn.model.roi.Thresholds;
import dev.frcnn.model.rpn.RegionProposalNetwork;
import dev.frcnn.model.utils.BboxTools;
import dev.frcnn.ops.Nms;
import dev.frcnn.tensor.Autocast;
import dev.frcnn.tensor.NativeHeap;
import dev.frcnn.tensor.Precision;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.ArrayList;
import java.util.List;

import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.softmax;
import static org.bytedeco.pytorch.global.torch.stack;
import static org.bytedeco.pytorch.global.torch.tensor;

/**
 * Faster R-CNN: backbone feature extractor, {@link RegionProposalNetwork} and {@link RoIHead}; mirrors the
 * reference's {@code model/faster_rcnn.FasterRCNN}.
 *
 * <p>Registered sub-modules, in state_dict order: {@code extractor} (the backbone's extractor), {@code rpn},
 * {@code head}. Boxes are (ymin, xmin, ymax, xmax) in pixels throughout. {@link #forward} works in the frame of
 * the network input; {@link #predict} returns detections in the frame of the original images.
 *
 * <p>Prediction thresholds are an immutable {@link Thresholds} passed with each call
 * ({@link #predict(List, List, Thresholds)}, {@link #detect}); the overloads without it use the model's default
 * thresholds ({@link #usePreset}, {@link #setThresholds}: default {@code evaluate}, as in the reference), a
 * convenience for single-threaded code. In eval mode, prediction only reads the model, so several threads may
 * predict at once with their own thresholds ({@code dev.frcnn.api.Detector} relies on this).
 */
public class FasterRCNN extends Module {

    /** The 20 PASCAL VOC foreground class names in the reference's order: {@link VocDataset#VOC_BBOX_LABEL_NAMES}. */
    public static final List<String> VOC_BBOX_LABEL_NAMES = VocDataset.VOC_BBOX_LABEL_NAMES;

    /** Prediction presets of the reference's {@code use_preset}. */
    public enum Preset {
        /** nms 0.3, score 0.7. */
        VISUALIZE(0.3, 0.7),
        /** nms 0.3, score 0.05. */
        EVALUATE(0.3, 0.05);

        private final double nmsThresh;
        private final double scoreThresh;

        Preset(double nmsThresh, double scoreThresh) {
            this.nmsThresh = nmsThresh;
            this.scoreThresh = scoreThresh;
        }

        /** The preset as a {@link Thresholds} value. */
        public Thresholds thresholds() { return new Thresholds(nmsThresh, scoreThresh); }

        /** IoU threshold of the per-class NMS. */
        public double nmsThresh() { return nmsThresh; }

        /** Minimum class probability (strictly greater) of a detection. */
        public double scoreThresh() { return scoreThresh; }
    }

    /**
     * Outputs of {@link #forward(Tensor, double)}.
     *
     * @param roiClsLocs (R, nClass*4) float32 normalised class-specific offsets (t_y, t_x, t_h, t_w)
     * @param roiScores (R, nClass) float32 class logits (column 0 = background)
     * @param rois (R, 4) float32 proposals (ymin, xmin, ymax, xmax) in input pixels
     * @param roiIndices (R,) int64 image index of each RoI
     */
    public record Output(Tensor roiClsLocs, Tensor roiScores, Tensor rois, Tensor roiIndices) {}

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

    private final Backbone backbone;
    private final RegionProposalNetwork rpn;
    private final RoIHead head;
    private final float[] locNormalizeMean;
    private final float[] locNormalizeStd;
    private final List<String> classNames;
    /** Default thresholds of the overloads without a {@link Thresholds} argument (one immutable value). */
    private volatile Thresholds thresholds = Thresholds.EVALUATE;
    private volatile Precision precision = Precision.FP32;

    /**
     * Wires the three stages and registers them as {@code extractor}, {@code rpn}, {@code head}.
     *
     * @param backbone supplies the extractor module (its classifier must already be part of {@code head})
     * @param rpn region proposal network
     * @param head RoI head
     * @param locNormalizeMean 4 means of the (t_y, t_x, t_h, t_w) targets (reference: 0, 0, 0, 0)
     * @param locNormalizeStd 4 standard deviations of the targets (reference: 0.1, 0.1, 0.2, 0.2)
     * @param classNames foreground class names, {@code head.nClass() - 1} of them
     * @throws IllegalArgumentException on wrong lengths
     */
    public FasterRCNN(Backbone backbone, RegionProposalNetwork rpn, RoIHead head, float[] locNormalizeMean,
                      float[] locNormalizeStd, List<String> classNames) {
        super("FasterRCNN");
        if (locNormalizeMean.length != 4 || locNormalizeStd.length != 4) {
            throw new IllegalArgumentException("loc_normalize_mean/std must have 4 values");
        }
        if (classNames.size() != head.nClass() - 1) {
            throw new IllegalArgumentException("expected " + (head.nClass() - 1) + " class names, got "
                    + classNames.size());
        }
        this.backbone = backbone;
        register_module("extractor", backbone.extractor());
        this.rpn = register_module("rpn", rpn);
        this.head = register_module("head", head);
        this.locNormalizeMean = locNormalizeMean.clone();
        this.locNormalizeStd = locNormalizeStd.clone();
        this.classNames = List.copyOf(classNames);
    }

    /** The backbone (feature extractor and head top). */
    public Backbone backbone() { return backbone; }

    /** The region proposal network. */
    public RegionProposalNetwork rpn() { return rpn; }

    /** The RoI head. */
    public RoIHead head() { return head; }

    /** Number of classes including the background. */
    public int nClass() { return head.nClass(); }

    /** Foreground class names (index = class index). */
    public List<String> classNames() { return classNames; }

    /** Copy of the 4 loc normalisation means. */
    public float[] locNormalizeMean() { return locNormalizeMean.clone(); }

    /** Copy of the 4 loc normalisation standard deviations. */
    public float[] locNormalizeStd() { return locNormalizeStd.clone(); }

    /** Default NMS IoU threshold of {@link #predict(List, List)}. */
    public double nmsThresh() { return thresholds.nmsThresh(); }

    /** Default score threshold of {@link #predict(List, List)}. */
    public double scoreThresh() { return thresholds.scoreThresh(); }

    /** The precision of {@link #forward} and {@link #predict} (default {@link Precision#FP32}). */
    public Precision precision() { return precision; }

    /**
     * Sets the precision of {@link #forward}, {@link #predict} and of training steps run through
     * {@link #autocast}. Weights stay float32 either way.
     *
     * @param precision {@link Precision#FP32} (the reference's numbers) or {@link Precision#BF16} (mixed precision)
     */
    public void setPrecision(Precision precision) {
        if (precision == null) throw new IllegalArgumentException("precision is required");
        this.precision = precision;
    }

    /**
     * Opens this model's mixed-precision region on {@code device} ({@link Autocast#enter}); the float32 path opens
     * nothing. Callers that run the stages themselves (the trainer) wrap them in it, as {@link #forward} does.
     */
    public Autocast autocast(Device device) {
        return Autocast.enter(precision, device);
    }

    /** Default thresholds of {@link #predict(List, List)} and {@link #suppress(Tensor, Tensor)}. */
    public Thresholds thresholds() { return thresholds; }

    /** Sets the default prediction thresholds (reference {@code use_preset}). */
    public void usePreset(Preset preset) {
        thresholds = preset.thresholds();
    }

    /**
     * Sets the prediction thresholds by name (reference {@code use_preset}).
     *
     * @param preset {@code "visualize"} or {@code "evaluate"}
     * @throws IllegalArgumentException for another name
     */
    public void usePreset(String preset) {
        thresholds = Thresholds.preset(preset);
    }

    /**
     * Sets custom default prediction thresholds (the reference's public attributes {@code nms_thresh},
     * {@code score_thresh}).
     *
     * @throws IllegalArgumentException if a threshold is outside [0, 1]
     */
    public void setThresholds(double nmsThresh, double scoreThresh) {
        thresholds = new Thresholds(nmsThresh, scoreThresh);
    }

    /**
     * Features of a batch (the extractor alone).
     *
     * @param x (N, 3, H, W) float32 preprocessed images
     * @return (N, C, H/stride, W/stride) float32
     */
    public Tensor extract(Tensor x) {
        return backbone.extract(x);
    }

    /**
     * Full forward pass (reference {@code FasterRCNN.forward}).
     *
     * @param x (N, 3, H, W) float32 preprocessed images on the model's device
     * @param scale resize factor from the original images (used by the proposal min-size filter)
     * @return head outputs (float32 in every {@link #precision()}), rois and roi indices; autograd flows to the
     *     head/extractor/RPN parameters
     */
    public Output forward(Tensor x, double scale) {
        long imgH = x.size(2), imgW = x.size(3);
        try (Autocast ac = autocast(x.device())) {
            Tensor h = backbone.extract(x);
            RegionProposalNetwork.Output r = rpn.forward(h, imgH, imgW, scale);
            RoIHead.Output o = head.forward(h, r.rois(), r.roiIndices());
            return new Output(o.roiClsLocs(), o.roiScores(), r.rois(), r.roiIndices());
        }
    }

    /**
     * Converts head outputs of one image into per-class boxes in the original image and class probabilities
     * (the first half of the reference's {@code predict} loop body): {@code roi_cls_loc * std + mean}, decode
     * against {@code rois / scale} with {@link BboxTools#loc2bbox}, clip y to [0, H] and x to [0, W] of the
     * original size, softmax of the scores. All float32, on the inputs' device.
     *
     * @param roiClsLoc (R, nClass*4) float32; R may be 0 (no RoI: no boxes)
     * @param roiScores (R, nClass) float32 logits
     * @param rois (R, 4) float32 (ymin, xmin, ymax, xmax) in input pixels
     * @param scale input width / original width
     * @param originalSize original image size (clip bounds)
     * @return the decoded boxes and probabilities
     */
    public Decoded decode(Tensor roiClsLoc, Tensor roiScores, Tensor rois, double scale, ImageSize originalSize) {
        int nClass = nClass();
        Device device = roiClsLoc.device();
        Tensor roi = rois.to(device, ScalarType.Float).div(new Scalar(scale));
        Tensor mean = tensor(locNormalizeMean).to(device, ScalarType.Float).repeat(nClass).unsqueeze(0);
        Tensor std = tensor(locNormalizeStd).to(device, ScalarType.Float).repeat(nClass).unsqueeze(0);
        long r = roiClsLoc.size(0); // explicit row counts: a -1 is ambiguous when there are no RoIs (r = 0)
        Tensor loc = roiClsLoc.mul(std).add(mean).view(r, nClass, 4);
        Tensor roiExp = roi.view(r, 1, 4).expand_as(loc);
        Tensor clsBbox = BboxTools.loc2bbox(roiExp.reshape(r * nClass, 4), loc.reshape(r * nClass, 4))
                .view(r, nClass * 2L, 2);
        Scalar zero = new Scalar(0.0);
        Tensor ys = clsBbox.select(2, 0).clamp(new ScalarOptional(zero),
                new ScalarOptional(new Scalar((double) originalSize.height())));
        Tensor xs = clsBbox.select(2, 1).clamp(new ScalarOptional(zero),
                new ScalarOptional(new Scalar((double) originalSize.width())));
        clsBbox = stack(new TensorVector(ys, xs), 2).view(r, nClass * 4L);
        Tensor prob = softmax(roiScores, 1);
        return new Decoded(clsBbox, prob);
    }

    /**
     * Per-class score thresholding and NMS (reference {@code _suppress}): for each class l = 1..nClass-1, keep
     * rows with {@code prob[:, l] > scoreThresh}, run {@link Nms#nms} at {@code nmsThresh}, and concatenate the
     * survivors in class order (label l-1). Uses the default thresholds ({@link #usePreset}).
     *
     * @param clsBbox (R, nClass*4) float32 per-class boxes
     * @param prob (R, nClass) float32 probabilities
     * @return detections as tensors on the inputs' device
     */
    public Suppressed suppress(Tensor clsBbox, Tensor prob) {
        return suppress(clsBbox, prob, thresholds);
    }

    /**
     * As {@link #suppress(Tensor, Tensor)} with the given thresholds.
     *
     * @param clsBbox (R, nClass*4) float32 per-class boxes
     * @param prob (R, nClass) float32 probabilities
     * @param t score and NMS thresholds
     * @return detections as tensors on the inputs' device
     */
    public Suppressed suppress(Tensor clsBbox, Tensor prob, Thresholds t) {
        double scoreThresh = t.scoreThresh(), nmsThresh = t.nmsThresh();
        int nClass = nClass();
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

    /**
     * Copies suppressed detections to the host.
     *
     * @param s detections of one image
     * @return one {@link Detection} per row, in the same order
     */
    public List<Detection> toDetections(Suppressed s) {
        float[] b = Tensors.toFloatArray(s.bbox());
        long[] l = Tensors.toLongArray(s.label());
        float[] sc = Tensors.toFloatArray(s.score());
        List<Detection> out = new ArrayList<>(l.length);
        for (int i = 0; i < l.length; i++) {
            int c = (int) l[i];
            out.add(new Detection(b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3], c, classNames.get(c), sc[i]));
        }
        return out;
    }

    /**
     * Detects objects (reference {@code FasterRCNN.predict(imgs, sizes, visualize=False)}): for each image, runs
     * {@link #forward} in eval mode without gradients at {@code scale = input width / original width}, then
     * {@link #decode} and {@link #suppress} with the default thresholds. The previous train/eval mode is
     * restored afterwards (the reference always switches back to train mode and resets the preset; this does
     * neither). Temporaries are freed before returning.
     *
     * @param images preprocessed (3, H, W) float32 images (any device; moved to the model's device)
     * @param originalSizes the original (H, W) of each image, same length as {@code images}
     * @return per image, its detections in original-image pixels, in class order (the call counts as one iteration
     *     for {@link NativeHeap#iterationDone()})
     * @throws IllegalArgumentException if the list lengths differ or an image is not 3-D
     */
    public List<List<Detection>> predict(List<Tensor> images, List<ImageSize> originalSizes) {
        return predict(images, originalSizes, thresholds);
    }

    /**
     * As {@link #predict(List, List)} with the given thresholds. A model in eval mode is only read (its mode is
     * switched, and switched back, only when it is training), so concurrent calls on one model in eval mode are
     * safe.
     *
     * @param images preprocessed (3, H, W) float32 images (any device; moved to the model's device)
     * @param originalSizes the original (H, W) of each image, same length as {@code images}
     * @param t score and NMS thresholds
     * @return per image, its detections in original-image pixels, in class order
     * @throws IllegalArgumentException if the list lengths differ or an image is not 3-D
     */
    public List<List<Detection>> predict(List<Tensor> images, List<ImageSize> originalSizes, Thresholds t) {
        if (images.size() != originalSizes.size()) {
            throw new IllegalArgumentException(images.size() + " images but " + originalSizes.size() + " sizes");
        }
        boolean wasTraining = is_training();
        if (wasTraining) eval();
        List<List<Detection>> result = new ArrayList<>(images.size());
        try (PointerScope scope = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            Device device = parameters().get(0).device();
            for (int i = 0; i < images.size(); i++) {
                Tensor img = images.get(i);
                if (img.dim() != 3) {
                    throw new IllegalArgumentException("image " + i + ": expected (3, H, W), got "
                            + Tensors.shapeString(img));
                }
                ImageSize size = originalSizes.get(i);
                Tensor x = img.unsqueeze(0).to(device, ScalarType.Float);
                double scale = (double) x.size(3) / size.width();
                Output out = forward(x, scale);
                Decoded d = decode(out.roiClsLocs(), out.roiScores(), out.rois(), scale, size);
                result.add(List.copyOf(toDetections(suppress(d.clsBbox(), d.prob(), t))));
            }
        } finally {
            if (wasTraining) train(true);
        }
        NativeHeap.iterationDone();
        return result;
    }

    /**
     * Detects objects on one decoded image: the reference's {@code predict([img], visualize=True)} path,
     * {@code preprocess} then {@link #predict(List, List, Thresholds)}. The one sequence that the CLI, the
     * evaluator, the benchmarks and {@code dev.frcnn.api.Detector} run.
     *
     * @param rgbChw (3, H, W) float32 RGB 0..255 ({@link ImageReader#readRgbChw}), any device
     * @param pre min/max size and normalisation matching the weights
     * @param t score and NMS thresholds
     * @return detections in original-image pixels, (ymin, xmin, ymax, xmax), in class order; empty when no
     *     proposal survives (e.g. a 1 x 1 image: upscaled to min_size, every proposal is below the min-size filter)
     * @throws IllegalArgumentException if the image is not (3, H, W)
     * @throws dev.frcnn.data.ImageTooSmallException (naming no file) if the resized image would have a side below
     *     the backbone's {@link Backbone#minInputSide()} (0 pixels included)
     */
    public List<Detection> detect(Tensor rgbChw, Preprocessing pre, Thresholds t) {
        if (rgbChw.dim() != 3 || rgbChw.size(0) != 3) {
            throw new IllegalArgumentException("expected a (3, H, W) image, got " + Tensors.shapeString(rgbChw));
        }
        pre.checkResizable(null, rgbChw.size(1), rgbChw.size(2), backbone.minInputSide());
        try (PointerScope scope = new PointerScope()) {
            ImageSize size = new ImageSize((int) rgbChw.size(1), (int) rgbChw.size(2));
            return predict(List.of(pre.apply(rgbChw)), List.of(size), t).get(0);
        }
    }
}
