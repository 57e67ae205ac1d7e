package dev.frcnn.data;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

/**
 * The train transform of torchvision's detection references and fine-tuning tutorial for its Faster R-CNN:
 * {@code ConvertImageDtype(torch.float)} (pixels / 255) then {@code RandomHorizontalFlip(0.5)} (the loop draws the
 * coin). The image keeps its size: the model's own {@code GeneralizedRCNNTransform} normalises and resizes it
 * (and the boxes) in the forward.
 */
public final class TorchvisionTrainTransform implements SampleTransform {
    /**
     * @param img (3, H, W) float32 RGB 0..255
     * @param bbox (R, 4) float32 (ymin, xmin, ymax, xmax) in pixels of {@code img}
     * @param label (R,) int64 0-based labels
     * @param xFlip flip horizontally (image and boxes, {@code x -> W - x} as the reference's {@code flip_bbox})
     * @return (3, H, W) float32 RGB in [0, 1], the boxes (flipped if asked), a copy of the labels, scale 1
     */
    @Override
    public Transform.Sample apply(Tensor img, Tensor bbox, Tensor label, boolean xFlip) {
        long h = img.size(1), w = img.size(2);
        Tensor outImg, outBbox, outLabel;
        try (PointerScope s = new PointerScope()) {
            Tensor x = img.div(new Scalar(255.0));
            Tensor b = bbox.clone();
            if (xFlip) {
                x = Preprocess.flipImage(x, false, true);
                b = Preprocess.flipBbox(b, h, w, false, true);
            }
            outImg = x.retainReference();
            outBbox = b.retainReference();
            outLabel = label.clone().retainReference();
        }
        return new Transform.Sample(outImg, outBbox, outLabel, 1.0);
    }
}
