package dev.frcnn.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.model.FasterRCNN;
import dev.frcnn.model.FasterRCNNVGG16;
import dev.frcnn.tensor.ConvolutionBackward;
import dev.frcnn.tensor.Precision;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.FormulaWeights;
import dev.frcnn.testing.Golden;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.stream.IntStream;

import static dev.frcnn.testing.TensorAssert.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Parity of {@link FasterRCNNTrainer#forward} + backward with train_step.json: the four losses and the total,
 * the listed gradient L2 norms, the full bias gradients, and every intermediate (rois, sampled RoIs and their
 * targets, anchor targets, head outputs), with the deterministic first-n sampling the fixture was made with.
 */
class TrainStepParityTest {
    private static Golden g;
    private static FasterRCNN model;
    private static FasterRCNNTrainer.Trace trace;

    @BeforeAll
    static void runOneStep() {
        g = Golden.load("train_step.json");
        Golden weights = Golden.load("model_forward.json");
        int nFg = weights.params().get("n_fg_class").asInt();
        List<String> names = IntStream.range(0, nFg).mapToObj(i -> "c" + i).toList();
        model = new FasterRCNNVGG16(nFg, new double[]{0.5, 1, 2}, new double[]{8, 16, 32}, false, names, Precision.FP32);
        FormulaWeights.fill(model, weights);
        model.train(true);
        JsonNode p = g.params();
        FasterRCNNTrainer trainer = new FasterRCNNTrainer(model, p.get("rpn_sigma").asDouble(), p.get("roi_sigma").asDouble(),
                1e-3, 5e-4, false, Sampler.firstN());
        model.zero_grad(true);
        trace = trainer.trace(g.tensor("input"), g.tensor("gt_bbox").unsqueeze(0), g.tensor("gt_label").unsqueeze(0),
                p.get("scale").asDouble());
        ConvolutionBackward.backward(trace.losses().totalLoss());
    }

    @Test
    void lossesMatch() {
        FasterRCNNTrainer.Losses l = trace.losses();
        Tensor[] got = {l.rpnLocLoss(), l.rpnClsLoss(), l.roiLocLoss(), l.roiClsLoss(), l.totalLoss()};
        for (int i = 0; i < got.length; i++) {
            String name = FasterRCNNTrainer.Losses.NAMES.get(i);
            double expected = g.scalar(name);
            assertThat(got[i].item_double()).as(name).isCloseTo(expected, within(1e-5 * Math.abs(expected)));
        }
    }

    @Test
    void intermediatesMatch() {
        try (PointerScope s = new PointerScope()) {
            assertShape(trace.rpn().rois(), g.shape("rois"), "rois");
            assertAllClose(trace.rpn().rois(), g.floats("rois"), 2e-3, 0, "rois");
            assertExact(trace.roiTargets().gtRoiLabel(), g.longs("gt_roi_label"), "gt_roi_label");
            assertAllClose(trace.roiTargets().sampleRoi(), g.floats("sample_roi"), 2e-3, 0, "sample_roi");
            assertRelFloor1(trace.roiTargets().gtRoiLoc(), g.floats("gt_roi_loc"), 1e-5, "gt_roi_loc");
            assertExact(trace.rpnTargets().label(), g.longs("gt_rpn_label"), "gt_rpn_label");
            assertRelFloor1(trace.rpnTargets().loc(), g.floats("gt_rpn_loc"), 1e-6, "gt_rpn_loc");
            assertScaledClose(trace.head().roiClsLocs(), g.floats("roi_cls_loc"), 1e-5, 0, "roi_cls_loc");
            assertScaledClose(trace.head().roiScores(), g.floats("roi_score"), 1e-5, 0, "roi_score");
        }
    }

    @Test
    void gradientNormsAndBiasGradientsMatch() {
        JsonNode names = g.params().get("grad_norm_names");
        double[] norms = g.doubles("grad_l2_norms");
        assertThat(names.size()).isEqualTo(norms.length).isPositive();
        StringTensorDict params = model.named_parameters(true);
        try (PointerScope s = new PointerScope()) {
            for (int i = 0; i < norms.length; i++) {
                String name = names.get(i).asText();
                double[] grad = Tensors.toDoubleArray(params.get(name).grad());
                double sum = 0;
                for (double v : grad) sum += v * v;
                double rtol = name.startsWith("extractor.") ? 1e-3 : 1e-4;
                assertThat(Math.sqrt(sum)).as("grad norm of " + name).isCloseTo(norms[i], within(rtol * norms[i]));
            }
            for (java.util.Iterator<String> it = g.tensorNames(); it.hasNext(); ) {
                String t = it.next();
                if (!t.startsWith("grad_") || t.equals("grad_l2_norms")) continue;
                String param = t.substring("grad_".length());
                assertScaledClose(params.get(param).grad(), g.floats(t), 1e-5, 0, t);
            }
        }
        // Frozen layers get no gradient, as in the reference.
        for (JsonNode f : g.params().get("frozen_params")) {
            assertThat(params.get(f.asText()).requires_grad()).as(f.asText()).isFalse();
            assertThat(params.get(f.asText()).grad().defined()).as(f.asText() + " grad").isFalse();
        }
    }
}
