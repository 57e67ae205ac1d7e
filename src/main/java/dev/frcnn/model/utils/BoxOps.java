package dev.frcnn.model.utils;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;

import static org.bytedeco.pytorch.global.torch.clamp;
import static org.bytedeco.pytorch.global.torch.maximum;
import static org.bytedeco.pytorch.global.torch.minimum;
import static org.bytedeco.pytorch.global.torch.stack;

/**
 * torchvision's box operations on {@code (x1, y1, x2, y2)} boxes ({@code torchvision.ops.boxes}, 0.14): areas,
 * pairwise IoU, clipping to the image and the removal of small boxes, in float32 with no {@code +1} in widths and heights, in torchvision's operation order. The reference's
 * {@code (ymin, xmin, ymax, xmax)} counterpart is {@link BboxTools#bboxIou}; both stay.
 */
public final class BoxOps {
    private BoxOps() {}

    /**
     * Box areas; mirrors {@code box_area}: {@code (x2 - x1) * (y2 - y1)}.
     *
     * @param boxes (N, 4) float32 boxes {@code (x1, y1, x2, y2)} in pixels, any device
     * @return (N,) float32 areas on the boxes' device
     * @throws IllegalArgumentException if the shape is not (N, 4)
     */
    public static Tensor boxArea(Tensor boxes) {
        BboxTools.requireBoxes(boxes, "boxes");
        return boxes.select(1, 2).sub(boxes.select(1, 0)).mul(boxes.select(1, 3).sub(boxes.select(1, 1)));
    }

    /**
     * Pairwise intersection over union; mirrors {@code box_iou} ({@code _box_inter_union}).
     *
     * <p>Float32, in torchvision's order: {@code lt = max(a_lt, b_lt)}, {@code rb = min(a_rb, b_rb)},
     * {@code wh = clamp(rb - lt, min=0)}, {@code inter = w * h}, {@code union = (area_a + area_b) - inter},
     * {@code iou = inter / union}. Two zero-area boxes give NaN (0/0), as in torchvision.
     *
     * @param boxes1 (N, 4) float32 boxes {@code (x1, y1, x2, y2)} in pixels
     * @param boxes2 (M, 4) float32 boxes, same device
     * @return (N, M) float32 IoUs on the boxes' device
     * @throws IllegalArgumentException if a shape is not (., 4)
     */
    public static Tensor boxIou(Tensor boxes1, Tensor boxes2) {
        Tensor area1 = boxArea(boxes1);
        Tensor area2 = boxArea(boxes2);
        Tensor lt = maximum(boxes1.narrow(1, 0, 2).unsqueeze(1), boxes2.narrow(1, 0, 2));   // (N, M, 2)
        Tensor rb = minimum(boxes1.narrow(1, 2, 2).unsqueeze(1), boxes2.narrow(1, 2, 2));
        Tensor wh = clamp(rb.sub(lt), new ScalarOptional(new Scalar(0.0)), new ScalarOptional());
        Tensor inter = wh.select(2, 0).mul(wh.select(2, 1));
        Tensor union = area1.unsqueeze(1).add(area2).sub(inter);
        return inter.div(union);
    }

    /**
     * Boxes clipped to the image; mirrors {@code clip_boxes_to_image}: x clamped to [0, width], y to [0, height].
     *
     * @param boxes (..., 4K) float32, (x1, y1, x2, y2) repeated K times along the last dimension
     * @param height image height in pixels
     * @param width image width in pixels
     * @return the clipped boxes, same shape and device
     */
    public static Tensor clipBoxesToImage(Tensor boxes, long height, long width) {
        long[] shape = boxes.sizes().vec().get();
        long last = shape.length - 1;
        Tensor xs = boxes.slice(last, new org.bytedeco.pytorch.LongOptional(0), new org.bytedeco.pytorch.LongOptional(),
                2);
        Tensor ys = boxes.slice(last, new org.bytedeco.pytorch.LongOptional(1), new org.bytedeco.pytorch.LongOptional(),
                2);
        Scalar zero = new Scalar(0.0);
        xs = xs.clamp(new ScalarOptional(zero), new ScalarOptional(new Scalar((double) width)));
        ys = ys.clamp(new ScalarOptional(zero), new ScalarOptional(new Scalar((double) height)));
        return stack(new TensorVector(xs, ys), (int) shape.length).reshape(shape);
    }

    /**
     * The boxes whose sides are both at least {@code minSize}; mirrors {@code remove_small_boxes} (compared in
     * float32).
     *
     * @param boxes (R, 4) float32 (x1, y1, x2, y2)
     * @param minSize smallest side kept
     * @return (K,) int64 indices, ascending, on the boxes' device
     */
    public static Tensor removeSmallBoxes(Tensor boxes, double minSize) {
        Tensor ws = boxes.select(1, 2).sub(boxes.select(1, 0));
        Tensor hs = boxes.select(1, 3).sub(boxes.select(1, 1));
        Scalar m = new Scalar(minSize);
        return ws.ge(m).logical_and(hs.ge(m)).nonzero().reshape(-1);
    }

    /**
     * The reference's {@code (ymin, xmin, ymax, xmax)} boxes as torchvision's {@code (x1, y1, x2, y2)}, or back (the
     * same column swap both ways).
     *
     * @param boxes (R, 4) float32 boxes in pixels, any device
     * @return (R, 4) the same boxes with the columns in the other order, a new tensor
     * @throws IllegalArgumentException if the shape is not (R, 4)
     */
    public static Tensor swapAxes(Tensor boxes) {
        BboxTools.requireBoxes(boxes, "boxes");
        return stack(new TensorVector(boxes.select(1, 1), boxes.select(1, 0), boxes.select(1, 3), boxes.select(1, 2)), 1);
    }
}
