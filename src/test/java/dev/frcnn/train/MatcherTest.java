package dev.frcnn.train;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import static dev.frcnn.testing.TensorAssert.assertExact;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** torchvision Matcher semantics on small hand-made IoU matrices (gt rows, prediction columns). */
class MatcherTest {
    @Test
    void thresholdsGiveMinusOneAndMinusTwoAndFirstGtWinsTies() {
        try (PointerScope s = new PointerScope()) {
            Tensor iou = Tensors.fromFloats(new float[]{
                    0.8f, 0.29f, 0.3f, 0.69f, 0.6f,
                    0.8f, 0.10f, 0.1f, 0.10f, 0.7f}, 2, 5);
            // column 0: tie 0.8/0.8 -> gt 0; 0.29 < 0.3 -> -1; 0.3 in [0.3, 0.7) -> -2; 0.69 -> -2; 0.7 >= 0.7 -> gt 1
            assertExact(new Matcher(0.7, 0.3, false).match(iou), new long[]{0, -1, -2, -2, 1}, "matches");
        }
    }

    @Test
    void lowQualityMatchesRestoreEveryExactTieOfEachGtsMaximum() {
        try (PointerScope s = new PointerScope()) {
            // gt 0's best is 0.4 (predictions 1 and 3, an exact tie); gt 1's best is 0.9 (prediction 0).
            // Prediction 3's own argmax is gt 1 (0.45 > 0.4): it gets gt 1 back, not gt 0.
            Tensor iou = Tensors.fromFloats(new float[]{
                    0.1f, 0.4f, 0.2f, 0.4f,
                    0.9f, 0.0f, 0.1f, 0.45f}, 2, 4);
            assertExact(new Matcher(0.7, 0.3, true).match(iou), new long[]{1, 0, -1, 1}, "low-quality matches");
            assertExact(new Matcher(0.7, 0.3, false).match(iou), new long[]{1, -2, -1, -2}, "without low-quality");
        }
    }

    @Test
    void aGtWithoutOverlapMakesEveryZeroIouPredictionPositive() {
        try (PointerScope s = new PointerScope()) {
            Tensor iou = Tensors.fromFloats(new float[]{0f, 0f, 0f}, 1, 3);
            assertExact(new Matcher(0.7, 0.3, true).match(iou), new long[]{0, 0, 0}, "IoU-0 ties");
        }
    }

    @Test
    void emptyMatricesAndBadThresholdsAreRefused() {
        try (PointerScope s = new PointerScope()) {
            Matcher m = new Matcher(0.5, 0.5, false);
            assertThatThrownBy(() -> m.match(Tensors.fromFloats(new float[0], 0, 3)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no ground-truth boxes");
            assertThatThrownBy(() -> m.match(Tensors.fromFloats(new float[0], 2, 0)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no proposal boxes");
        }
        assertThatThrownBy(() -> new Matcher(0.3, 0.7, true)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("must be <= high threshold");
    }
}
