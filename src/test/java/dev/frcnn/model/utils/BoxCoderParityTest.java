package dev.frcnn.model.utils;

import dev.frcnn.model.rpn.AnchorGenerator;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.FpnGridSizes;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TvFpnParams;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.frcnn.testing.TensorAssert.assertAllClose;
import static dev.frcnn.testing.TensorAssert.assertShape;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * torchvision's BoxCoder against the torchvision fixtures: decode of the RPN deltas against the anchors
 * ({@code tv_fpn_forward.json}'s {@code pre_nms_boxes}), encode of the RPN targets (weights 1,1,1,1) and of the RoI
 * targets (weights 10,10,5,5) of {@code tv_fpn_train_step.json}. Settings from the fixtures' {@code params}.
 */
class BoxCoderParityTest {
    /** Regression targets: the README's atol 1e-5 (from stored boxes). */
    private static final double TARGET_ATOL = 1e-5;
    /**
     * Decoded boxes are pixel coordinates up to ~1000 px, where one float32 ulp is 6e-5 px: atol 1e-5 plus 2 ulp
     * relative (exp/log may differ in the last bit between LibTorch builds). Measured: bit-exact here, as are the targets.
     */
    private static final double BOX_ATOL = 1e-5;
    private static final double BOX_RTOL = 2.5e-7;

    @Test
    void decodeOfTheRpnDeltasGivesThePreNmsBoxes() {
        Golden g = Golden.load("tv_fpn_forward.json");
        AnchorGenerator gen = TvFpnParams.anchorGenerator();
        BoxCoder coder = TvFpnParams.rpnBoxCoder(g);
        long[] batched = g.longs("transform_batched_shape");
        try (PointerScope s = new PointerScope()) {
            Tensor anchors = gen.anchors(batched[2], batched[3], FpnGridSizes.of(batched[2], batched[3]), new Device("cpu"));
            Tensor idx = g.tensor("pre_nms_idx");
            Tensor deltas = g.tensor("rpn_deltas_flat").index_select(0, idx);
            Tensor boxes = coder.decode(deltas, anchors.index_select(0, idx));
            assertShape(boxes, new long[]{idx.size(0), 1, 4}, "decoded");
            assertAllClose(boxes.view(-1, 4), g.floats("pre_nms_boxes"), BOX_ATOL, BOX_RTOL, "pre_nms_boxes");
        }
    }

    @Test
    void encodeGivesTheRpnRegressionTargets() {
        Golden g = Golden.load("tv_fpn_train_step.json");
        BoxCoder coder = TvFpnParams.rpnBoxCoder(g);
        try (PointerScope s = new PointerScope()) {
            for (int i = 0; i < 2; i++) {
                Tensor pos = g.tensor("rpn_sampled_pos_" + i);
                Tensor matched = g.tensor("rpn_matched_idxs_" + i).index_select(0, pos);
                Tensor gt = g.tensor("gt_boxes_resized_" + i).index_select(0, matched);
                Tensor targets = coder.encode(gt, g.tensor("rpn_pos_anchors_" + i));
                assertAllClose(targets, g.floats("rpn_pos_regression_targets_" + i), TARGET_ATOL, 0,
                        "rpn_pos_regression_targets_" + i);
            }
        }
    }

    @Test
    void encodeGivesTheRoiRegressionTargetsAndDecodeInvertsIt() {
        Golden g = Golden.load("tv_fpn_train_step.json");
        BoxCoder coder = TvFpnParams.boxHeadCoder(g);
        try (PointerScope s = new PointerScope()) {
            for (int i = 0; i < 2; i++) {
                Tensor rois = g.tensor("roi_proposals_" + i).index_select(0, g.tensor("roi_sampled_" + i));
                Tensor gt = g.tensor("gt_boxes_resized_" + i).index_select(0, g.tensor("roi_sampled_matched_idxs_" + i));
                List<Tensor> targets = coder.encode(List.of(gt), List.of(rois));
                assertAllClose(targets.get(0), g.floats("roi_regression_targets_" + i), TARGET_ATOL, 0,
                        "roi_regression_targets_" + i);
                // decode(encode(gt, roi), roi) = gt up to float32 rounding for the positives (IoU >= 0.5, so their
                // dw, dh stay below the clamp; a negative's far-away gt 0 may not).
                Tensor pos = g.tensor("roi_sampled_labels_" + i).gt(new Scalar(0)).nonzero().view(-1);
                assertThat(pos.size(0)).as("positive rois of image " + i).isPositive();
                Tensor back = coder.decode(targets.get(0).index_select(0, pos), rois.index_select(0, pos)).view(-1, 4);
                assertAllClose(back, Tensors.toFloatArray(gt.index_select(0, pos)), 1e-3, 0,
                        "decode(encode(gt)) of the positives of image " + i);
            }
        }
    }

    @Test
    void decodeClampsDwDhAndDividesByTheWeights() {
        BoxCoder coder = new BoxCoder(10, 10, 5, 5);
        assertThat(BoxCoder.DEFAULT_BBOX_XFORM_CLIP).isEqualTo(4.135166556742356);
        try (PointerScope s = new PointerScope()) {
            Tensor box = Tensors.fromFloats(new float[]{0, 0, 10, 20}, 1, 4);
            // K = 2 groups: (dx=10 -> 1 width, dy=0, dw=5*log(2), dh=0) and a huge dw/dh clamped at log(1000/16).
            float dw = (float) (5 * Math.log(2));
            Tensor codes = Tensors.fromFloats(new float[]{10, 0, dw, 0, 0, 0, 100, 100}, 1, 8);
            Tensor out = coder.decode(codes, box);
            assertShape(out, new long[]{1, 2, 4}, "decoded");
            float c = (float) (1000.0 / 16);
            assertAllClose(out, new float[]{5, 0, 25, 20, 5 - 5 * c, 10 - 10 * c, 5 + 5 * c, 10 + 10 * c}, 1e-3, 1e-6,
                    "decoded with clamp");
        }
        assertThatThrownBy(() -> new BoxCoder(1, 1, 1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("4 weights");
        assertThatThrownBy(() -> new BoxCoder(1, 0, 1, 1)).isInstanceOf(IllegalArgumentException.class);
    }
}
