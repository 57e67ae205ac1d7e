package dev.frcnn.model.roi;

import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.Tensor;

/**
 * The second stage of Faster R-CNN: per-RoI class scores and class-specific box offsets from the feature
 * map (the interface of the reference's {@code VGG16RoIHead}).
 */
public abstract class RoIHead extends Module {

    /**
     * Head outputs.
     *
     * @param roiClsLocs (R, nClass*4) float32 normalised offsets {@code (t_y, t_x, t_h, t_w)} per class
     * @param roiScores (R, nClass) float32 class logits, column 0 = background
     */
    public record Output(Tensor roiClsLocs, Tensor roiScores) {}

    /** @param name the C++ module name */
    protected RoIHead(String name) {
        super(name);
    }

    /** Number of classes including the background. */
    public abstract int nClass();

    /**
     * Runs the head.
     *
     * @param x (N, C, H, W) float32 feature map
     * @param rois (R, 4) float32 boxes (ymin, xmin, ymax, xmax) in input-image pixels, same device as {@code x}
     * @param roiIndices (R,) integer batch index of each RoI (any integer or float dtype), same device
     * @return the head outputs (with autograd to {@code x} and the head's parameters); R may be 0 (no proposal
     *     survived, e.g. on a tiny image), and then both outputs have 0 rows, as in torchvision's {@code RoIHeads}
     */
    public abstract Output forward(Tensor x, Tensor rois, Tensor roiIndices);
}
