package dev.frcnn.model.utils;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.Test;

import static dev.frcnn.testing.TensorAssert.assertAllClose;
import static dev.frcnn.testing.TensorAssert.assertShape;

/** torchvision's box_area / box_iou on hand-checked boxes (x1, y1, x2, y2), no +1. */
class BoxOpsTest {
    @Test
    void areasAndIous() {
        try (PointerScope s = new PointerScope()) {
            var a = Tensors.fromFloats(new float[]{0, 0, 10, 10, 5, 5, 15, 25}, 2, 4);
            var b = Tensors.fromFloats(new float[]{0, 0, 10, 10, 5, 0, 15, 10, 20, 20, 30, 30}, 3, 4);
            assertAllClose(BoxOps.boxArea(a), new float[]{100, 200}, 0, 0, "areas");
            var iou = BoxOps.boxIou(a, b);
            assertShape(iou, new long[]{2, 3}, "iou");
            // a0-b1: inter 5x10 = 50, union 150; a1-b0: 5x5 = 25 / 275; a1-b1: 10x5 = 50 / 250; disjoint: 0.
            assertAllClose(iou, new float[]{1f, 50f / 150f, 0f, 25f / 275f, 50f / 250f, 0f}, 0, 1e-7, "iou");
        }
    }
}
