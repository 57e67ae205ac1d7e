package dev.frcnn.model.utils;

import dev.frcnn.testing.Golden;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import static dev.frcnn.testing.TensorAssert.assertRelFloor1;
import static dev.frcnn.testing.TensorAssert.assertRowScaled;
import static dev.frcnn.testing.TensorAssert.assertAllClose;
import static dev.frcnn.testing.TensorAssert.assertShape;

/** Parity of loc2bbox, bbox2loc and bbox_iou with bbox_tools.json (tolerances of the golden README). */
class BboxToolsParityTest {
    private static final String FILE = "bbox_tools.json";

    @Test
    void loc2bboxMatches() {
        Golden g = Golden.load(FILE);
        try (PointerScope s = new PointerScope()) {
            Tensor out = BboxTools.loc2bbox(g.tensor("loc2bbox_src_bbox"), g.tensor("loc2bbox_loc"));
            assertShape(out, g.shape("loc2bbox_out"), "loc2bbox");
            assertRowScaled(out, g.floats("loc2bbox_out"), 4, 1e-6, "loc2bbox");
        }
    }

    @Test
    void bbox2locMatches() {
        Golden g = Golden.load(FILE);
        try (PointerScope s = new PointerScope()) {
            Tensor out = BboxTools.bbox2loc(g.tensor("bbox2loc_src_bbox"), g.tensor("bbox2loc_dst_bbox"));
            assertShape(out, g.shape("bbox2loc_out"), "bbox2loc");
            assertRelFloor1(out, g.floats("bbox2loc_out"), 1e-6, "bbox2loc");
        }
    }

    @Test
    void bboxIouMatches() {
        Golden g = Golden.load(FILE);
        try (PointerScope s = new PointerScope()) {
            Tensor out = BboxTools.bboxIou(g.tensor("bbox_iou_a"), g.tensor("bbox_iou_b"));
            assertShape(out, g.shape("bbox_iou_out"), "bbox_iou");
            assertAllClose(out, g.floats("bbox_iou_out"), 0.0, 1e-6, "bbox_iou");
        }
    }

    @Test
    void bboxIouIsBitExact() {
        // The README: float32 arithmetic in the stated order is bit-exact (numerically; -0.0 == 0.0).
        Golden g = Golden.load(FILE);
        try (PointerScope s = new PointerScope()) {
            Tensor out = BboxTools.bboxIou(g.tensor("bbox_iou_a"), g.tensor("bbox_iou_b"));
            assertAllClose(out, g.floats("bbox_iou_out"), 0.0, 0.0, "bbox_iou (exact)");
        }
    }
}
