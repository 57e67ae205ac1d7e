package dev.frcnn.data;

import org.bytedeco.pytorch.Tensor;

/**
 * What the training loop does to each decoded sample before a step: a model family's train transform. The
 * reference family's is {@link Transform} (resize, normalise, flip); torchvision's is
 * {@link TorchvisionTrainTransform} (to [0, 1], flip; its model resizes and normalises). The loop draws the flip
 * ({@code Seeds.flip}), so the same seed flips the same images whatever the family.
 */
public interface SampleTransform {
    /**
     * @param img (3, H, W) float32 RGB 0..255
     * @param bbox (R, 4) float32 (ymin, xmin, ymax, xmax) in pixels of {@code img}
     * @param label (R,) int64 0-based labels
     * @param xFlip flip horizontally
     * @return the sample the family's trainer takes: its image, its boxes in that image's pixels (same order),
     *     the labels, and the image's size over the original's ({@link Transform.Sample#scale()}); the caller closes it
     */
    Transform.Sample apply(Tensor img, Tensor bbox, Tensor label, boolean xFlip);
}
