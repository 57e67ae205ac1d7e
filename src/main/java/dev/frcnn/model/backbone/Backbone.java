package dev.frcnn.model.backbone;

import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

/**
 * The network-specific parts of a two-stage detector: the convolutional feature extractor and the top of
 * the RoI head that runs on pooled RoI features (the reference's {@code decom_vgg16()} pair
 * {@code (extractor, classifier)}).
 *
 * <p>{@link dev.frcnn.model.FasterRCNN} registers {@link #extractor()} under the name {@code extractor} and the
 * {@link dev.frcnn.model.roi.RoIHead} registers {@link #classifier()} under {@code head.classifier}, so the state_dict keys
 * follow the reference. A new backbone implements this interface and gets one entry in {@link Backbones}; the
 * RPN, the head, the creators and the trainer do not change.
 */
public interface Backbone {

    /** The feature extractor module (registered by {@link dev.frcnn.model.FasterRCNN} as {@code extractor}). */
    Module extractor();

    /**
     * Runs the extractor.
     *
     * @param x (N, 3, H, W) float32 preprocessed images
     * @return (N, {@link #featureChannels()}, ~H/stride, ~W/stride) float32 feature map, same device
     */
    Tensor extract(Tensor x);

    /** Number of channels of the feature map (512 for VGG16). */
    int featureChannels();

    /** Input pixels per feature cell (16 for VGG16). */
    int featureStride();

    /** The RoI head's top module (registered by the head as {@code classifier}). */
    Module classifier();

    /**
     * Runs the head's top on pooled RoI features.
     *
     * @param pooled (R, featureChannels, roiSize, roiSize) float32 pooled features
     * @return (R, {@link #classifierOutputWidth()}) float32
     */
    Tensor classify(Tensor pooled);

    /** Width of {@link #classify(Tensor)}'s output (4096 for VGG16's fc7). */
    int classifierOutputWidth();

    /**
     * Output height and width of the RoI pooling that {@link #classify(Tensor)} expects (7 for VGG16). The RoI
     * head owns the pooling operator (RoIPool or RoIAlign at spatial scale {@code 1 / featureStride()}).
     */
    int roiSize();

    /**
     * The smallest input height and width (after the preprocessing's resize) that the extractor accepts: below it a
     * convolution or pooling would have an empty output and LibTorch refuses the shape. Images that would be
     * resized below it are refused ({@code dev.frcnn.data.ImageTooSmallException}); the catalogue entry repeats it
     * ({@link BackboneSpec#minInputSide()}) so that inputs are checked before a model is built.
     */
    int minInputSide();
}
