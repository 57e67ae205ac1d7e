package dev.frcnn.model;

import dev.frcnn.model.roi.RoIHead;
import dev.frcnn.model.roi.RoIPostprocess;
import dev.frcnn.model.roi.Thresholds;
import dev.frcnn.model.rpn.ProposalCreator;
import dev.frcnn.model.rpn.RegionProposalNetwork;
import dev.frcnn.tensor.Precision;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.FormulaWeights;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TensorAssert;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Parity of the VGG16 Faster R-CNN forward path with {@code model_forward.json} (formula weights, eval mode).
 * Each stage is tested from the fixture's own stored inputs so that differences do not compound; the
 * end-to-end tests compare the discrete results the README says are robust.
 */
class ModelForwardParityTest {
    private static final String FIXTURE = "model_forward.json";
    /** max|a-b| <= 1e-5 * max|b| for dense float outputs. */
    private static final double SCALED = 1e-5;
    private static final double BOX_ATOL = 2e-3;
    private static final double PROB_ATOL = 1e-5;

    private static Golden g;
    private static FasterRCNNVGG16 model;

    @BeforeAll
    static void buildModel() {
        g = Golden.load(FIXTURE);
        int nFg = g.params().get("n_fg_class").asInt();
        List<String> names = nFg == FasterRCNN.VOC_BBOX_LABEL_NAMES.size() ? FasterRCNN.VOC_BBOX_LABEL_NAMES
                : java.util.stream.IntStream.range(0, nFg).mapToObj(i -> "class" + i).toList();
        model = new FasterRCNNVGG16(nFg, new double[]{0.5, 1, 2}, new double[]{8, 16, 32}, false, names, Precision.FP32);
        FormulaWeights.fill(model, g);
        model.eval();
    }

    private static double scale() {
        return g.params().get("scale").asDouble();
    }

    private static ImageSize originalSize() {
        var hw = g.params().get("original_hw");
        return new ImageSize(hw.get(0).asInt(), hw.get(1).asInt());
    }

    @Test
    void formulaWeightsReproduceEveryParamSample() {
        List<FormulaWeights.Param> params = FormulaWeights.params(g);
        long[] ks = g.longs("param_sample_k");
        long[] is = g.longs("param_sample_i");
        float[] vs = g.floats("param_sample_value");
        assertThat(ks.length).isPositive().isEqualTo(is.length).isEqualTo(vs.length);
        StringTensorDict named = model.named_parameters(true);
        try (PointerScope s = new PointerScope()) {
            for (int j = 0; j < ks.length; j++) {
                int k = (int) ks[j];
                float v = FormulaWeights.value(k, is[j], params.get(k).bound());
                assertThat(v).as("formula value k=%d i=%d", k, is[j]).isEqualTo(vs[j]);
                float inModel = named.get(k).value().reshape(-1).get(is[j]).item_float();
                assertThat(inModel).as("model value k=%d i=%d", k, is[j]).isEqualTo(vs[j]);
            }
        }
    }

    @Test
    void stateDictKeysShapesAndFrozenLayersMatchTheReference() {
        List<FormulaWeights.Param> params = FormulaWeights.params(g);
        StringTensorDict named = model.named_parameters(true);
        assertThat(named.size()).isEqualTo(params.size());
        assertThat(model.named_buffers(true).size()).as("buffers").isZero();
        for (FormulaWeights.Param p : params) {
            assertThat(named.get(p.k()).key().getString()).isEqualTo(p.name());
            Tensor t = named.get(p.k()).value();
            assertThat(Tensors.shape(t)).as(p.name()).containsExactly(p.shape());
            assertThat(t.requires_grad()).as(p.name() + " requires_grad").isEqualTo(p.requiresGrad());
        }
    }

    @Test
    void featuresMatch() {
        try (PointerScope s = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            Tensor features = model.extract(g.tensor("input"));
            TensorAssert.assertShape(features, g.shape("features"), "features");
            TensorAssert.assertScaledClose(features, g.floats("features"), SCALED, 0, "features");
        }
    }

    @Test
    void rpnDenseOutputsAndAnchorsFromStoredFeatures() {
        try (PointerScope s = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            Tensor features = g.tensor("features");
            RegionProposalNetwork.Heads h = model.rpn().heads(features);
            TensorAssert.assertShape(h.rpnLocs(), g.shape("rpn_locs"), "rpn_locs");
            TensorAssert.assertScaledClose(h.rpnLocs(), g.floats("rpn_locs"), SCALED, 0, "rpn_locs");
            TensorAssert.assertShape(h.rpnScores(), g.shape("rpn_scores"), "rpn_scores");
            TensorAssert.assertScaledClose(h.rpnScores(), g.floats("rpn_scores"), SCALED, 0, "rpn_scores");
            TensorAssert.assertAllClose(h.rpnFgScores().reshape(-1), g.floats("rpn_fg_scores"), PROB_ATOL, 0,
                    "rpn_fg_scores");
            Tensor anchor = model.rpn().anchors(features.size(2), features.size(3), features.device());
            TensorAssert.assertShape(anchor, g.shape("anchor"), "anchor");
            TensorAssert.assertExact(anchor, g.floats("anchor"), "anchor");
        }
    }

    @Test
    void proposalCreatorFromStoredRpnOutputs() {
        try (PointerScope s = new PointerScope()) {
            long[] in = g.shape("input");
            Tensor rois = new ProposalCreator().apply(g.tensor("rpn_locs").select(0, 0), g.tensor("rpn_fg_scores"),
                    g.tensor("anchor"), in[2], in[3], scale(), false);
            assertRois(rois, "rois");
        }
    }

    @Test
    void rpnForwardFromStoredFeatures() {
        try (PointerScope s = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            long[] in = g.shape("input");
            RegionProposalNetwork.Output o = model.rpn().forward(g.tensor("features"), in[2], in[3], scale());
            assertRois(o.rois(), "rpn.forward rois");
            TensorAssert.assertExact(o.roiIndices(), g.longs("roi_indices"), "roi_indices");
            TensorAssert.assertExact(o.anchor(), g.floats("anchor"), "anchor");
        }
    }

    @Test
    void headFromStoredFeaturesAndRois() {
        try (PointerScope s = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            RoIHead.Output o = model.head().forward(g.tensor("features"), g.tensor("rois"), g.tensor("roi_indices"));
            TensorAssert.assertShape(o.roiClsLocs(), g.shape("roi_cls_locs"), "roi_cls_locs");
            TensorAssert.assertScaledClose(o.roiClsLocs(), g.floats("roi_cls_locs"), SCALED, 0, "roi_cls_locs");
            TensorAssert.assertShape(o.roiScores(), g.shape("roi_scores"), "roi_scores");
            TensorAssert.assertScaledClose(o.roiScores(), g.floats("roi_scores"), SCALED, 0, "roi_scores");
        }
    }

    @Test
    void decodeFromStoredHeadOutputs() {
        try (PointerScope s = new PointerScope()) {
            RoIPostprocess.Decoded d = model.decode(g.tensor("roi_cls_locs"), g.tensor("roi_scores"), g.tensor("rois"),
                    scale(), originalSize());
            TensorAssert.assertShape(d.clsBbox(), g.shape("predict_cls_bbox"), "predict_cls_bbox");
            TensorAssert.assertAllClose(d.clsBbox(), g.floats("predict_cls_bbox"), BOX_ATOL, 0, "predict_cls_bbox");
            TensorAssert.assertShape(d.prob(), g.shape("predict_prob"), "predict_prob");
            TensorAssert.assertAllClose(d.prob(), g.floats("predict_prob"), PROB_ATOL, 0, "predict_prob");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"evaluate", "visualize"})
    void suppressFromStoredIntermediates(String preset) {
        try (PointerScope s = new PointerScope()) {
            RoIPostprocess.Suppressed sup = model.postprocess().suppress(g.tensor("predict_cls_bbox"),
                    g.tensor("predict_prob"), Thresholds.preset(preset));
            assertDetectionSets(model.toDetections(sup), preset);
        }
    }

    @Test
    void forwardEndToEnd() {
        try (PointerScope s = new PointerScope(); NoGradGuard ng = new NoGradGuard()) {
            FasterRCNN.Output o = model.forward(g.tensor("input"), scale());
            assertRois(o.rois(), "forward rois");
            TensorAssert.assertExact(o.roiIndices(), g.longs("roi_indices"), "roi_indices");
            TensorAssert.assertScaledClose(o.roiClsLocs(), g.floats("roi_cls_locs"), SCALED, 0, "roi_cls_locs");
            TensorAssert.assertScaledClose(o.roiScores(), g.floats("roi_scores"), SCALED, 0, "roi_scores");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"evaluate", "visualize"})
    void predictEndToEnd(String preset) {
        // Start in train mode: predict must run in eval mode (test-time proposal counts, as the reference's
        // @nograd predict after eval()) and put the model back in train mode.
        model.train(true);
        try (PointerScope s = new PointerScope()) {
            Tensor img = g.tensor("input").select(0, 0);
            List<List<Detection>> dets = model.predict(List.of(img), List.of(originalSize()), Thresholds.preset(preset));
            assertThat(dets).hasSize(1);
            assertThat(model.is_training()).as("train mode restored after predict").isTrue();
            assertDetectionSets(dets.get(0), preset);
        } finally {
            model.eval();
        }
    }

    private static void assertRois(Tensor rois, String what) {
        TensorAssert.assertShape(rois, g.shape("rois"), what + " shape (count)");
        // order: each row must match the stored row at the same position
        TensorAssert.assertAllClose(rois, g.floats("rois"), BOX_ATOL, 0, what);
    }

    /** Compares detections per class as multisets: label and box (atol 2e-3 px), score (atol 1e-5). */
    private static void assertDetectionSets(List<Detection> actual, String preset) {
        String p = "predict_" + preset + "_";
        float[] eb = g.floats(p + "bboxes");
        long[] el = g.longs(p + "labels");
        float[] es = g.floats(p + "scores");
        var presetParams = g.params().path("presets").path(preset);
        assertThat(actual).as(preset + " detection count").hasSize(el.length);
        if (presetParams.has("n_detections")) {
            assertThat(actual).hasSize(presetParams.get("n_detections").asInt());
        }
        int nFg = model.nClass() - 1;
        int[] countA = new int[nFg], countE = new int[nFg];
        for (Detection d : actual) countA[d.classIndex()]++;
        for (long l : el) countE[(int) l]++;
        assertThat(countA).as(preset + " per-class counts").containsExactly(countE);
        List<Detection> unmatched = new ArrayList<>(actual);
        for (int j = 0; j < el.length; j++) {
            Detection match = null;
            for (Detection d : unmatched) {
                if (d.classIndex() == el[j]
                        && close(d.ymin(), eb[4 * j]) && close(d.xmin(), eb[4 * j + 1])
                        && close(d.ymax(), eb[4 * j + 2]) && close(d.xmax(), eb[4 * j + 3])
                        && Math.abs(d.score() - es[j]) <= PROB_ATOL) {
                    match = d;
                    break;
                }
            }
            if (match == null) {
                long label = el[j];
                fail(preset + ": no detection matches expected #" + j + " label " + el[j] + " box ["
                        + eb[4 * j] + ", " + eb[4 * j + 1] + ", " + eb[4 * j + 2] + ", " + eb[4 * j + 3] + "] score "
                        + es[j] + "; candidates of that class: "
                        + unmatched.stream().filter(d -> d.classIndex() == label).toList());
            }
            assertThat(match.label()).isEqualTo(model.classNames().get((int) el[j]));
            unmatched.remove(match);
        }
    }

    private static boolean close(float a, float b) {
        return Math.abs((double) a - b) <= BOX_ATOL;
    }
}
