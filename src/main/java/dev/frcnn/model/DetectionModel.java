package dev.frcnn.model;

import dev.frcnn.data.Preprocessing;
import dev.frcnn.model.roi.Thresholds;
import dev.frcnn.tensor.Precision;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

import java.util.List;

/**
 * A detector as inference sees it, whatever its family: the reference's {@link FasterRCNN} (VGG16, the C4 ResNets,
 * SqueezeNet, tiny) or torchvision's {@link TorchvisionFasterRCNN} (ResNet-50 FPN). The CLI's {@code detect},
 * {@code eval} and {@code bench --what infer}, {@code dev.frcnn.api.Detector} and the evaluator run this interface;
 * training runs {@link FasterRCNN} itself.
 */
public interface DetectionModel extends AutoCloseable {
    /**
     * Detects objects on one decoded image.
     *
     * @param rgbChw (3, H, W) float32 RGB 0..255 ({@link dev.frcnn.data.ImageReader#readRgbChw}), any device
     * @param pre min/max size and normalisation matching the weights (the reference family's preprocessing; the
     *     torchvision family resizes with its own {@link GeneralizedRCNNTransform} and reads {@code pre} for the
     *     resizability check only)
     * @param t score and NMS thresholds (how each family reads them: {@link FasterRCNN#detect},
     *     {@link TorchvisionFasterRCNN#detect(Tensor, Preprocessing, Thresholds)})
     * @return detections in original-image pixels, (ymin, xmin, ymax, xmax)
     * @throws IllegalArgumentException if the image is not (3, H, W)
     * @throws dev.frcnn.data.ImageTooSmallException (naming no file) if the resized image would have a side below
     *     {@link #minInputSide()}
     */
    List<Detection> detect(Tensor rgbChw, Preprocessing pre, Thresholds t);

    /** The foreground class names; {@link Detection#classIndex()} indexes them. */
    List<String> classNames();

    /** The torch module (for device moves, {@code train(false)}, parameter counts). */
    Module module();

    /** The requested inference precision. */
    Precision precision();

    /** The smallest side, in pixels, a resized input may have. */
    int minInputSide();

    /** Frees the model's native memory. */
    @Override
    void close();
}
