package dev.frcnn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.frcnn.io.ReferenceCheckpointFiles;
import dev.frcnn.model.FasterRCNN;
import dev.frcnn.model.FasterRCNNVGG16;
import dev.frcnn.testing.FormulaWeights;
import dev.frcnn.testing.Golden;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * End to end as a user runs it: the formula-weight model of model_forward.json saved as the reference's trained
 * checkpoint ({@code torch.save({'model': state_dict})}), then {@code frcnn detect} on the fixture's image at the
 * fixture's min/max size. The detections in the JSON must equal the reference's {@code predict} per class as sets
 * (label + box within 2e-3 px, score within 1e-5), for both presets: decoding, preprocessing, .pth reading, the
 * model and the CLI all agree with the reference.
 */
class DetectReferenceCheckpointParityTest {
    @TempDir
    static Path dir;
    static Path pth;
    static Golden g;

    @BeforeAll
    static void writeReferenceCheckpoint() throws IOException {
        g = Golden.load("model_forward.json");
        assertThat(g.params().get("n_fg_class").asInt()).isEqualTo(FasterRCNN.VOC_BBOX_LABEL_NAMES.size());
        FasterRCNNVGG16 model = new FasterRCNNVGG16();
        FormulaWeights.fill(model, g);
        pth = ReferenceCheckpointFiles.write(dir.resolve("fasterrcnn_reference.pth"), model);
        model.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"visualize", "evaluate"})
    void detectOnTheReferenceCheckpointGivesTheReferenceDetections(String preset) throws IOException {
        Path out = dir.resolve("out-" + preset);
        CliTest.Run r = CliTest.run("detect", "--weights", pth.toString(), "--preset", preset,
                "--set", "min_size=" + g.params().get("min_size").asInt(), "--set", "max_size=" + g.params().get("max_size").asInt(),
                "--out", out.toString(), Golden.file(g.params().get("image_file").asText()).toString());
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode json = new ObjectMapper().readTree(out.resolve("demo.json").toFile());
        assertThat(json.get("height").asInt()).isEqualTo(g.params().get("original_hw").get(0).asInt());
        assertThat(json.get("width").asInt()).isEqualTo(g.params().get("original_hw").get(1).asInt());

        float[] box = g.floats("predict_" + preset + "_bboxes");
        long[] label = g.longs("predict_" + preset + "_labels");
        float[] score = g.floats("predict_" + preset + "_scores");
        List<JsonNode> got = new ArrayList<>();
        json.get("detections").forEach(got::add);
        assertThat(got).as(preset + " detection count").hasSize(label.length);
        boolean[] used = new boolean[got.size()];
        for (int i = 0; i < label.length; i++) {
            int match = -1;
            for (int j = 0; j < got.size() && match < 0; j++) {
                JsonNode d = got.get(j);
                if (used[j] || d.get("class_index").asLong() != label[i]) continue;
                double[] b = {d.get("ymin").asDouble(), d.get("xmin").asDouble(), d.get("ymax").asDouble(), d.get("xmax").asDouble()};
                boolean close = Math.abs(d.get("score").asDouble() - score[i]) <= 1e-5;
                for (int k = 0; k < 4; k++) close &= Math.abs(b[k] - box[4 * i + k]) <= 2e-3;
                if (close) match = j;
            }
            if (match < 0) fail(preset + ": no detection matches reference #" + i + " (label " + label[i] + ", score " + score[i] + ")");
            used[match] = true;
            assertThat(got.get(match).get("label").asText()).isEqualTo(FasterRCNN.VOC_BBOX_LABEL_NAMES.get((int) label[i]));
        }
    }
}
