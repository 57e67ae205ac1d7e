package dev.frcnn.ops;

import dev.frcnn.ops.nativeops.NativeOps;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Non-maximum suppression with {@code torchvision.ops.nms} semantics (torchvision 0.14 CPU kernel), on CPU or CUDA
 * tensors, through the native library ({@code frcnn_nms_cpu} / {@code frcnn_nms_cuda}).
 *
 * <p>Semantics: boxes are visited in descending score order with a stable sort (equal scores: lower index first);
 * a box is suppressed when {@code (double) iou > iouThreshold} against an earlier kept box, where
 * {@code iou = inter / (area_i + area_j - inter)} is computed in float32 without {@code +1}
 * ({@code inter = max(0, min(a2) - max(a1)) * max(0, min(b2) - max(b1))}). A zero-area box pair gives
 * {@code 0/0 = NaN}, which never suppresses. The reference's {@code ProposalCreator} and
 * {@code FasterRCNN._suppress} call this with (ymin, xmin, ymax, xmax) boxes; the result does not depend on the axis
 * order.
 *
 * <p>Tensors created here (the result and any contiguous copies) belong to the caller's
 * {@link org.bytedeco.javacpp.PointerScope}, as for any LibTorch op.
 */
public final class Nms {
    private Nms() {}

    /**
     * @param boxes (R, 4) float32, (ymin, xmin, ymax, xmax) or (x1, y1, x2, y2): the result does not depend on the axis order
     * @param scores (R,) float32, no NaN
     * @param iouThreshold a box is suppressed when its IoU with a kept, higher-scored box is greater than this
     * @return int64 (K,) indices of the kept boxes in descending score order, on the boxes' device
     * @throws IllegalArgumentException for a wrong dtype (not float32) or shape, tensors on different devices, a NaN
     *     score or a NaN threshold
     * @throws UnsupportedOperationException for CUDA tensors when the native library has no CUDA support or no device
     */
    public static Tensor nms(Tensor boxes, Tensor scores, double iouThreshold) {
        return nms(boxes, scores, iouThreshold, -1);
    }

    /**
     * As {@link #nms(Tensor, Tensor, double)}, keeping at most {@code maxKeep} boxes ({@code < 0}: no limit). The
     * result is the first {@code maxKeep} entries of the unlimited result (the work stops early), as the
     * reference's {@code keep[:n_post_nms]}.
     */
    public static Tensor nms(Tensor boxes, Tensor scores, double iouThreshold, long maxKeep) {
        OpSupport.requireDefined(boxes, "boxes");
        OpSupport.requireDefined(scores, "scores");
        if (boxes.dim() != 2 || boxes.size(1) != 4) {
            throw new IllegalArgumentException("boxes must have shape (R, 4), got " + Tensors.shapeString(boxes));
        }
        if (scores.dim() != 1 || scores.size(0) != boxes.size(0)) {
            throw new IllegalArgumentException("scores must have shape (R,) = (" + boxes.size(0) + ",), got "
                    + Tensors.shapeString(scores));
        }
        OpSupport.requireFloat(boxes, "boxes");
        OpSupport.requireFloat(scores, "scores");
        OpSupport.requireSameDevice(boxes, "boxes", scores, "scores");
        if (Double.isNaN(iouThreshold)) throw new IllegalArgumentException("iouThreshold is NaN");
        boolean cuda = OpSupport.isCuda(boxes, "boxes");
        long n = boxes.size(0);
        Tensor keep = boxes.new_empty(new long[]{n}, new TensorOptions(ScalarType.Long));
        if (n == 0) return keep;
        Tensor b = boxes.detach().contiguous();
        Tensor s = scores.detach().contiguous();
        NativeOps lib = NativeOps.get();
        long k = cuda
                ? lib.nmsCuda(OpSupport.seg(b), OpSupport.seg(s), n, iouThreshold, maxKeep, OpSupport.seg(keep),
                        OpSupport.stream(b))
                : lib.nmsCpu(OpSupport.seg(b), OpSupport.seg(s), n, iouThreshold, maxKeep, OpSupport.seg(keep));
        return k == n ? keep : keep.narrow(0, 0, k).clone();
    }
}
