package dev.frcnn.assembly;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.frcnn.config.Config;
import dev.frcnn.data.CocoCategories;
import dev.frcnn.io.Checkpoints;
import dev.frcnn.io.WeightsFormatException;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.TinyModels;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The typed checkpoint schema: what it writes is what it reads, in the documented meta.json keys. */
class CheckpointTest {
    @TempDir
    Path dir;

    @Test
    void metaTensorsAndOptimizerStateRoundTrip() throws IOException {
        Config cfg = TinyModels.config("lr=0.002");
        Checkpoint.Meta meta = new Checkpoint.Meta(cfg, List.of("a", "b"), 3, 17, 1234L, 0.625, 2, 0.0002,
                new double[]{0.0002, 0.0004});
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("head.score.weight", Tensors.fromFloats(new float[]{1, 2, 3, 4, 5, 6}, 2, 3));
        Path f = dir.resolve("x.ckpt");
        new Checkpoint(t, meta, new byte[]{7, 8, 9}).save(f);

        Checkpoint back = Checkpoint.load(f);
        assertThat(back.meta().config()).isEqualTo(cfg);
        assertThat(back.meta().classNames()).containsExactly("a", "b");
        assertThat(back.meta().epoch()).isEqualTo(3);
        assertThat(back.meta().iteration()).isEqualTo(17);
        assertThat(back.meta().globalStep()).isEqualTo(1234L);
        assertThat(back.meta().bestMap()).isEqualTo(0.625);
        assertThat(back.meta().bestEpoch()).isEqualTo(2);
        assertThat(back.meta().lr()).isEqualTo(0.0002);
        assertThat(back.meta().groupLrs()).containsExactly(0.0002, 0.0004);
        assertThat(back.optimizerState()).containsExactly(7, 8, 9);
        assertThat(Tensors.toFloatArray(back.tensors().get("head.score.weight"))).containsExactly(1, 2, 3, 4, 5, 6);

        ObjectNode raw = Checkpoints.load(f).meta();
        assertThat(raw.fieldNames()).toIterable().contains("kind", "format", "config", "class_names", "epoch",
                "iteration", "global_step", "best_map", "best_epoch", "lr", "group_lrs");
        assertThat(raw.get("kind").asText()).isEqualTo(Checkpoint.KIND);
        assertThat(Checkpoints.load(f).blobs()).containsOnlyKeys(Checkpoint.OPTIMIZER_BLOB);
    }

    @Test
    void aCheckpointWithoutOptimizerStateHasNoBlobAndNoGroupLrs() throws IOException {
        Checkpoint.Meta meta = new Checkpoint.Meta(Config.defaults(), List.of("a"), 0, 0, 0, -1, -1, 0.001, null);
        Path f = dir.resolve("best.ckpt");
        new Checkpoint(Map.of("w", Tensors.fromFloats(new float[]{1}, 1)), meta, null).save(f);
        Checkpoint back = Checkpoint.load(f);
        assertThat(back.optimizerState()).isNull();
        assertThat(back.meta().groupLrs()).isNull();
        assertThat(Checkpoints.load(f).meta().has("group_lrs")).isFalse();
    }

    @Test
    void cocoCategoriesRoundTripAndOldCheckpointsNumberTheClasses() throws IOException {
        CocoCategories cats = new CocoCategories(List.of(90, 1), List.of("toothbrush", "person"));
        Checkpoint.Meta meta = new Checkpoint.Meta(Config.defaults(), List.of("person", "toothbrush"), 0, 0, 0, -1, -1,
                0.001, null, cats);
        Path f = dir.resolve("coco.ckpt");
        new Checkpoint(Map.of("w", Tensors.fromFloats(new float[]{1}, 1)), meta, null).save(f);
        Checkpoint back = Checkpoint.load(f);
        assertThat(back.meta().categories()).isEqualTo(cats);
        assertThat(back.meta().categoriesOrNumbered().id(1)).isEqualTo(90);
        assertThat(Checkpoints.load(f).meta().get("categories").toString())
                .isEqualTo("[{\"id\":1,\"name\":\"person\"},{\"id\":90,\"name\":\"toothbrush\"}]");

        // a checkpoint from before the key: loads, its classes numbered 1..K (bin/frcnn convert's ids)
        Path old = dir.resolve("old.ckpt");
        new Checkpoint(Map.of("w", Tensors.fromFloats(new float[]{1}, 1)), new Checkpoint.Meta(Config.defaults(),
                List.of("a", "b"), 0, 0, 0, -1, -1, 0.001, null), null).save(old);
        assertThat(Checkpoints.load(old).meta().has("categories")).isFalse();
        Checkpoint.Meta m = Checkpoint.load(old).meta();
        assertThat(m.categories()).isNull();
        assertThat(m.categoriesOrNumbered()).isEqualTo(new CocoCategories(List.of(1, 2), List.of("a", "b")));

        // categories naming other classes than class_names are refused, naming the file
        ObjectNode raw = Checkpoints.load(f).meta();
        raw.putArray("class_names").add("cat").add("dog");
        assertThatThrownBy(() -> Checkpoint.Meta.fromJson(f, raw)).isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining("coco.ckpt").hasMessageContaining("categories");
    }

    @Test
    void metadataWithoutConfigOrClassNamesIsRejectedNamingTheFile() {
        ObjectMapper om = new ObjectMapper();
        Path f = dir.resolve("m.ckpt");
        assertThatThrownBy(() -> Checkpoint.Meta.fromJson(f, om.createObjectNode()))
                .isInstanceOf(WeightsFormatException.class).hasMessageContaining("m.ckpt").hasMessageContaining("no config");
        ObjectNode noNames = om.createObjectNode();
        noNames.putObject("config");
        assertThatThrownBy(() -> Checkpoint.Meta.fromJson(f, noNames))
                .isInstanceOf(WeightsFormatException.class).hasMessageContaining("no class names");
        ObjectNode badCfg = om.createObjectNode();
        badCfg.putObject("config").put("learning_rate", 1);
        badCfg.putArray("class_names").add("a");
        assertThatThrownBy(() -> Checkpoint.Meta.fromJson(f, badCfg))
                .isInstanceOf(WeightsFormatException.class).hasMessageContaining("learning_rate");
    }
}
