package dev.frcnn.model;

import dev.frcnn.model.backbone.FrozenBatchNorm2d;
import dev.frcnn.tensor.Precision;

import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * Which of torchvision 0.14's Faster R-CNN ResNet-50 FPN builders a {@link TorchvisionFasterRCNN} is, selected by the
 * config's {@code backbone}: {@code resnet50_fpn} ({@code fasterrcnn_resnet50_fpn}: FrozenBatchNorm2d body, FPN
 * convolutions with bias, one RPN conv, {@code TwoMLPHead}) or {@code resnet50_fpn_v2}
 * ({@code fasterrcnn_resnet50_fpn_v2}, Li et al.'s "Benchmarking Detection Transfer Learning with Vision
 * Transformers": BatchNorm2d in the body and every FPN block, two RPN convs, {@code FastRCNNConvFCHead}). Both share
 * the transform, the anchors, the RPN and RoI settings and the postprocess.
 */
public enum TorchvisionVariant {
    /** torchvision's {@code fasterrcnn_resnet50_fpn}. */
    RESNET50_FPN("resnet50_fpn", "fasterrcnn_resnet50_fpn", "torchvision Faster R-CNN ResNet-50 FPN"),
    /** torchvision's {@code fasterrcnn_resnet50_fpn_v2}. */
    RESNET50_FPN_V2("resnet50_fpn_v2", "fasterrcnn_resnet50_fpn_v2", "torchvision Faster R-CNN ResNet-50 FPN v2");

    private final String backboneName;
    private final String builderName;
    private final String description;

    TorchvisionVariant(String backboneName, String builderName, String description) {
        this.backboneName = backboneName;
        this.builderName = builderName;
        this.description = description;
    }

    /** The config's {@code backbone} value ({@code resnet50_fpn}, {@code resnet50_fpn_v2}). */
    public String backboneName() { return backboneName; }

    /** torchvision's builder function ({@code fasterrcnn_resnet50_fpn}, {@code fasterrcnn_resnet50_fpn_v2}). */
    public String builderName() { return builderName; }

    /** What the model is, as error messages name it. */
    public String description() { return description; }

    /** Every variant's {@link #backboneName()}, in declaration order. */
    public static List<String> backboneNames() {
        return Arrays.stream(values()).map(TorchvisionVariant::backboneName).toList();
    }

    /**
     * @param backbone a config's {@code backbone}
     * @return the variant it names, or empty for any other backbone (the reference family's)
     */
    public static Optional<TorchvisionVariant> ofBackbone(String backbone) {
        return Arrays.stream(values()).filter(v -> v.backboneName.equals(backbone)).findFirst();
    }

    /**
     * The normalisation eps of a model built for torchvision's COCO checkpoint of this variant (what a randomly
     * initialised model of {@code Detectors.createModel} uses): 0.0 for {@code fasterrcnn_resnet50_fpn}
     * (torchvision's {@code overwrite_eps(model, 0.0)}), 1e-5 for {@code fasterrcnn_resnet50_fpn_v2}
     * ({@code nn.BatchNorm2d}'s, which torchvision does not overwrite).
     *
     * @return the eps
     */
    public double checkpointEps() {
        return this == RESNET50_FPN ? 0.0 : FrozenBatchNorm2d.DEFAULT_EPS;
    }

    /**
     * The normalisation eps a state dict of this variant ran with in torchvision, read from its keys. For
     * {@code fasterrcnn_resnet50_fpn}: 1e-5 when it has {@code num_batches_tracked} entries (saved from a model that
     * torchvision built with {@code nn.BatchNorm2d}, i.e. without weights), else 0.0 (the COCO checkpoint's
     * FrozenBatchNorm2d after {@code overwrite_eps(model, 0.0)}). For {@code fasterrcnn_resnet50_fpn_v2}: always
     * 1e-5, because torchvision 0.14 builds every one of its norms as {@code nn.BatchNorm2d} (the body with or without
     * weights, the FPN and the box head) and never overwrites their eps.
     *
     * @param keys the state dict's keys
     * @return the eps
     */
    public double batchNormEps(Collection<String> keys) {
        if (this == RESNET50_FPN_V2) return FrozenBatchNorm2d.DEFAULT_EPS;
        return keys.stream().anyMatch(k -> k.endsWith("num_batches_tracked")) ? FrozenBatchNorm2d.DEFAULT_EPS : 0.0;
    }

    /**
     * This variant's model: {@link TorchvisionFasterRCNN#resnet50Fpn} or {@link TorchvisionFasterRCNN#resnet50FpnV2}.
     *
     * @param transform the image transform (min/max size)
     * @param classNames foreground class names, label 1 first
     * @param eps the normalisation eps ({@link #batchNormEps}, {@link #checkpointEps})
     * @param trainableLayers torchvision's {@code trainable_backbone_layers} (3)
     * @param precision the inference precision
     * @return the model, randomly initialised, in training mode as a new torch module
     */
    public TorchvisionFasterRCNN build(GeneralizedRCNNTransform transform, List<String> classNames, double eps,
                                       int trainableLayers, Precision precision) {
        return switch (this) {
            case RESNET50_FPN -> TorchvisionFasterRCNN.resnet50Fpn(transform, classNames, eps, trainableLayers, precision);
            case RESNET50_FPN_V2 -> TorchvisionFasterRCNN.resnet50FpnV2(transform, classNames, eps, trainableLayers,
                    precision);
        };
    }
}
