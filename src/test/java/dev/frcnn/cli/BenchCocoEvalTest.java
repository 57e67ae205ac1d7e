package dev.frcnn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.frcnn.bench.CocoEvalBench;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code bench --what coco-eval --input DIR}: times the COCO metric on the files in DIR and prints its stats. */
class BenchCocoEvalTest {
    @Test
    void timesTheEvaluationOfTheFilesInTheInputDirectory(@TempDir Path dir) throws Exception {
        CocoEvalBench.generate(dir, 40, 300, 100, 5); // present: bench uses them instead of writing the full size
        CliTest.Run r = CliTest.run("bench", "--what", "coco-eval", "--input", dir.toString(), "--reps", "3",
                "--warmup", "1", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        List<String> lines = r.out().lines().toList();
        JsonNode j = new ObjectMapper().readTree(lines.get(lines.size() - 1));
        assertThat(j.get("what").asText()).isEqualTo("coco-eval");
        assertThat(j.get("images").asInt()).isEqualTo(40);
        assertThat(j.get("gt_boxes").asInt()).isEqualTo(300);
        assertThat(j.get("detections").asInt()).isEqualTo(4000);
        assertThat(j.get("categories").asInt()).isEqualTo(80);
        assertThat(j.get("evaluate_ms")).hasSize(3);
        assertThat(j.get("evaluate_ms_min").asDouble()).isLessThanOrEqualTo(j.get("evaluate_ms_median").asDouble());
        assertThat(j.get("evaluate_ms_median").asDouble()).isLessThanOrEqualTo(j.get("evaluate_ms_max").asDouble());
        assertThat(j.get("stats")).hasSize(12);
        assertThat(j.get("per_category_ap")).hasSize(80);
    }
}
