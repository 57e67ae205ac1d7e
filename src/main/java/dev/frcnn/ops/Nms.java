package dev.frcnn.ops;

import org.bytedeco.pytorch.Tensor;

/**
 * Non-maximum suppression with {@code torchvision.ops.nms} semantics, on CPU or CUDA tensors.
 * (API stub: implemented by the native ops.)
 */
public final class Nms {
    private Nms() {}

    /**
     * @param boxes (R, 4) float32, (ymin, xmin, ymax, xmax) or (x1, y1, x2, y2): the result does not depend on the axis order
     * @param scores (R,) float32, no NaN
     * @param iouThreshold a box is suppressed when its IoU with a kept, higher-scored box is greater than this
     * @return int64 (K,) indices of the kept boxes in descending score order, on the boxes' device
     */
    public static Tensor nms(Tensor boxes, Tensor scores, double iouThreshold) {
        return nms(boxes, scores, iouThreshold, -1);
    }

    /** As {@link #nms(Tensor, Tensor, double)}, keeping at most {@code maxKeep} boxes ({@code < 0}: no limit). */
    public static Tensor nms(Tensor boxes, Tensor scores, double iouThreshold, long maxKeep) {
        throw new UnsupportedOperationException("Nms: native implementation pending");
    }
}
