package dev.frcnn.eval;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Hard cases of {@link CocoEval} stated by hand (the parity test covers the rest). */
class CocoEvalTest {
    private static CocoGroundTruth.Annotation gt(long id, double[] box, double area, boolean crowd) {
        return new CocoGroundTruth.Annotation(id, 1, 1, box, area, crowd);
    }

    private static CocoGroundTruth oneImage(CocoGroundTruth.Annotation... anns) {
        return new CocoGroundTruth(List.of(new CocoGroundTruth.Image(1, 100, 100, "a.jpg")), List.of(anns),
                List.of(new CocoGroundTruth.Category(1, "thing")));
    }

    private static CocoDetections dets(double[]... boxes) {
        CocoDetections.Detection[] d = new CocoDetections.Detection[boxes.length];
        for (int i = 0; i < boxes.length; i++) d[i] = new CocoDetections.Detection(i + 1, 1, 1, boxes[i], 0.9);
        return new CocoDetections(List.of(d));
    }

    @Test
    void crowdIouIsIntersectionOverDetectionArea() {
        double[] det = {0, 0, 10, 10}, g = {5, 0, 100, 10};
        assertThat(CocoEval.iou(det, g, true)).isEqualTo(50.0 / 100.0);
        assertThat(CocoEval.iou(det, g, false)).isEqualTo(50.0 / (100.0 + 1000.0 - 50.0));
    }

    @Test
    void zeroWidthOrHeightBoxHasIouZeroEvenWithItself() {
        double[] w0 = {3, 3, 0, 10}, h0 = {3, 3, 10, 0};
        assertThat(CocoEval.iou(w0, w0, false)).isEqualTo(0.0);
        assertThat(CocoEval.iou(h0, h0, true)).isEqualTo(0.0);
        assertThat(CocoEval.iou(new double[] {0, 0, 10, 10}, new double[] {10, 0, 10, 10}, false)).isEqualTo(0.0);
    }

    @Test
    void onEqualIouTheLaterGroundTruthWins() {
        double[] box = {10, 10, 20, 20};
        CocoEval.Result r = CocoEval.evaluate(oneImage(gt(7, box, 400, false), gt(3, box, 400, false)),
                dets(box), CocoEval.Params.defaults());
        assertThat(r.detectionMatches()).hasSize(1);
        for (long m : r.detectionMatches().get(0).matchedGtId()) assertThat(m).isEqualTo(3);
        // One of two GTs found at every threshold: recall 0.5.
        assertThat(r.stats()[8]).isEqualTo(0.5);
    }

    @Test
    void areaBoundsAreInclusiveAndUseTheAreaField() {
        // w*h is 100 (small) but the area field, 1024, decides: small AND medium, not large.
        CocoEval.Result r = CocoEval.evaluate(oneImage(gt(1, new double[] {0, 0, 10, 10}, 1024, false)),
                dets(new double[] {0, 0, 10, 10}), CocoEval.Params.defaults());
        int m = 2;
        assertThat(r.recall(0, 0, 1, m)).isEqualTo(1.0);
        assertThat(r.recall(0, 0, 2, m)).isEqualTo(1.0);
        assertThat(r.recall(0, 0, 3, m)).isEqualTo(-1.0);
        assertThat(r.stats()[9]).isEqualTo(1.0);
        assertThat(r.stats()[10]).isEqualTo(1.0);
        assertThat(r.stats()[11]).isEqualTo(-1.0);
    }

    @Test
    void detectionInsideACrowdRegionIsIgnoredNotAFalsePositive() {
        CocoEval.Result r = CocoEval.evaluate(oneImage(gt(1, new double[] {0, 0, 50, 50}, 2500, false),
                        gt(2, new double[] {60, 60, 40, 40}, 1600, true)),
                dets(new double[] {0, 0, 50, 50}, new double[] {70, 70, 10, 10}), CocoEval.Params.defaults());
        assertThat(r.stats()[0]).isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-15));
        CocoEval.DetectionMatch inCrowd = r.detectionMatches().get(1);
        assertThat(inCrowd.matchedGtId()[0]).isEqualTo(2);
        assertThat(inCrowd.ignored()[0]).isTrue();
    }

    @Test
    void categoryWithoutGroundTruthIsMinusOneAndWithoutDetectionsZero() {
        CocoGroundTruth g = new CocoGroundTruth(List.of(new CocoGroundTruth.Image(1, 100, 100, "a.jpg")),
                List.of(gt(1, new double[] {0, 0, 10, 10}, 100, false)),
                List.of(new CocoGroundTruth.Category(1, "a"), new CocoGroundTruth.Category(2, "b")));
        CocoDetections d = new CocoDetections(List.of(new CocoDetections.Detection(1, 1, 2, new double[] {0, 0, 5, 5}, 0.5)));
        CocoEval.Result r = CocoEval.evaluate(g, d, CocoEval.Params.defaults());
        assertThat(r.perCategoryAp()).containsExactly(0.0, -1.0);
        assertThat(r.recall(0, 0, 0, 2)).isEqualTo(0.0);
        assertThat(r.recall(0, 1, 0, 2)).isEqualTo(-1.0);
    }

    @Test
    void detectionOnAnUnknownImageIsRefused() {
        CocoDetections d = new CocoDetections(List.of(new CocoDetections.Detection(1, 99, 1, new double[] {0, 0, 5, 5}, 0.5)));
        assertThatThrownBy(() -> CocoEval.evaluate(oneImage(), d, CocoEval.Params.defaults()))
                .isInstanceOf(dev.frcnn.error.UserInputException.class).hasMessageContaining("image 99");
    }

    @Test
    void linspaceAndStableOrderAndNumpySum() {
        assertThat(CocoEval.linspace(0.5, 0.95, 10)[8]).isEqualTo(0.8999999999999999);
        assertThat(CocoEval.linspace(0, 1, 101)[35]).isEqualTo(0.35000000000000003);
        assertThat(CocoEval.stableOrderDescending(new double[] {0.5, 0.9, 0.5, 0.9, 0.1}))
                .containsExactly(1, 3, 0, 2, 4);
        double[] v = new double[300];
        double seq = 0;
        for (int i = 0; i < v.length; i++) {
            v[i] = 1.0 / (i + 1);
            seq += v[i];
        }
        assertThat(CocoEval.numpySum(v, 0, v.length)).isCloseTo(seq, org.assertj.core.data.Offset.offset(1e-13));
    }
}
