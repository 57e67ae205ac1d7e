package dev.frcnn.model;

import dev.frcnn.data.Preprocessing;
import dev.frcnn.io.PthReader;
import dev.frcnn.io.WeightLoader;
import dev.frcnn.io.WeightsMismatchException;
import dev.frcnn.model.backbone.FrozenBatchNorm2d;
import dev.frcnn.model.backbone.ResNetFPNBackbone;
import dev.frcnn.model.roi.BoxHead;
import dev.frcnn.model.roi.FastRCNNConvFCHead;
import dev.frcnn.model.roi.FastRCNNPredictor;
import dev.frcnn.model.roi.MultiScaleRoIAlign;
import dev.frcnn.model.roi.RoIHeads;
import dev.frcnn.model.roi.TwoMLPHead;
import dev.frcnn.model.rpn.AnchorGenerator;
import dev.frcnn.model.rpn.MultiLevelRegionProposalNetwork;
import dev.frcnn.model.rpn.RPNHead;
import dev.frcnn.model.roi.Thresholds;
import dev.frcnn.tensor.Autocast;
import dev.frcnn.tensor.NativeHeap;
import dev.frcnn.tensor.Precision;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.StringSharedModuleDict;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * torchvision 0.14's {@code FasterRCNN} ({@code GeneralizedRCNN}) with the ResNet-50 FPN backbone, i.e.
 * {@code fasterrcnn_resnet50_fpn}, for inference: {@link GeneralizedRCNNTransform}, {@link ResNetFPNBackbone}
 * ({@code backbone}), {@link MultiLevelRegionProposalNetwork} ({@code rpn}), {@link RoIHeads} ({@code roi_heads}),
 * then the detections' boxes back to each image's original frame.
 *
 * <p>The module's state_dict keys are torchvision's exactly ({@code backbone.body.*}, {@code backbone.fpn.*},
 * {@code rpn.head.*}, {@code roi_heads.box_head.*}, {@code roi_heads.box_predictor.*}), so a torchvision state dict
 * ({@code torch.save(model.state_dict())}, e.g. the COCO_V1 checkpoint) loads as it is ({@link #load(Path)}).
 *
 * <p>Coordinates: inside, boxes are torchvision's {@code (x1, y1, x2, y2)} pixels ({@link Result}); the public
 * {@link Detection} records of {@link #detect} follow the project's convention, {@code ymin = y1, xmin = x1,
 * ymax = y2, xmax = x2} in original-image pixels, with {@code classIndex = label - 1} (labels count the background
 * as 0) and the name from the class names.
 *
 * <p>This is a model beside the reference family's {@link FasterRCNN}: other preprocessing, backbone, RPN, pooler and
 * head; it shares the native ops ({@code RoIAlign}, {@code Nms}) and {@link ImageList}.
 *
 * <p>{@link #resnet50FpnV2} builds {@code fasterrcnn_resnet50_fpn_v2} ({@link TorchvisionVariant#RESNET50_FPN_V2}) from
 * the same classes: BatchNorm2d in the body and the FPN, an {@link RPNHead} of conv depth 2 and the
 * {@link FastRCNNConvFCHead} box head; inference only ({@link #trainingForward} refuses it).
 */
public final class TorchvisionFasterRCNN extends Module implements DetectionModel {
    /** The config's {@code backbone} of this model: torchvision's name, {@code fasterrcnn_resnet50_fpn}'s backbone. */
    public static final String BACKBONE_NAME = "resnet50_fpn";
    /** torchvision's {@code num_classes} of its COCO checkpoints (90 categories + background). */
    public static final int COCO_NUM_CLASSES = 91;
    /** The representation size of {@code TwoMLPHead}. */
    public static final int REPRESENTATION_SIZE = 1024;

    /**
     * One image's detections in its original frame.
     *
     * @param boxes (D, 4) float32 (x1, y1, x2, y2) in original-image pixels (not clipped again after the rescale)
     * @param scores (D,) float32, by decreasing score
     * @param labels (D,) int64 class labels 1..K-1 (COCO category ids for the COCO checkpoints)
     */
    public record Result(Tensor boxes, Tensor scores, Tensor labels) {}

    private final GeneralizedRCNNTransform transform;
    private final ResNetFPNBackbone backbone;
    private final MultiLevelRegionProposalNetwork rpn;
    private final RoIHeads roiHeads;
    private final List<String> classNames;
    private final Precision precision;
    private final TorchvisionVariant variant;

    /**
     * @param transform the image transform
     * @param backbone the backbone (registered as {@code backbone})
     * @param rpn the RPN (registered as {@code rpn})
     * @param roiHeads the RoI heads (registered as {@code roi_heads})
     * @param classNames the foreground class names, label 1 first ({@code numClasses - 1} names)
     * @throws IllegalArgumentException if the class names do not match the predictor's classes
     */
    public TorchvisionFasterRCNN(GeneralizedRCNNTransform transform, ResNetFPNBackbone backbone,
                                 MultiLevelRegionProposalNetwork rpn, RoIHeads roiHeads, List<String> classNames) {
        this(transform, backbone, rpn, roiHeads, classNames, Precision.FP32);
    }

    /**
     * As {@link #TorchvisionFasterRCNN(GeneralizedRCNNTransform, ResNetFPNBackbone, MultiLevelRegionProposalNetwork,
     * RoIHeads, List)} in a given inference precision: {@link Precision#BF16} runs the backbone (ResNet-50 body and
     * FPN) under {@link Autocast} (NCHW input: channels-last input crashed oneDNN's bf16 1x1 convolution blocking in
     * LibTorch 2.10 on an AMD EPYC with avx512_bf16) and hands float32 levels to the RPN and the RoI heads, which
     * run in float32; {@link Precision#FP32} is torchvision's float32 path. The training forward
     * ({@link #trainingForward}) runs the backbone the same way (autocast's gradients flow back to the float32
     * weights).
     *
     * @param precision the backbone's precision (inference and training), fixed for the model's life
     */
    public TorchvisionFasterRCNN(GeneralizedRCNNTransform transform, ResNetFPNBackbone backbone,
                                 MultiLevelRegionProposalNetwork rpn, RoIHeads roiHeads, List<String> classNames,
                                 Precision precision) {
        this(transform, backbone, rpn, roiHeads, classNames, precision, TorchvisionVariant.RESNET50_FPN);
    }

    /**
     * As {@link #TorchvisionFasterRCNN(GeneralizedRCNNTransform, ResNetFPNBackbone, MultiLevelRegionProposalNetwork,
     * RoIHeads, List, Precision)} for the given variant, which names the model in error messages and decides whether
     * it trains ({@link #resnet50FpnV2} builds the v2 parts).
     *
     * @param variant which torchvision builder the parts make
     */
    public TorchvisionFasterRCNN(GeneralizedRCNNTransform transform, ResNetFPNBackbone backbone,
                                 MultiLevelRegionProposalNetwork rpn, RoIHeads roiHeads, List<String> classNames,
                                 Precision precision, TorchvisionVariant variant) {
        super("FasterRCNN");
        this.precision = precision;
        this.variant = java.util.Objects.requireNonNull(variant, "variant");
        int k = roiHeads.boxPredictor().numClasses();
        if (classNames.size() != k - 1) {
            throw new IllegalArgumentException("the predictor has " + k + " classes (background included) but "
                    + classNames.size() + " class names were given");
        }
        this.transform = transform;
        this.backbone = register_module("backbone", backbone);
        this.rpn = register_module("rpn", rpn);
        this.roiHeads = register_module("roi_heads", roiHeads);
        this.classNames = List.copyOf(classNames);
    }

    /**
     * {@code fasterrcnn_resnet50_fpn(num_classes, min_size, max_size)} as torchvision builds it, with the default
     * RPN and box settings, randomly initialised (load weights with {@link #load}).
     *
     * @param transform the image transform (min/max size)
     * @param classNames foreground class names ({@link TorchvisionCocoCategories#FOREGROUND} for the COCO
     *     checkpoints), label 1 first
     * @param frozenBnEps the FrozenBatchNorm2d eps: 0.0 for torchvision's COCO checkpoints, 1e-5 as torchvision
     *     builds the model without weights
     * @param trainableLayers torchvision's {@code trainable_backbone_layers} (3)
     * @return the model, in training mode as a new torch module; call {@code eval()} for inference
     */
    public static TorchvisionFasterRCNN resnet50Fpn(GeneralizedRCNNTransform transform, List<String> classNames,
                                                    double frozenBnEps, int trainableLayers) {
        return resnet50Fpn(transform, classNames, frozenBnEps, trainableLayers, Precision.FP32);
    }

    /**
     * As {@link #resnet50Fpn(GeneralizedRCNNTransform, List, double, int)} in a given inference precision
     * ({@link #TorchvisionFasterRCNN(GeneralizedRCNNTransform, ResNetFPNBackbone, MultiLevelRegionProposalNetwork,
     * RoIHeads, List, Precision)}).
     */
    public static TorchvisionFasterRCNN resnet50Fpn(GeneralizedRCNNTransform transform, List<String> classNames,
                                                    double frozenBnEps, int trainableLayers, Precision precision) {
        ResNetFPNBackbone backbone = new ResNetFPNBackbone(frozenBnEps, trainableLayers);
        AnchorGenerator anchors = AnchorGenerator.resnet50Fpn();
        RPNHead head = new RPNHead(ResNetFPNBackbone.OUT_CHANNELS, anchors.numAnchorsPerLocation()[0]);
        MultiLevelRegionProposalNetwork rpn = new MultiLevelRegionProposalNetwork(head, anchors,
                MultiLevelRegionProposalNetwork.Settings.DEFAULTS);
        MultiScaleRoIAlign pool = new MultiScaleRoIAlign();
        TwoMLPHead boxHead = new TwoMLPHead(ResNetFPNBackbone.OUT_CHANNELS * pool.outputSize() * pool.outputSize(),
                REPRESENTATION_SIZE);
        FastRCNNPredictor predictor = new FastRCNNPredictor(REPRESENTATION_SIZE, classNames.size() + 1);
        RoIHeads roiHeads = new RoIHeads(pool, boxHead, predictor, RoIHeads.Settings.DEFAULTS);
        return new TorchvisionFasterRCNN(transform, backbone, rpn, roiHeads, classNames, precision);
    }

    /**
     * {@code fasterrcnn_resnet50_fpn_v2(num_classes, min_size, max_size)} as torchvision 0.14 builds it, for
     * inference, randomly initialised (load weights with {@link #load}): {@link ResNetFPNBackbone#v2} (BatchNorm2d in
     * the ResNet-50 body and in every FPN block, run with their running statistics, {@code num_batches_tracked} kept),
     * an {@link RPNHead} with {@code conv_depth=2}, the {@link FastRCNNConvFCHead} box head ({@code (256, 7, 7)},
     * {@code [256, 256, 256, 256]}, {@code [1024]}, BatchNorm2d); anchors, RPN and RoI settings, predictor, transform
     * and postprocess as {@link #resnet50Fpn}. 404 state_dict entries in torchvision's order.
     *
     * @param transform the image transform (min/max size)
     * @param classNames foreground class names, label 1 first
     * @param batchNormEps the eps of every BatchNorm2d (torchvision's 1e-5, {@link FrozenBatchNorm2d#DEFAULT_EPS})
     * @param trainableLayers torchvision's {@code trainable_backbone_layers} (3; decides {@code requires_grad} only)
     * @param precision the inference precision
     * @return the model, in training mode as a new torch module; call {@code eval()} for inference
     */
    public static TorchvisionFasterRCNN resnet50FpnV2(GeneralizedRCNNTransform transform, List<String> classNames,
                                                      double batchNormEps, int trainableLayers, Precision precision) {
        ResNetFPNBackbone backbone = ResNetFPNBackbone.v2(batchNormEps, trainableLayers);
        AnchorGenerator anchors = AnchorGenerator.resnet50Fpn();
        RPNHead head = new RPNHead(ResNetFPNBackbone.OUT_CHANNELS, anchors.numAnchorsPerLocation()[0], 2);
        MultiLevelRegionProposalNetwork rpn = new MultiLevelRegionProposalNetwork(head, anchors,
                MultiLevelRegionProposalNetwork.Settings.DEFAULTS);
        MultiScaleRoIAlign pool = new MultiScaleRoIAlign();
        BoxHead boxHead = new FastRCNNConvFCHead(ResNetFPNBackbone.OUT_CHANNELS, pool.outputSize(),
                FastRCNNConvFCHead.V2_CONV_LAYERS, FastRCNNConvFCHead.V2_FC_LAYERS,
                FrozenBatchNorm2d.asNormLayer(batchNormEps, true));
        FastRCNNPredictor predictor = new FastRCNNPredictor(boxHead.representationSize(), classNames.size() + 1);
        RoIHeads roiHeads = new RoIHeads(pool, boxHead, predictor, RoIHeads.Settings.DEFAULTS);
        return new TorchvisionFasterRCNN(transform, backbone, rpn, roiHeads, classNames, precision,
                TorchvisionVariant.RESNET50_FPN_V2);
    }

    /** As {@link #resnet50Fpn(GeneralizedRCNNTransform, List, double, int)} for a COCO checkpoint: 91 classes, eps 0. */
    public static TorchvisionFasterRCNN cocoResnet50Fpn(GeneralizedRCNNTransform transform) {
        return resnet50Fpn(transform, TorchvisionCocoCategories.FOREGROUND, 0.0,
                ResNetFPNBackbone.DEFAULT_TRAINABLE_LAYERS);
    }

    /** The image transform. */
    public GeneralizedRCNNTransform transform() { return transform; }

    /** Which torchvision builder this model is. */
    public TorchvisionVariant variant() { return variant; }

    /** The backbone. */
    public ResNetFPNBackbone backbone() { return backbone; }

    /** The RPN. */
    public MultiLevelRegionProposalNetwork rpn() { return rpn; }

    /** The RoI heads. */
    public RoIHeads roiHeads() { return roiHeads; }

    /** The foreground class names (label 1 first). */
    @Override
    public List<String> classNames() { return classNames; }

    /** This model, as a torch module. */
    @Override
    public Module module() { return this; }

    /** The requested inference precision (the backbone's; the RPN and the heads run in float32). */
    @Override
    public Precision precision() { return precision; }

    /**
     * 1: torchvision's transform pads every batch to a multiple of 32, so any resized image of at least one pixel
     * per side runs (an image without proposals has no detections).
     */
    @Override
    public int minInputSide() { return 1; }

    /**
     * The postprocess settings a {@link Thresholds} stands for on this model: its score threshold, with this
     * model's own NMS threshold and detections per image (torchvision's 0.5 and 100). The reference family's NMS
     * threshold (0.3 in both of its presets) is not torchvision's and is not used.
     *
     * @param t thresholds of a detect call
     * @return the RoI heads' settings for that call
     */
    public RoIHeads.Settings settingsFor(Thresholds t) {
        RoIHeads.Settings own = roiHeads.settings();
        return new RoIHeads.Settings(t.scoreThresh(), own.nmsThresh(), own.detectionsPerImg());
    }

    /**
     * Detects objects on one image as {@link DetectionModel} callers give it: the pixels divided by 255, then
     * {@link #forward(List, RoIHeads.Settings)} with {@link #settingsFor settingsFor(t)}, then
     * {@link #toDetections}; then, with its temporaries freed, one iteration for {@link NativeHeap#iterationDone()}, as
     * {@link FasterRCNN#predict} does. The resizing is this model's {@link #transform()} (torchvision's min/max size and
     * ImageNet normalisation); {@code pre} serves the resizability check only.
     *
     * @param rgbChw (3, H, W) float32 RGB 0..255, on the model's device
     * @param pre preprocessing of the loaded config (its min/max size are the transform's)
     * @param t score threshold (NMS and detections per image are torchvision's, {@link #settingsFor})
     * @return detections in original-image pixels, (ymin, xmin, ymax, xmax), by decreasing score
     * @throws IllegalArgumentException if the image is not (3, H, W)
     * @throws dev.frcnn.data.ImageTooSmallException for an image with a side of 0 pixels
     */
    @Override
    public List<Detection> detect(Tensor rgbChw, Preprocessing pre, Thresholds t) {
        if (rgbChw.dim() != 3 || rgbChw.size(0) != 3) {
            throw new IllegalArgumentException("expected a (3, H, W) image, got " + Tensors.shapeString(rgbChw));
        }
        pre.checkResizable(null, rgbChw.size(1), rgbChw.size(2), minInputSide());
        List<Detection> dets;
        try (PointerScope scope = new PointerScope()) {
            Tensor x = rgbChw.div(new Scalar(255.0));
            dets = toDetections(forward(List.of(x), settingsFor(t)).get(0));
        }
        NativeHeap.iterationDone();
        return dets;
    }

    /**
     * Inference, torchvision's {@code GeneralizedRCNN.forward} in eval mode (call {@code eval()} first for the test
     * top-n counts), without gradients.
     *
     * @param images (3, H, W) float32 RGB in [0, 1], any sizes, on the model's device
     * @return per image its detections in its original frame
     */
    public List<Result> forward(List<Tensor> images) {
        return forward(images, roiHeads.settings());
    }

    /**
     * As {@link #forward(List)} with other postprocess settings for this call.
     *
     * @param images (3, H, W) float32 RGB in [0, 1], any sizes, on the model's device
     * @param settings score threshold, NMS threshold, detections per image
     * @return per image its detections in its original frame
     */
    public List<Result> forward(List<Tensor> images, RoIHeads.Settings settings) {
        try (NoGradGuard g = new NoGradGuard()) {
            ImageList batch = transform.apply(images);
            List<Tensor> features = features(batch.tensors());
            List<long[]> sizes = hw(batch.imageSizes());
            MultiLevelRegionProposalNetwork.Output rpnOut = rpn.forward(batch.tensors(), sizes, features);
            List<Tensor> proposals = new ArrayList<>();
            for (MultiLevelRegionProposalNetwork.Proposals p : rpnOut.proposals()) proposals.add(p.boxes());
            List<Tensor> pooledLevels = features.subList(0, roiHeads.boxRoIPool().numLevels());
            List<RoIHeads.Detections> dets = roiHeads.forward(pooledLevels, proposals, sizes, settings);
            List<Result> out = new ArrayList<>(images.size());
            for (int i = 0; i < images.size(); i++) {
                Tensor im = images.get(i);
                ImageSize original = new ImageSize((int) im.size(1), (int) im.size(2));
                RoIHeads.Detections d = dets.get(i);
                out.add(new Result(GeneralizedRCNNTransform.postprocessBoxes(d.boxes(), batch.imageSizes().get(i),
                        original), d.scores(), d.labels()));
            }
            return out;
        }
    }

    /** The backbone's levels in float32: under {@link Autocast} when the precision is bf16. */
    private List<Tensor> features(Tensor x) {
        if (precision == Precision.FP32) return backbone.forward(x);
        List<Tensor> out = new ArrayList<>();
        try (Autocast ac = Autocast.enter(precision, x.device())) {
            out.addAll(backbone.forward(x));
        }
        out.replaceAll(t -> Autocast.toFloat(t).contiguous());
        return out;
    }

    /**
     * The sizes as the RPN and the RoI heads take them.
     *
     * @param sizes image sizes
     * @return one {height, width} per image
     */
    public static List<long[]> hw(List<ImageSize> sizes) {
        List<long[]> out = new ArrayList<>(sizes.size());
        for (ImageSize s : sizes) out.add(new long[]{s.height(), s.width()});
        return out;
    }

    /**
     * What torchvision's {@code GeneralizedRCNN.forward} computes in training mode before the losses: the padded
     * batch, the gt boxes in the resized frame, the FPN levels and the RPN's outputs (train top-n; the proposals are
     * detached, the objectness logits and deltas carry the graph).
     *
     * @param batch the transformed, padded batch with each image's resized size
     * @param gtBoxes per image (G_i, 4) float32 (x1, y1, x2, y2) gt boxes in the resized frame
     * @param features the FPN levels '0'..'3', 'pool' (N, 256, H_l, W_l) float32
     * @param rpn the RPN's anchors (A, 4), logits (N, A), deltas (N, A, 4) and per-image proposals
     */
    public record TrainingForward(ImageList batch, List<Tensor> gtBoxes, List<Tensor> features,
                                  MultiLevelRegionProposalNetwork.Output rpn) {}

    /**
     * The training forward up to the losses, torchvision's {@code GeneralizedRCNN.forward} in training mode: the
     * transform (normalise, resize, pad), the gt boxes resized with float32 ratios {@code new/old} per axis
     * ({@link GeneralizedRCNNTransform#resizeBoxes}), torchvision's degenerate-box refusal, the backbone, the RPN with
     * the train pre/post-NMS top-n. The box head on the sampled RoIs is {@link #boxHeadForward}; the losses are
     * computed by the caller ({@code dev.frcnn.train.TorchvisionTrainer}). Gradients are recorded (the model must be
     * in training mode; FrozenBatchNorm2d stays frozen, {@code conv1} and the body layers outside
     * {@code trainable_backbone_layers} get none).
     *
     * @param images (3, H_i, W_i) float32 RGB in [0, 1], any sizes, on the model's device
     * @param gtBoxes per image (G_i, 4) float32 (x1, y1, x2, y2) gt boxes in the image's pixels, G_i >= 1
     * @return the batch, the resized gt boxes, the features and the RPN's outputs
     * @throws IllegalStateException if the model is in eval mode
     * @throws UnsupportedOperationException for {@code fasterrcnn_resnet50_fpn_v2} (inference only)
     * @throws IllegalArgumentException if the counts differ, a box set is not (G, 4) or a resized gt box is degenerate
     *     ({@code x2 <= x1} or {@code y2 <= y1}; torchvision's message)
     */
    public TrainingForward trainingForward(List<Tensor> images, List<Tensor> gtBoxes) {
        if (!is_training()) {
            throw new IllegalStateException("TorchvisionFasterRCNN.trainingForward: the model is in eval mode; call train() first");
        }
        if (variant != TorchvisionVariant.RESNET50_FPN) {
            throw new UnsupportedOperationException("TorchvisionFasterRCNN.trainingForward: " + variant.builderName()
                    + " is built for inference only (its BatchNorm2d layers run with their running statistics; "
                    + "training would need batch statistics); only " + TorchvisionVariant.RESNET50_FPN.builderName()
                    + " trains");
        }
        if (images.isEmpty() || gtBoxes.size() != images.size()) {
            throw new IllegalArgumentException("TorchvisionFasterRCNN.trainingForward: " + images.size() + " images but "
                    + gtBoxes.size() + " gt box sets");
        }
        ImageList batch = transform.apply(images);
        List<Tensor> resized = new ArrayList<>(images.size());
        for (int i = 0; i < images.size(); i++) {
            Tensor im = images.get(i);
            dev.frcnn.model.utils.BboxTools.requireBoxes(gtBoxes.get(i), "gt boxes of image " + i);
            Tensor b = GeneralizedRCNNTransform.resizeBoxes(gtBoxes.get(i).to(im.device(), org.bytedeco.pytorch.global.torch.ScalarType.Float),
                    new ImageSize((int) im.size(1), (int) im.size(2)), batch.imageSizes().get(i));
            requireNonDegenerate(b, i);
            resized.add(b);
        }
        List<Tensor> features = features(batch.tensors());
        MultiLevelRegionProposalNetwork.Output rpnOut = rpn.forward(batch.tensors(), hw(batch.imageSizes()), features);
        return new TrainingForward(batch, resized, features, rpnOut);
    }

    /**
     * The box branch on given RoIs, with gradients: {@code MultiScaleRoIAlign} over levels '0'..'3',
     * {@code TwoMLPHead}, {@code FastRCNNPredictor} (what {@code RoIHeads.forward} runs on the sampled proposals in
     * training).
     *
     * @param forward the training forward (its features and resized sizes)
     * @param rois per image (S_i, 4) float32 (x1, y1, x2, y2) in resized-image pixels
     * @return (sum S_i, K) class logits and (sum S_i, 4K) box deltas, image 0's rows first
     */
    public FastRCNNPredictor.Output boxHeadForward(TrainingForward forward, List<Tensor> rois) {
        return roiHeads.predict(forward.features().subList(0, roiHeads.boxRoIPool().numLevels()), rois,
                hw(forward.batch().imageSizes()));
    }

    /** torchvision's check in {@code GeneralizedRCNN.forward}, on the resized boxes. */
    private static void requireNonDegenerate(Tensor boxes, int image) {
        float[] v = Tensors.toFloatArray(boxes.cpu());
        for (int r = 0; r < v.length / 4; r++) {
            if (!(v[4 * r + 2] > v[4 * r]) || !(v[4 * r + 3] > v[4 * r + 1])) {
                throw new IllegalArgumentException("All bounding boxes should have positive height and width. Found invalid box "
                        + java.util.Arrays.toString(java.util.Arrays.copyOfRange(v, 4 * r, 4 * r + 4)) + " for target at index "
                        + image + ".");
            }
        }
    }

    /**
     * {@link #forward} as the project's {@link Detection} records: {@code (ymin, xmin, ymax, xmax) = (y1, x1, y2, x2)}
     * in original-image pixels, {@code classIndex = label - 1}, the class name, the score.
     *
     * @param images (3, H, W) float32 RGB in [0, 1]
     * @return per image its detections by decreasing score
     */
    public List<List<Detection>> detect(List<Tensor> images) {
        List<List<Detection>> out = new ArrayList<>();
        for (Result r : forward(images)) out.add(toDetections(r));
        return out;
    }

    /**
     * One image's {@link Result} as {@link Detection} records (host copies): {@code (ymin, xmin, ymax, xmax) = (y1, x1,
     * y2, x2)}, {@code classIndex = label - 1}, {@code label = classNames().get(classIndex)}.
     *
     * @param r the image's result
     * @return its detections in the result's order
     */
    public List<Detection> toDetections(Result r) {
        float[] b = Tensors.toFloatArray(r.boxes().cpu());
        float[] s = Tensors.toFloatArray(r.scores().cpu());
        long[] l = Tensors.toLongArray(r.labels().cpu());
        List<Detection> dets = new ArrayList<>(s.length);
        for (int i = 0; i < s.length; i++) {
            int cls = (int) l[i] - 1;
            dets.add(new Detection(b[4 * i + 1], b[4 * i], b[4 * i + 3], b[4 * i + 2], cls, classNames.get(cls), s[i]));
        }
        return dets;
    }

    /**
     * The state_dict keys in torchvision's order (each module's parameters, then its buffers, then its children's,
     * depth first, in registration order).
     *
     * @return the keys, e.g. {@code backbone.body.conv1.weight} first
     */
    public List<String> stateDictKeys() {
        List<String> out = new ArrayList<>();
        collectKeys(this, "", out);
        return out;
    }

    private static void collectKeys(Module m, String prefix, List<String> out) {
        StringTensorDict ps = m.named_parameters(false);
        for (long i = 0; i < ps.size(); i++) out.add(prefix + ps.get(i).key().getString());
        StringTensorDict bs = m.named_buffers(false);
        for (long i = 0; i < bs.size(); i++) out.add(prefix + bs.get(i).key().getString());
        StringSharedModuleDict cs = m.named_children();
        for (long i = 0; i < cs.size(); i++) {
            collectKeys(cs.get(i).value(), prefix + cs.get(i).key().getString() + ".", out);
        }
    }

    /**
     * Loads a torchvision state dict: every key of the model must be present with its shape; {@code num_batches_tracked}
     * entries (torchvision's BatchNorm2d layouts) are optional: the file's are ignored where the model has none
     * ({@code fasterrcnn_resnet50_fpn}'s FrozenBatchNorm2d) and loaded where it has them (v2's BatchNorm2d, whose
     * entries may also be missing, e.g. a body saved from torchvision's FrozenBatchNorm2d).
     *
     * @param stateDict torchvision key to tensor
     * @param source what the weights are (the file), named first in an error
     * @throws WeightsMismatchException naming the source, every missing and unexpected key and every shape mismatch
     */
    public void loadStateDict(Map<String, Tensor> stateDict, String source) {
        try {
            WeightLoader.load(this, withOwnNumBatchesTracked(stateDict), true);
        } catch (WeightsMismatchException e) {
            throw new WeightsMismatchException(source + " (" + variant.description() + ", " + classNames.size()
                    + " + 1 classes)", e.missingKeys(), e.unexpectedKeys(), e.shapeMismatches());
        }
    }

    /**
     * The state dict with its {@code num_batches_tracked} entries made to fit this model's: the file's dropped where
     * the model has no such buffer, the model's own value put where the file has none (so a strict load neither
     * misses nor finds them). Other entries as they are, in the file's order.
     */
    private Map<String, Tensor> withOwnNumBatchesTracked(Map<String, Tensor> stateDict) {
        Map<String, Tensor> own = new LinkedHashMap<>();
        StringTensorDict bs = named_buffers(true);
        for (long i = 0; i < bs.size(); i++) {
            String k = bs.get(i).key().getString();
            // an owning handle: the dict's entries die with the dict
            if (k.endsWith("num_batches_tracked")) own.put(k, new Tensor(bs.get(i).value()));
        }
        Map<String, Tensor> sd = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : stateDict.entrySet()) {
            if (!e.getKey().endsWith("num_batches_tracked") || own.containsKey(e.getKey())) sd.put(e.getKey(), e.getValue());
        }
        for (Map.Entry<String, Tensor> e : own.entrySet()) sd.putIfAbsent(e.getKey(), e.getValue());
        return sd;
    }

    /** The state_dict keys of the box predictor, which fine-tuning replaces. */
    public static final List<String> PREDICTOR_KEYS = List.of("roi_heads.box_predictor.cls_score.weight",
            "roi_heads.box_predictor.cls_score.bias", "roi_heads.box_predictor.bbox_pred.weight",
            "roi_heads.box_predictor.bbox_pred.bias");

    /**
     * Loads a torchvision state dict for fine-tuning, as torchvision's fine-tuning tutorial does
     * ({@code model.roi_heads.box_predictor = FastRCNNPredictor(in_features, num_classes)} after loading the
     * checkpoint): when the checkpoint's {@code cls_score} has another class count than this model's
     * ({@code classNames().size() + 1}), every entry except the box predictor's four loads and the predictor keeps
     * its fresh initialisation; with the same count it loads as {@link #loadStateDict}.
     *
     * @param stateDict torchvision key to tensor
     * @param source what the weights are (the file), named first in an error
     * @return true if the predictor was replaced (kept fresh), false if it was loaded
     * @throws WeightsMismatchException as {@link #loadStateDict} for every key outside the predictor
     */
    public boolean loadForFineTuning(Map<String, Tensor> stateDict, String source) {
        Tensor cls = stateDict.get(PREDICTOR_KEYS.get(0));
        if (cls == null || cls.dim() != 2 || cls.size(0) == roiHeads.boxPredictor().numClasses()) {
            loadStateDict(stateDict, source);
            return false;
        }
        Map<String, Tensor> sd = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : withOwnNumBatchesTracked(stateDict).entrySet()) {
            if (!PREDICTOR_KEYS.contains(e.getKey())) sd.put(e.getKey(), e.getValue());
        }
        String what = source + " (" + variant.description() + ", fine-tuned from " + cls.size(0) + " to "
                + roiHeads.boxPredictor().numClasses() + " classes)";
        WeightLoader.LoadResult r;
        try {
            r = WeightLoader.load(this, sd, false);
        } catch (WeightsMismatchException e) {
            throw new WeightsMismatchException(what, e.missingKeys(), e.unexpectedKeys(), e.shapeMismatches());
        }
        List<String> missing = new ArrayList<>(r.missingKeys());
        missing.removeAll(PREDICTOR_KEYS);
        if (!missing.isEmpty() || !r.unexpectedKeys().isEmpty()) {
            throw new WeightsMismatchException(what, missing, r.unexpectedKeys(), List.of());
        }
        return true;
    }

    /**
     * {@link #loadForFineTuning(Map, String)} from a torchvision {@code .pth} file.
     *
     * @param file the file
     * @return true if the predictor was replaced
     * @throws IOException if it cannot be read
     */
    public boolean loadForFineTuning(Path file) throws IOException {
        return loadForFineTuning(PthReader.readStateDict(file), file.toString());
    }

    /**
     * Loads a torchvision {@code .pth} state dict file as it is ({@link PthReader}; the zip and legacy formats).
     *
     * @param file the file
     * @throws IOException if it cannot be read
     * @throws dev.frcnn.io.WeightsFormatException if it is not a PyTorch state dict file
     * @throws WeightsMismatchException as {@link #loadStateDict}, naming the file
     */
    public void load(Path file) throws IOException {
        loadStateDict(PthReader.readStateDict(file), file.toString());
    }
}
