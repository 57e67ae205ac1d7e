package dev.frcnn.ops;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link BatchedNms}: torchvision's size switch, and both algorithms on hand-made boxes. */
class BatchedNmsTest {
    @Test
    void pathFollowsTorchvisionsSizeSwitch() {
        assertThat(BatchedNms.Path.of(1000, false)).isEqualTo(BatchedNms.Path.COORDINATE_TRICK);
        assertThat(BatchedNms.Path.of(1001, false)).isEqualTo(BatchedNms.Path.VANILLA);
        assertThat(BatchedNms.Path.of(5000, true)).isEqualTo(BatchedNms.Path.COORDINATE_TRICK);
        assertThat(BatchedNms.Path.of(5001, true)).isEqualTo(BatchedNms.Path.VANILLA);
    }

    @Test
    void overlappingBoxesOfDifferentCategoriesDoNotSuppressEachOther() {
        try (PointerScope s = new PointerScope()) {
            // boxes 0 and 1 overlap (IoU 0.81) in category 0; box 2 is box 0 again in category 1; box 3 is apart.
            Tensor boxes = Tensors.fromFloats(new float[]{
                    0, 0, 10, 10,
                    0, 0, 10, 9,
                    0, 0, 10, 10,
                    50, 50, 60, 60}, 4, 4);
            Tensor scores = Tensors.fromFloats(new float[]{0.9f, 0.8f, 0.7f, 0.95f}, 4);
            Tensor idxs = Tensors.fromLongs(new long[]{0, 0, 1, 0}, 4);
            long[] want = {3, 0, 2};
            assertThat(Tensors.toLongArray(BatchedNms.vanilla(boxes, scores, idxs, 0.5))).containsExactly(want);
            assertThat(Tensors.toLongArray(BatchedNms.coordinateTrick(boxes, scores, idxs, 0.5))).containsExactly(want);
            assertThat(Tensors.toLongArray(BatchedNms.batchedNms(boxes, scores, idxs, 0.5))).containsExactly(want);
        }
    }

    @Test
    void vanillaOrdersEqualScoresByIndex() {
        try (PointerScope s = new PointerScope()) {
            Tensor boxes = Tensors.fromFloats(new float[]{0, 0, 1, 1, 5, 5, 6, 6, 10, 10, 11, 11}, 3, 4);
            Tensor scores = Tensors.fromFloats(new float[]{0.5f, 0.5f, 0.6f}, 3);
            Tensor idxs = Tensors.fromLongs(new long[]{1, 0, 2}, 3);
            assertThat(Tensors.toLongArray(BatchedNms.vanilla(boxes, scores, idxs, 0.5))).containsExactly(2, 0, 1);
        }
    }
}
