package dev.frcnn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.frcnn.testing.TinyModels;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code bench --what infer --callers N}: the throughput of N concurrent callers joins the infer JSON. */
class BenchCallersTest {
    @Test
    void inferJsonGainsCallersAndImagesPerSecond() throws Exception {
        List<String> args = new ArrayList<>(List.of("bench", "--what", "infer"));
        args.addAll(TinyModels.setOptions(TinyModels.settings(TinyModels.Size.SMALL)));
        args.addAll(List.of("--reps", "2", "--warmup", "0", "--callers", "2", "--json"));
        CliTest.Run r = CliTest.run(args.toArray(String[]::new));
        assertThat(r.code()).as(r.err()).isZero();
        List<String> lines = r.out().lines().toList();
        JsonNode j = new ObjectMapper().readTree(lines.get(lines.size() - 1));
        assertThat(j.fieldNames()).toIterable().contains("what", "device", "threads", "reps", "input_hw", "infer_ms",
                "callers", "images_per_s");
        assertThat(j.get("callers").asInt()).isEqualTo(2);
        assertThat(j.get("images_per_s").asDouble()).isPositive().isFinite();
    }

    @Test
    void callersBelowOneIsBadUsage() {
        CliTest.Run r = CliTest.run("bench", "--what", "infer", "--callers", "0");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--callers");
    }
}
