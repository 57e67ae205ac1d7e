package dev.frcnn.eval;

import dev.frcnn.testing.Golden;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Parity of {@link CocoEval} with pycocotools' {@code COCOeval(iouType='bbox')}: {@code coco_eval.json} made
 * from {@code coco_eval_gt.json} and {@code coco_eval_dets.json} (see the fixture README's section "COCO box
 * evaluation"). Float arrays to 1e-12 with -1 ("undefined") entries exactly; ids and flags exactly.
 */
class CocoEvalParityTest {
    private static final Golden G = Golden.load("coco_eval.json");
    private static final double ATOL = 1e-12;

    private static CocoEval.Result run(boolean useCats) throws IOException {
        CocoGroundTruth gt = CocoGroundTruth.read(Golden.file(G.params().path("gt_file").asText("coco_eval_gt.json")));
        CocoDetections dt = CocoDetections.read(Golden.file(G.params().path("dets_file").asText("coco_eval_dets.json")));
        return CocoEval.evaluate(gt, dt, CocoEval.Params.defaults().withUseCats(useCats));
    }

    /** Same length; -1 exactly where the reference has -1; elsewhere |a - e| <= ATOL. */
    private static void assertArray(double[] actual, String tensor, String what) {
        double[] expected = G.doubles(tensor);
        assertThat(actual).as(what + " length").hasSize(expected.length);
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i], a = actual[i];
            if (Double.isNaN(e) || Double.isNaN(a)) fail(what + "[" + i + "]: NaN (expected " + e + ", got " + a + ")");
            if (e == -1 || a == -1) {
                if (a != e) fail(what + "[" + i + "]: expected " + e + ", got " + a + " (-1 must match exactly)");
            } else if (!(Math.abs(a - e) <= ATOL)) {
                fail(what + "[" + i + "]: expected " + e + ", got " + a + " (diff " + (a - e) + ")");
            }
        }
    }

    private static void assertShape(int[] shape, String tensor) {
        long[] s = G.shape(tensor);
        assertThat(shape.length).as(tensor + " rank").isEqualTo(s.length);
        for (int i = 0; i < s.length; i++) assertThat((long) shape[i]).as(tensor + " dim " + i).isEqualTo(s[i]);
    }

    @Test
    void defaultParamsEqualTheReferenceBitForBit() {
        CocoEval.Params p = CocoEval.Params.defaults();
        double[] iou = G.doubles("iouThrs"), rec = G.doubles("recThrs"), area = G.doubles("areaRng");
        assertThat(p.iouThrs()).hasSize(iou.length);
        for (int i = 0; i < iou.length; i++) {
            assertThat(Double.doubleToRawLongBits(p.iouThrs()[i])).as("iouThrs[%d] = %s", i, iou[i])
                    .isEqualTo(Double.doubleToRawLongBits(iou[i]));
        }
        assertThat(p.iouThrs()[8]).isEqualTo(0.8999999999999999);
        assertThat(p.recThrs()).hasSize(rec.length);
        for (int i = 0; i < rec.length; i++) {
            assertThat(Double.doubleToRawLongBits(p.recThrs()[i])).as("recThrs[%d] = %s", i, rec[i])
                    .isEqualTo(Double.doubleToRawLongBits(rec[i]));
        }
        assertThat(p.areaRng()).hasSize(area.length / 2);
        for (int a = 0; a < area.length / 2; a++) {
            assertThat(p.areaRng().get(a).min()).isEqualTo(area[2 * a]);
            assertThat(p.areaRng().get(a).max()).isEqualTo(area[2 * a + 1]);
            assertThat(p.areaRng().get(a).label()).isEqualTo(G.params().path("areaRngLbl").get(a).asText());
        }
        long[] md = G.longs("maxDets");
        assertThat(p.maxDets()).hasSize(md.length);
        for (int m = 0; m < md.length; m++) assertThat((long) p.maxDets()[m]).isEqualTo(md[m]);
        assertThat(p.useCats()).isTrue();
    }

    @Test
    void useCatsOnMatchesStatsPerCategoryAndArrays() throws IOException {
        CocoEval.Result r = run(true);
        assertThat(r.imgIds()).containsExactly(G.longs("imgIds"));
        assertThat(r.catIds()).containsExactly(G.longs("catIds"));
        assertShape(r.precisionShape(), "precision");
        assertShape(r.precisionShape(), "scores");
        assertShape(r.recallShape(), "recall");
        assertArray(r.stats(), "stats", "stats");
        assertArray(r.perCategoryAp(), "per_category_ap", "per_category_ap");
        assertArray(r.perCategoryAp50(), "per_category_ap50", "per_category_ap50");
        assertArray(r.perCategoryAp75(), "per_category_ap75", "per_category_ap75");
        assertArray(r.precision(), "precision", "precision");
        assertArray(r.recall(), "recall", "recall");
        assertArray(r.scores(), "scores", "scores");
    }

    @Test
    void useCatsOffMatchesStatsAndArrays() throws IOException {
        CocoEval.Result r = run(false);
        assertThat(r.numCategories()).isEqualTo(1);
        assertShape(r.precisionShape(), "precision_nocats");
        assertShape(r.recallShape(), "recall_nocats");
        assertArray(r.stats(), "stats_nocats", "stats_nocats");
        assertArray(r.precision(), "precision_nocats", "precision_nocats");
        assertArray(r.recall(), "recall_nocats", "recall_nocats");
    }

    @Test
    void everyDetectionMatchesTheSameGroundTruthAtEveryThreshold() throws IOException {
        List<CocoEval.DetectionMatch> ms = run(true).detectionMatches();
        long[] ids = G.longs("dt_eval_ids"), img = G.longs("dt_eval_image_id"), cat = G.longs("dt_eval_category_id");
        long[] match = G.longs("dt_eval_matches"), ign = G.longs("dt_eval_ignore");
        int T = (int) G.shape("dt_eval_matches")[1];
        assertThat(ms).hasSize(ids.length);
        for (int j = 0; j < ids.length; j++) {
            CocoEval.DetectionMatch m = ms.get(j);
            String what = "detection #" + j + " (id " + ids[j] + ")";
            assertThat(m.detectionId()).as(what + " id").isEqualTo(ids[j]);
            assertThat(m.imageId()).as(what + " image").isEqualTo(img[j]);
            assertThat(m.categoryId()).as(what + " category").isEqualTo(cat[j]);
            assertThat(m.matchedGtId()).as(what + " matches").hasSize(T);
            for (int t = 0; t < T; t++) {
                assertThat(m.matchedGtId()[t]).as(what + " match at threshold " + t).isEqualTo(match[j * T + t]);
                assertThat(m.ignored()[t] ? 1L : 0L).as(what + " ignore at threshold " + t).isEqualTo(ign[j * T + t]);
            }
        }
    }
}
