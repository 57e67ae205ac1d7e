package dev.frcnn.model.backbone;

import dev.frcnn.model.roi.BoxHead;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

/**
 * The network-specific parts of a two-stage detector: the convolutional feature extractor and the top of
 * the RoI head that runs on pooled RoI features (the reference's {@code decom_vgg16()} pair
 * {@code (extractor, classifier)}).
 *
 * <p>{@link dev.frcnn.model.FasterRCNN} registers {@link #extractor()} under the name {@code extractor} and the
 * {@link dev.frcnn.model.roi.RoIHead} registers {@link #boxHead()}'s module under {@code head.classifier}, so the state_dict keys
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

    /**
     * The RoI head's top that comes with this backbone (the reference's {@code classifier} half of
     * {@code decom_vgg16}; layer4 for ResNet-C4), on pooled features of {@link #featureChannels()} channels. The
     * RoI head registers it and owns the pooling operator (RoIPool or RoIAlign of {@link BoxHead#roiSize()} at
     * spatial scale {@code 1 / featureStride()}).
     */
    BoxHead boxHead();

    /**
     * The smallest input height and width (after the preprocessing's resize) that the extractor accepts: below it a
     * convolution or pooling would have an empty output and LibTorch refuses the shape. Images that would be
     * resized below it are refused ({@code dev.frcnn.data.ImageTooSmallException}); the catalogue entry repeats it
     * ({@link BackboneSpec#minInputSide()}) so that inputs are checked before a model is built.
     */
    int minInputSide();
}
