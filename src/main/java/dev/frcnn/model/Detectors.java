package dev.frcnn.model;

import dev.frcnn.config.Config;
import dev.frcnn.model.utils.ProposalCreator;

import java.util.List;

/**
 * Builds a {@link FasterRCNN} from a {@link Config}: the backbone ({@code backbone}), the RoI pooling
 * ({@code roi_op}, {@code roi_align_sampling_ratio}, {@code roi_align_aligned}), anchors and classes it names.
 *
 * <ul>
 *   <li>{@code vgg16} + {@code roi_pool}: the reference's {@link FasterRCNNVGG16};</li>
 *   <li>{@code tiny}: the demo's {@link TinyBackbone} with an RPN on its features;</li>
 *   <li>{@code resnet50}, {@code resnet101}: {@link ResNetC4Backbone} (stride 16, 1024 channels), an RPN with
 *       1024 input and 512 middle channels, pooling 14x14 in front of layer4;</li>
 *   <li>any backbone + {@code roi_align}: a {@link VGG16RoIHead} with {@code RoIAlign(roiSize, 1/stride,
 *       roi_align_sampling_ratio, roi_align_aligned)}.</li>
 * </ul>
 * All detectors use the reference's loc normalisation (mean 0, std (0.1, 0.1, 0.2, 0.2)) and run in the config's
 * {@code precision} ({@link FasterRCNN#setPrecision}).
 */
public final class Detectors {
    private Detectors() {}

    static {
        dev.frcnn.tensor.NativeLibraries.ensureExtracted(); // before the first org.bytedeco.pytorch class loads
    }

    private static final float[] LOC_MEAN = {0f, 0f, 0f, 0f};
    private static final float[] LOC_STD = {0.1f, 0.1f, 0.2f, 0.2f};
    /** Middle channels of the RPN's 3x3 conv for the ResNet backbones. */
    public static final int RESNET_RPN_MID_CHANNELS = 512;

    /**
     * @param cfg the configuration ({@code backbone}, {@code roi_op} and its settings, {@code ratios},
     *     {@code anchor_scales}, {@code use_drop})
     * @param classNames foreground class names, in label order
     * @return a randomly initialised model (load weights afterwards)
     * @throws IllegalArgumentException if the backbone or RoI op is unknown or there are no classes
     */
    public static FasterRCNN create(Config cfg, List<String> classNames) {
        FasterRCNN model = build(cfg, classNames);
        model.setPrecision(cfg.precisionMode());
        return model;
    }

    private static FasterRCNN build(Config cfg, List<String> classNames) {
        if (classNames.isEmpty()) throw new IllegalArgumentException("a detector needs at least one class");
        boolean align = switch (cfg.roiOp()) {
            case "roi_pool" -> false;
            case "roi_align" -> true;
            default -> throw new IllegalArgumentException("unknown roi_op '" + cfg.roiOp() + "'");
        };
        int nClass = classNames.size() + 1;
        return switch (cfg.backbone()) {
            case "vgg16" -> {
                if (!align) {
                    yield new FasterRCNNVGG16(classNames.size(), cfg.ratiosArray(), cfg.anchorScalesArray(),
                            cfg.useDrop(), classNames);
                }
                VGG16Backbone b = new VGG16Backbone(cfg.useDrop());
                yield assemble(b, b.featureChannels(), new VGG16RoIHead(nClass, b, roiOperator(cfg, b)), cfg,
                        classNames);
            }
            case "tiny" -> {
                TinyBackbone b = new TinyBackbone();
                RoIHead head = new VGG16RoIHead(nClass, b, roiOperator(cfg, b));
                yield assemble(b, b.featureChannels(), head, cfg, classNames);
            }
            case "resnet50", "resnet101" -> {
                ResNetC4Backbone.Depth depth = ResNetC4Backbone.Depth.fromName(cfg.backbone());
                ResNetC4Backbone b = new ResNetC4Backbone(depth, roiOperator(cfg, ResNetC4Backbone.ROI_SIZE,
                        ResNetC4Backbone.FEATURE_STRIDE));
                if (cfg.zeroInitResidual()) b.zeroInitResiduals();
                yield assemble(b, RESNET_RPN_MID_CHANNELS, new VGG16RoIHead(nClass, b, b.roiOperator()), cfg,
                        classNames);
            }
            default -> throw new IllegalArgumentException("unknown backbone '" + cfg.backbone() + "'");
        };
    }

    /**
     * The RoI pooling a config asks for, for a backbone's RoI size and stride.
     *
     * @param cfg {@code roi_op}, {@code roi_align_sampling_ratio}, {@code roi_align_aligned}
     * @param backbone supplies {@link Backbone#roiSize()} and {@link Backbone#featureStride()}
     * @return RoIPool or RoIAlign at spatial scale {@code 1 / featureStride}
     */
    public static RoIOperator roiOperator(Config cfg, Backbone backbone) {
        return roiOperator(cfg, backbone.roiSize(), backbone.featureStride());
    }

    private static RoIOperator roiOperator(Config cfg, int roiSize, int stride) {
        double scale = 1.0 / stride;
        return cfg.roiOp().equals("roi_align")
                ? RoIOperators.roiAlign(roiSize, scale, cfg.roiAlignSamplingRatio(), cfg.roiAlignAligned())
                : RoIOperators.roiPool(roiSize, scale);
    }

    private static FasterRCNN assemble(Backbone b, int rpnMid, RoIHead head, Config cfg, List<String> classNames) {
        RegionProposalNetwork rpn = new RegionProposalNetwork(b.featureChannels(), rpnMid, cfg.ratiosArray(),
                cfg.anchorScalesArray(), b.featureStride(), new ProposalCreator());
        return new FasterRCNN(b, rpn, head, LOC_MEAN, LOC_STD, classNames);
    }
}
