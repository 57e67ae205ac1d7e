package dev.frcnn.ops;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.TreeSet;

import static org.bytedeco.pytorch.global.torch.cat;

/**
 * {@code torchvision.ops.batched_nms} (torchvision 0.14): NMS done independently per category, with torchvision's
 * choice of algorithm by size, which changes results at IoU ties and near the threshold:
 * <ul>
 *   <li>more than {@value #CPU_VANILLA_BOXES} boxes on the CPU (more than {@value #CUDA_VANILLA_BOXES} on CUDA):
 *       {@code _batched_nms_vanilla}, one {@link Nms#nms} per category, the kept indices in ascending order, then
 *       sorted by score, descending. torchvision sorts with an unstable sort; here it is stable (equal scores keep index order), so rows of exactly equal score may come in another order than torchvision's (one pair of the 1000 proposals of the public fixture);</li>
 *   <li>otherwise {@code _batched_nms_coordinate_trick}: every box is shifted by {@code category * (max coordinate
 *       + 1)} in float32 so that boxes of different categories never overlap, then one {@link Nms#nms}.</li>
 * </ul>
 * Tensors created here belong to the caller's {@link org.bytedeco.javacpp.PointerScope}.
 */
public final class BatchedNms {
    /** torchvision's CPU switch: {@code boxes.numel() > 4000}, i.e. more than 1000 boxes. */
    public static final long CPU_VANILLA_BOXES = 1000;
    /** torchvision's CUDA switch: {@code boxes.numel() > 20000}, i.e. more than 5000 boxes. */
    public static final long CUDA_VANILLA_BOXES = 5000;

    private BatchedNms() {}

    /** Which algorithm {@link #batchedNms} runs for a number of boxes on a device. */
    public enum Path {
        /** Per-category NMS, then a sort by score. */
        VANILLA,
        /** One NMS over boxes offset by category. */
        COORDINATE_TRICK;

        /**
         * @param boxes the number of boxes
         * @param cuda whether they are on a CUDA device
         * @return torchvision's choice
         */
        public static Path of(long boxes, boolean cuda) {
            return boxes > (cuda ? CUDA_VANILLA_BOXES : CPU_VANILLA_BOXES) ? VANILLA : COORDINATE_TRICK;
        }
    }

    /**
     * @param boxes (R, 4) float32 (x1, y1, x2, y2)
     * @param scores (R,) float32
     * @param idxs (R,) int64 category of each box
     * @param iouThreshold boxes with IoU &gt; this against a kept box of the same category are dropped
     * @return (K,) int64 indices of the kept boxes, by decreasing score
     * @throws IllegalArgumentException as {@link Nms#nms}
     */
    public static Tensor batchedNms(Tensor boxes, Tensor scores, Tensor idxs, double iouThreshold) {
        if (boxes.size(0) == 0) return Nms.nms(boxes, scores, iouThreshold);
        return switch (Path.of(boxes.size(0), Tensors.isCuda(boxes))) {
            case VANILLA -> vanilla(boxes, scores, idxs, iouThreshold);
            case COORDINATE_TRICK -> coordinateTrick(boxes, scores, idxs, iouThreshold);
        };
    }

    /** torchvision's {@code _batched_nms_vanilla}; arguments and result as {@link #batchedNms}. */
    public static Tensor vanilla(Tensor boxes, Tensor scores, Tensor idxs, double iouThreshold) {
        TreeSet<Long> categories = new TreeSet<>();
        for (long c : Tensors.toLongArray(idxs.cpu())) categories.add(c);
        TensorVector kept = new TensorVector();
        for (long c : categories) {
            Tensor curr = idxs.eq(new Scalar(c)).nonzero().reshape(-1);
            Tensor keep = Nms.nms(boxes.index_select(0, curr), scores.index_select(0, curr), iouThreshold);
            kept.push_back(curr.index_select(0, keep));
        }
        // torch.where(keep_mask) lists the kept boxes in ascending index order
        Tensor keepIndices = cat(kept).sort(0, false).get0();
        Tensor order = scores.index_select(0, keepIndices).sort(new BoolOptional(true), 0, true).get1();
        return keepIndices.index_select(0, order);
    }

    /** torchvision's {@code _batched_nms_coordinate_trick}; arguments and result as {@link #batchedNms}. */
    public static Tensor coordinateTrick(Tensor boxes, Tensor scores, Tensor idxs, double iouThreshold) {
        Tensor maxCoordinate = boxes.max();
        Tensor offsets = idxs.to(ScalarType.Float).mul(maxCoordinate.add(new Scalar(1.0)));
        return Nms.nms(boxes.add(offsets.unsqueeze(1)), scores, iouThreshold);
    }
}
