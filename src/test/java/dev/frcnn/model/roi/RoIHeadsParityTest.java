package dev.frcnn.model.roi;

import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TensorAssert;
import dev.frcnn.testing.TvFpnFixture;
import dev.frcnn.testing.TvFpnModels;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Parity of {@link RoIHeads} ({@link TwoMLPHead}, {@link FastRCNNPredictor}, {@code postprocess_detections}) with
 * torchvision 0.14 ({@code tv_fpn_forward.json}) on the stored proposals and the model's FPN levels: class logits
 * and box regression of the first 50 RoIs ({@code max|a-b| <= 1e-5 * max|b|}), the logits' row sums of all RoIs,
 * and the detections in the resized frame ({@code det_boxes_resized_frame}; the README's per-label set match).
 */
class RoIHeadsParityTest {
    private static final double SCALED = 1e-5;
    /**
     * The README's end-to-end rule (per-label set match, boxes atol 2e-3 px, scores atol 2e-5): the fixture stores the
     * logits of 50 RoIs only, so the postprocess runs on logits computed here from the model's own FPN levels
     * (scores measured within 1.1e-6 on the public set), not on stored ones (the README's exact order and 1e-6 are
     * for stored inputs).
     */
    private static final double BOX_ATOL = 2e-3;
    private static final double SCORE_ATOL = 2e-5;

    private static Golden g;
    private static TvFpnModels.Features features;
    private static RoIHeads heads;

    @BeforeAll
    static void build() {
        g = TvFpnFixture.forward();
        features = TvFpnModels.features();
        heads = TvFpnModels.model().roiHeads();
    }

    @Test
    void headOutputsAndDetectionsMatch() {
        try (PointerScope s = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            List<Tensor> levels = features.levels().subList(0, heads.boxRoIPool().numLevels());
            Tensor proposals = g.tensor("proposals");
            FastRCNNPredictor.Output out = heads.predict(levels, List.of(proposals), dev.frcnn.model.TorchvisionFasterRCNN.hw(features.batch().imageSizes()));
            long rows = g.shape("class_logits_first50")[0];
            TensorAssert.assertScaledClose(out.classLogits().narrow(0, 0, rows), g.floats("class_logits_first50"), SCALED,
                    0, "class_logits_first50");
            TensorAssert.assertScaledClose(out.boxRegression().narrow(0, 0, rows), g.floats("box_regression_first50"),
                    SCALED, 0, "box_regression_first50");
            float[] logits = g.floats("class_logits_first50");
            double maxLogit = 0;
            for (float v : logits) maxLogit = Math.max(maxLogit, Math.abs(v));
            double[] rowsum = Tensors.toDoubleArray(out.classLogits().to(ScalarType.Double).sum(new long[]{1}, false,
                    new ScalarTypeOptional()));
            double[] want = g.doubles("class_logits_rowsum");
            long k = out.classLogits().size(1);
            for (int r = 0; r < want.length; r++) {
                assertThat(Math.abs(rowsum[r] - want[r])).as("logit row %d sum", r)
                        .isLessThanOrEqualTo(SCALED * maxLogit * k);
            }

            RoIHeads.Detections d = heads.postprocessDetections(out.classLogits(), out.boxRegression(), List.of(proposals),
                    dev.frcnn.model.TorchvisionFasterRCNN.hw(features.batch().imageSizes())).get(0);
            TvFpnFixture.assertDetectionsMatch(d.boxes(), d.scores(), d.labels(), g.floats("det_boxes_resized_frame"),
                    g.floats("det_scores"), g.longs("det_labels"), BOX_ATOL, SCORE_ATOL);
        }
    }
}
