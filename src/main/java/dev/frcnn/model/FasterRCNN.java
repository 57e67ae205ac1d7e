package dev.frcnn.model;

import dev.frcnn.data.Preprocessing;
import dev.frcnn.data.VocDataset;
import dev.frcnn.model.backbone.Backbone;
import dev.frcnn.model.roi.LocNormalization;
import dev.frcnn.model.roi.RoIHead;
import dev.frcnn.model.roi.RoIPostprocess;
import dev.frcnn.model.roi.Thresholds;
import dev.frcnn.model.rpn.RegionProposalNetwork;
import dev.frcnn.tensor.Autocast;
import dev.frcnn.tensor.NativeHeap;
import dev.frcnn.tensor.Precision;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.ArrayList;
import java.util.List;

/**
 * Faster R-CNN: backbone feature extractor, {@link RegionProposalNetwork} and {@link RoIHead}; mirrors the
 * reference's {@code model/faster_rcnn.FasterRCNN}.
 *
 * <p>Registered sub-modules, in state_dict order: {@code extractor} (the backbone's extractor), {@code rpn},
 * {@code head}. Boxes are (ymin, xmin, ymax, xmax) in pixels throughout. {@link #forward} works in the frame of
 * the network input; {@link #predict} returns detections in the frame of the original images.
 *
 * <p>Immutable once built: its precision is fixed at construction, and the prediction thresholds are an
 * immutable {@link Thresholds} passed with each call ({@link #predict(List, List, Thresholds)}, {@link #detect}; the
 * overload without it uses {@link Thresholds#EVALUATE}, the reference's default). In eval mode, prediction only
 * reads the model, so several threads may predict at once with their own thresholds ({@code dev.frcnn.api.Detector}
 * relies on this). Decoding and suppression belong to the RoI head's {@link RoIPostprocess}.
 */
public class FasterRCNN extends Module implements DetectionModel {

    /** The 20 PASCAL VOC foreground class names in the reference's order: {@link VocDataset#VOC_BBOX_LABEL_NAMES}. */
    public static final List<String> VOC_BBOX_LABEL_NAMES = VocDataset.VOC_BBOX_LABEL_NAMES;

    /**
     * Outputs of {@link #forward(Tensor, double)}.
     *
     * @param roiClsLocs (R, nClass*4) float32 normalised class-specific offsets (t_y, t_x, t_h, t_w)
     * @param roiScores (R, nClass) float32 class logits (column 0 = background)
     * @param rois (R, 4) float32 proposals (ymin, xmin, ymax, xmax) in input pixels
     * @param roiIndices (R,) int64 image index of each RoI
     */
    public record Output(Tensor roiClsLocs, Tensor roiScores, Tensor rois, Tensor roiIndices) {}

    private final Backbone backbone;
    private final RegionProposalNetwork rpn;
    private final RoIHead head;
    private final RoIPostprocess postprocess;
    private final List<String> classNames;
    private final Precision precision;

    /**
     * Wires the three stages and registers them as {@code extractor}, {@code rpn}, {@code head}.
     *
     * @param backbone supplies the extractor module (its classifier must already be part of {@code head})
     * @param rpn region proposal network
     * @param head RoI head
     * @param locNormalization the normalisation of the head's box offsets ({@link LocNormalization#REFERENCE})
     * @param classNames foreground class names, {@code head.nClass() - 1} of them
     * @param precision {@link Precision#FP32} (the reference's numbers) or {@link Precision#BF16} (mixed precision)
     *     of {@link #forward}, {@link #predict} and of training steps run through {@link #autocast}; weights stay
     *     float32 either way
     * @throws IllegalArgumentException on a wrong number of class names or a null argument
     */
    public FasterRCNN(Backbone backbone, RegionProposalNetwork rpn, RoIHead head, LocNormalization locNormalization,
                      List<String> classNames, Precision precision) {
        super("FasterRCNN");
        if (precision == null) throw new IllegalArgumentException("precision is required");
        if (classNames.size() != head.nClass() - 1) {
            throw new IllegalArgumentException("expected " + (head.nClass() - 1) + " class names, got "
                    + classNames.size());
        }
        this.backbone = backbone;
        register_module("extractor", backbone.extractor());
        this.rpn = register_module("rpn", rpn);
        this.head = register_module("head", head);
        this.postprocess = new RoIPostprocess(head.nClass(), locNormalization);
        this.classNames = List.copyOf(classNames);
        this.precision = precision;
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
    @Override
    public List<String> classNames() { return classNames; }

    /** The normalisation of the head's box offsets. */
    public LocNormalization locNormalization() { return postprocess.locNormalization(); }

    /** The RoI head's postprocessing (decoding and suppression). */
    public RoIPostprocess postprocess() { return postprocess; }

    /** The precision of {@link #forward} and {@link #predict} (default {@link Precision#FP32}). */
    @Override
    public Precision precision() { return precision; }

    /** This model, as a torch module. */
    @Override
    public Module module() { return this; }

    /** The backbone's {@link Backbone#minInputSide()}. */
    @Override
    public int minInputSide() { return backbone.minInputSide(); }

    /**
     * Opens this model's mixed-precision region on {@code device} ({@link Autocast#enter}); the float32 path opens
     * nothing. Callers that run the stages themselves (the trainer) wrap them in it, as {@link #forward} does.
     */
    public Autocast autocast(Device device) {
        return Autocast.enter(precision, device);
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
     * {@link RoIPostprocess#decode} of one image's head outputs against its original size.
     *
     * @param roiClsLoc (R, nClass*4) float32; R may be 0 (no RoI: no boxes)
     * @param roiScores (R, nClass) float32 logits
     * @param rois (R, 4) float32 (ymin, xmin, ymax, xmax) in input pixels
     * @param scale input width / original width
     * @param originalSize original image size (clip bounds)
     * @return the decoded boxes and probabilities
     */
    public RoIPostprocess.Decoded decode(Tensor roiClsLoc, Tensor roiScores, Tensor rois, double scale,
                                         ImageSize originalSize) {
        return postprocess.decode(roiClsLoc, roiScores, rois, scale, originalSize.height(), originalSize.width());
    }

    /**
     * Copies suppressed detections to the host.
     *
     * @param s detections of one image
     * @return one {@link Detection} per row, in the same order
     */
    public List<Detection> toDetections(RoIPostprocess.Suppressed s) {
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
     * {@link #decode} and {@link RoIPostprocess#suppress} with {@link Thresholds#EVALUATE}. The previous train/eval mode is
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
        return predict(images, originalSizes, Thresholds.EVALUATE);
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
                RoIPostprocess.Decoded d = decode(out.roiClsLocs(), out.roiScores(), out.rois(), scale, size);
                result.add(List.copyOf(toDetections(postprocess.suppress(d.clsBbox(), d.prob(), t))));
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
     * @param rgbChw (3, H, W) float32 RGB 0..255 ({@link dev.frcnn.data.ImageReader#readRgbChw}), any device
     * @param pre min/max size and normalisation matching the weights
     * @param t score and NMS thresholds
     * @return detections in original-image pixels, (ymin, xmin, ymax, xmax), in class order; empty when no
     *     proposal survives (e.g. a 1 x 1 image: upscaled to min_size, every proposal is below the min-size filter)
     * @throws IllegalArgumentException if the image is not (3, H, W)
     * @throws dev.frcnn.data.ImageTooSmallException (naming no file) if the resized image would have a side below
     *     the backbone's {@link Backbone#minInputSide()} (0 pixels included)
     */
    @Override
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
