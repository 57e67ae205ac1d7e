package dev.frcnn.assembly;

import dev.frcnn.config.Config;
import dev.frcnn.io.ModelWeights;
import dev.frcnn.io.WeightLoader;
import dev.frcnn.io.WeightsMismatchException;
import dev.frcnn.error.UserInputException;
import dev.frcnn.model.DetectionModel;
import dev.frcnn.model.FasterRCNN;
import dev.frcnn.model.FasterRCNNVGG16;
import dev.frcnn.model.GeneralizedRCNNTransform;
import dev.frcnn.model.TorchvisionVariant;
import dev.frcnn.model.backbone.ResNetFPNBackbone;
import dev.frcnn.model.backbone.Backbone;
import dev.frcnn.model.backbone.BackboneSpec;
import dev.frcnn.model.backbone.Backbones;
import dev.frcnn.model.backbone.ResNetC4Backbone;
import dev.frcnn.model.roi.LocNormalization;
import dev.frcnn.model.roi.RoIHead;
import dev.frcnn.model.roi.RoIOperator;
import dev.frcnn.model.roi.RoIOperators;
import dev.frcnn.model.roi.VGG16RoIHead;
import dev.frcnn.model.rpn.ProposalCreator;
import dev.frcnn.model.rpn.RegionProposalNetwork;

import java.util.List;

/**
 * Builds a {@link FasterRCNN} from a {@link Config}: the backbone ({@code backbone}, an entry of {@link Backbones}),
 * the RoI head's width ({@code representation_size}), the RoI pooling ({@code roi_op}, {@code roi_size},
 * {@code roi_align_sampling_ratio}, {@code roi_align_aligned}), anchors and classes it names; and loads weights
 * into it ({@link #load}).
 *
 * <ul>
 *   <li>{@code vgg16} + {@code roi_pool}: the reference's {@link FasterRCNNVGG16};</li>
 *   <li>any other combination: the entry's backbone, a {@link VGG16RoIHead} that owns the RoI pooling
 *       ({@code RoIPool(roiSize, 1/stride)} or {@code RoIAlign(roiSize, 1/stride, roi_align_sampling_ratio,
 *       roi_align_aligned)}) and an RPN from the feature channels to the entry's middle channels.</li>
 * </ul>
 * All detectors use the reference's loc normalisation ({@link LocNormalization#REFERENCE}) and run in the config's
 * {@code precision} ({@link FasterRCNN#precision()}).
 */
public final class Detectors {
    private Detectors() {}

    static {
        dev.frcnn.tensor.NativeLibraries.ensureExtracted(); // before the first org.bytedeco.pytorch class loads
    }

    /** Middle channels of the RPN's 3x3 conv for the ResNet backbones. */
    public static final int RESNET_RPN_MID_CHANNELS = 512;

    /**
     * @param cfg the configuration ({@code backbone}, {@code representation_size}, {@code roi_op} and its
     *     settings, {@code ratios}, {@code anchor_scales}, {@code use_drop})
     * @param classNames foreground class names, in label order
     * @return a randomly initialised model (load weights afterwards)
     * @throws IllegalArgumentException if the backbone or RoI op is unknown or there are no classes
     */
    public static FasterRCNN create(Config cfg, List<String> classNames) {
        if (classNames.isEmpty()) throw new IllegalArgumentException("a detector needs at least one class");
        if (ModelFamily.of(cfg) != ModelFamily.REFERENCE) {
            throw new UserInputException("backbone " + cfg.backbone() + " is torchvision's Faster R-CNN, not a model "
                    + "of the reference family (createModel builds it; docs/torchvision.md)");
        }
        boolean align = switch (cfg.roiOp()) {
            case "roi_pool" -> false;
            case "roi_align" -> true;
            default -> throw new IllegalArgumentException("unknown roi_op '" + cfg.roiOp() + "'");
        };
        BackboneSpec spec = Backbones.get(cfg.backbone()); // the config checked its settings when it was built
        if (spec.name().equals("vgg16") && !align) {
            return new FasterRCNNVGG16(classNames.size(), cfg.ratiosArray(), cfg.anchorScalesArray(), cfg.useDrop(),
                    classNames, cfg.precisionMode());
        }
        Backbone b = Backbones.build(spec, cfg.useDrop(), cfg.representationSize(), cfg.roiSize(), cfg.norm(),
                cfg.freezeAt());
        if (cfg.zeroInitResidual() && b instanceof ResNetC4Backbone resnet) resnet.zeroInitResiduals();
        RoIHead head = new VGG16RoIHead(classNames.size() + 1, b.boxHead(), roiOperator(cfg, b));
        int mid = spec.rpnMidChannels() > 0 ? spec.rpnMidChannels() : b.featureChannels();
        RegionProposalNetwork rpn = new RegionProposalNetwork(b.featureChannels(), mid, cfg.ratiosArray(),
                cfg.anchorScalesArray(), b.featureStride(), new ProposalCreator());
        return new FasterRCNN(b, rpn, head, LocNormalization.REFERENCE, classNames, cfg.precisionMode());
    }

    /**
     * A randomly initialised detector of the config's {@link ModelFamily}: {@link #create} for the reference family;
     * for {@code resnet50_fpn}, torchvision's {@code fasterrcnn_resnet50_fpn(num_classes = classNames.size() + 1)}
     * with the config's {@code min_size}/{@code max_size}, ImageNet normalisation and FrozenBatchNorm2d eps 0.0; for
     * {@code resnet50_fpn_v2}, {@code fasterrcnn_resnet50_fpn_v2} likewise, BatchNorm2d eps 1e-5
     * ({@link TorchvisionVariant#checkpointEps()}).
     *
     * @param cfg the configuration
     * @param classNames foreground class names, in label order
     * @return the model (load weights afterwards; {@code module().train(false)} for inference)
     * @throws IllegalArgumentException as {@link #create}
     */
    public static DetectionModel createModel(Config cfg, List<String> classNames) {
        ModelFamily family = ModelFamily.of(cfg);
        if (family == ModelFamily.REFERENCE) return create(cfg, classNames);
        if (classNames.isEmpty()) throw new IllegalArgumentException("a detector needs at least one class");
        GeneralizedRCNNTransform transform = new GeneralizedRCNNTransform(cfg.minSize(), cfg.maxSize(),
                GeneralizedRCNNTransform.IMAGENET_MEAN, GeneralizedRCNNTransform.IMAGENET_STD,
                GeneralizedRCNNTransform.DEFAULT_SIZE_DIVISIBLE);
        TorchvisionVariant variant = family.variant();
        return variant.build(transform, classNames, variant.checkpointEps(), ResNetFPNBackbone.DEFAULT_TRAINABLE_LAYERS,
                cfg.precisionMode());
    }

    /**
     * The RoI pooling a config asks for, for a backbone's RoI size and stride.
     *
     * @param cfg {@code roi_op}, {@code roi_align_sampling_ratio}, {@code roi_align_aligned}
     * @param backbone supplies its box head's {@link dev.frcnn.model.roi.BoxHead#roiSize()} and {@link Backbone#featureStride()}
     * @return RoIPool or RoIAlign at spatial scale {@code 1 / featureStride}
     */
    public static RoIOperator roiOperator(Config cfg, Backbone backbone) {
        double scale = 1.0 / backbone.featureStride();
        return cfg.roiOp().equals("roi_align")
                ? RoIOperators.roiAlign(backbone.boxHead().roiSize(), scale, cfg.roiAlignSamplingRatio(),
                        cfg.roiAlignAligned())
                : RoIOperators.roiPool(backbone.boxHead().roiSize(), scale);
    }

    /**
     * Loads weights read by {@link ModelWeights#read} into a model built by {@link #create} for {@code cfg}:
     * checkpoints and detector state dicts strictly (every key, no other); a backbone's pretrained state dict
     * ({@link ModelWeights.Kind#PRETRAINED_BACKBONE}) renamed by the config's {@link Backbones} entry, after which
     * every model key under the entry's {@link BackboneSpec#pretrainedPrefixes()} must have been loaded (the RPN and
     * the new layers keep their initialisation).
     *
     * @param model the model
     * @param cfg its config ({@code backbone})
     * @param w the weights
     * @param what the file, for messages
     * @return the keys that were not loaded (empty for strict loads)
     * @throws WeightsMismatchException naming missing, unexpected and mis-shaped keys, or for a pretrained backbone
     *     file with a {@code norm} other than {@code frozen_bn}
     */
    public static WeightLoader.LoadResult load(FasterRCNN model, Config cfg, ModelWeights.Loaded w, String what) {
        if (!w.kind().backboneOnly()) return WeightLoader.load(model, w.stateDict(), true);
        BackboneSpec spec = Backbones.get(cfg.backbone());
        if (ResNetC4Backbone.Norm.fromName(cfg.norm()) != ResNetC4Backbone.Norm.FROZEN_BN) {
            throw new WeightsMismatchException(what + ": pretrained " + spec.name() + " weights come with BatchNorm "
                    + "statistics, which norm " + cfg.norm() + " cannot use (it is for training from scratch; use "
                    + "norm frozen_bn with pretrained weights)", List.of(), List.of(), List.of());
        }
        WeightLoader.LoadResult r = WeightLoader.load(model, spec.toModel(w.stateDict(), what), false);
        List<String> missing = r.missingKeys().stream()
                .filter(k -> spec.pretrainedPrefixes().stream().anyMatch(k::startsWith)).toList();
        if (!missing.isEmpty()) {
            throw new WeightsMismatchException(what + ": an incomplete pretrained " + spec.name() + " state dict",
                    missing, List.of(), List.of());
        }
        return r;
    }
}
