package dev.frcnn.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.frcnn.eval.CocoDetections;
import dev.frcnn.eval.CocoEval;
import dev.frcnn.eval.CocoGroundTruth;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The synthetic COCO input of {@link CocoEvalBench}, at a tenth of the benchmark's size: the counts asked for,
 * COCO's 80 category ids, boxes inside their images, the three area ranges and crowd regions present, exactly
 * the asked number of detections per image, the same bytes for the same seed, and an input that
 * {@link CocoEval} evaluates.
 */
class CocoEvalBenchTest {
    private static final int IMAGES = CocoEvalBench.IMAGES / 10, BOXES = CocoEvalBench.BOXES / 10;

    @Test
    void writesTheAskedCountsWithCocoIdsAndBoxesInsideTheirImages(@TempDir Path dir) throws Exception {
        CocoEvalBench.generate(dir, IMAGES, BOXES, 100, 7);
        ObjectMapper om = new ObjectMapper();
        JsonNode gt = om.readTree(dir.resolve(CocoEvalBench.GT_FILE).toFile());
        JsonNode dets = om.readTree(dir.resolve(CocoEvalBench.DETS_FILE).toFile());

        Set<Long> cats = new HashSet<>();
        for (JsonNode c : gt.get("categories")) cats.add(c.get("id").asLong());
        assertThat(cats).hasSize(80).contains(1L, 11L, 13L, 90L).doesNotContain(12L, 26L, 29L, 30L, 45L, 66L, 68L,
                69L, 71L, 83L, 91L, 0L);

        Map<Long, int[]> size = new HashMap<>();
        for (JsonNode im : gt.get("images")) {
            assertThat(size.put(im.get("id").asLong(), new int[] {im.get("width").asInt(), im.get("height").asInt()}))
                    .as("duplicate image id").isNull();
        }
        assertThat(size).hasSize(IMAGES);

        assertThat(gt.get("annotations")).hasSize(BOXES);
        Set<Long> annIds = new HashSet<>();
        int small = 0, medium = 0, large = 0, crowd = 0;
        for (JsonNode a : gt.get("annotations")) {
            assertThat(annIds.add(a.get("id").asLong())).isTrue();
            assertThat(a.get("id").asLong()).isPositive();
            assertThat(cats).contains(a.get("category_id").asLong());
            double[] b = box(a);
            int[] wh = size.get(a.get("image_id").asLong());
            assertThat(wh).as("image of annotation " + a.get("id")).isNotNull();
            assertInside(b, wh);
            double area = a.get("area").asDouble();
            assertThat(area).isPositive().isLessThanOrEqualTo(b[2] * b[3]);
            if (area < 32 * 32) small++;
            else if (area < 96 * 96) medium++;
            else large++;
            crowd += a.get("iscrowd").asInt();
        }
        assertThat(small).isGreaterThan(BOXES / 5);
        assertThat(medium).isGreaterThan(BOXES / 5);
        assertThat(large).isGreaterThan(BOXES / 20);
        assertThat(crowd).isBetween(1, BOXES / 20);

        assertThat(dets).hasSize(IMAGES * 100);
        Map<Long, Integer> perImage = new HashMap<>();
        for (JsonNode d : dets) {
            long img = d.get("image_id").asLong();
            perImage.merge(img, 1, Integer::sum);
            assertInside(box(d), size.get(img));
            assertThat(cats).contains(d.get("category_id").asLong());
            assertThat(d.get("score").asDouble()).isBetween(0.05, 1.0);
        }
        assertThat(perImage).hasSize(IMAGES);
        assertThat(perImage.values()).containsOnly(100);
    }

    @Test
    void sameSeedSameBytesAndCocoEvalRunsOnIt(@TempDir Path dir) throws Exception {
        Path a = dir.resolve("a"), b = dir.resolve("b"), c = dir.resolve("c");
        CocoEvalBench.generate(a, 50, 360, 100, 3);
        CocoEvalBench.generate(b, 50, 360, 100, 3);
        CocoEvalBench.generate(c, 50, 360, 100, 4);
        for (String f : new String[] {CocoEvalBench.GT_FILE, CocoEvalBench.DETS_FILE}) {
            assertThat(Files.readAllBytes(a.resolve(f))).as(f).isEqualTo(Files.readAllBytes(b.resolve(f)));
            assertThat(Files.readAllBytes(a.resolve(f))).as(f).isNotEqualTo(Files.readAllBytes(c.resolve(f)));
        }
        CocoEval.Result r = CocoEval.evaluate(CocoGroundTruth.read(a.resolve(CocoEvalBench.GT_FILE)),
                CocoDetections.read(a.resolve(CocoEvalBench.DETS_FILE)), CocoEval.Params.defaults());
        // Most boxes are found with a jitter of 8%: a detector of middling quality, not a degenerate one.
        assertThat(r.stats()[1]).as("AP50").isBetween(0.3, 0.95);
        assertThat(r.stats()[0]).as("AP").isBetween(0.1, r.stats()[1]);
    }

    @Test
    void refusesCountsOutOfRange(@TempDir Path dir) {
        assertThatThrownBy(() -> CocoEvalBench.generate(dir, 0, 0, 100, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> CocoEvalBench.generate(dir, 2, 181, 100, 1)).isInstanceOf(IllegalArgumentException.class);
    }

    private static double[] box(JsonNode n) {
        JsonNode b = n.get("bbox");
        return new double[] {b.get(0).asDouble(), b.get(1).asDouble(), b.get(2).asDouble(), b.get(3).asDouble()};
    }

    private static void assertInside(double[] b, int[] wh) {
        assertThat(b[0]).isGreaterThanOrEqualTo(0);
        assertThat(b[1]).isGreaterThanOrEqualTo(0);
        assertThat(b[2]).isGreaterThanOrEqualTo(0.99);
        assertThat(b[3]).isGreaterThanOrEqualTo(0.99);
        assertThat(b[0] + b[2]).isLessThanOrEqualTo(wh[0] + 0.01);
        assertThat(b[1] + b[3]).isLessThanOrEqualTo(wh[1] + 0.01);
    }
}
