package dev.frcnn.model;

import dev.frcnn.model.backbone.VGG16Backbone;
import dev.frcnn.model.roi.LocNormalization;
import dev.frcnn.model.roi.VGG16RoIHead;
import dev.frcnn.model.rpn.ProposalCreator;
import dev.frcnn.model.rpn.RegionProposalNetwork;
import dev.frcnn.tensor.Precision;

import java.util.List;

/**
 * Faster R-CNN on VGG-16; mirrors the reference's {@code model/faster_rcnn_vgg16.FasterRCNNVGG16}:
 * {@link VGG16Backbone} (stride 16), a 512 to 512 {@link RegionProposalNetwork} and a {@link VGG16RoIHead}
 * with {@code nFgClass + 1} classes (RoIPool 7x7 at 1/16), the reference's loc normalisation
 * ({@link LocNormalization#REFERENCE}). The state_dict keys are the reference's: {@code extractor.*}, {@code rpn.conv1/score/loc.*},
 * {@code head.classifier.*}, {@code head.cls_loc.*}, {@code head.score.*}.
 */
public final class FasterRCNNVGG16 extends FasterRCNN {
    /** Downsampling of conv5_3 in VGG-16. */
    public static final int FEAT_STRIDE = 16;

    /** 20 VOC classes, ratios (0.5, 1, 2), anchor scales (8, 16, 32), no dropout, float32. */
    public FasterRCNNVGG16() {
        this(20, new double[]{0.5, 1, 2}, new double[]{8, 16, 32}, false, FasterRCNN.VOC_BBOX_LABEL_NAMES,
                Precision.FP32);
    }

    /**
     * @param nFgClass number of foreground classes
     * @param ratios anchor height/width ratios
     * @param anchorScales anchor scales
     * @param useDrop dropout in the classifier (reference {@code opt.use_drop})
     * @param classNames {@code nFgClass} class names
     * @param precision the precision of forward passes ({@link FasterRCNN#precision()})
     * @throws IllegalArgumentException if {@code classNames.size() != nFgClass}
     */
    public FasterRCNNVGG16(int nFgClass, double[] ratios, double[] anchorScales, boolean useDrop,
                           List<String> classNames, Precision precision) {
        this(new VGG16Backbone(useDrop), nFgClass, ratios, anchorScales, classNames, precision);
    }

    private FasterRCNNVGG16(VGG16Backbone backbone, int nFgClass, double[] ratios, double[] anchorScales,
                            List<String> classNames, Precision precision) {
        super(backbone,
                new RegionProposalNetwork(512, 512, ratios, anchorScales, FEAT_STRIDE, new ProposalCreator()),
                new VGG16RoIHead(nFgClass + 1, backbone.boxHead(), FEAT_STRIDE),
                LocNormalization.REFERENCE, classNames, precision);
    }
}
