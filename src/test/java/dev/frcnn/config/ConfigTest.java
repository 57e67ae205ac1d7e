package dev.frcnn.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ConfigTest {
    @TempDir
    Path dir;

    @Test
    void defaultsAreTheReferences() {
        Config c = Config.defaults();
        assertThat(c.minSize()).isEqualTo(600);
        assertThat(c.maxSize()).isEqualTo(1000);
        assertThat(c.rpnSigma()).isEqualTo(3.0);
        assertThat(c.roiSigma()).isEqualTo(1.0);
        assertThat(c.weightDecay()).isEqualTo(0.0005);
        assertThat(c.lrDecay()).isEqualTo(0.1);
        assertThat(c.lr()).isEqualTo(1e-3);
        assertThat(c.epoch()).isEqualTo(14);
        assertThat(c.useDrop()).isFalse();
        assertThat(c.caffePretrain()).isFalse();
    }

    @Test
    void evalMetricDefaultsToVoc07OrUse07MetricAndIsValidated() {
        assertThat(Config.defaults().evalMetric()).isNull();
        assertThat(Config.defaults().evalMetricMode()).isEqualTo(EvalMetric.VOC07);
        assertThat(Config.defaults().withOverrides(List.of("use_07_metric=false")).evalMetricMode())
                .isEqualTo(EvalMetric.VOC);
        assertThat(Config.defaults().withOverrides(List.of("eval_metric=coco")).evalMetricMode())
                .isEqualTo(EvalMetric.COCO);
        // an explicit metric wins over use_07_metric
        assertThat(Config.defaults().withOverrides(List.of("use_07_metric=false", "eval_metric=voc07")).evalMetricMode())
                .isEqualTo(EvalMetric.VOC07);
        assertThatThrownBy(() -> Config.defaults().withOverrides(List.of("eval_metric=map")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("eval_metric must be one of voc07, voc, coco")
                .hasMessageContaining("map");
        assertThat(EvalMetric.parseList(List.of("voc07,coco", "voc", "coco")))
                .containsExactly(EvalMetric.VOC07, EvalMetric.COCO, EvalMetric.VOC);
        assertThatThrownBy(() -> EvalMetric.parseList(List.of("voc07,"))).isInstanceOf(IllegalArgumentException.class);
        // a config written with the key reads back equal
        Config c = Config.defaults().withOverrides(List.of("eval_metric=coco"));
        assertThat(Config.fromJson(new com.fasterxml.jackson.databind.ObjectMapper().valueToTree(c))).isEqualTo(c);
    }

    @Test
    void shippedVoc07ConfigLoadsAndEqualsTheDefaults() {
        Path f = Path.of("configs/voc07-vgg16.json");
        assertThat(Config.load(f)).isEqualTo(Config.defaults());
    }

    @Test
    void shippedResNetConfigsLoad() {
        for (String depth : List.of("resnet50", "resnet101")) {
            Config c = Config.load(Path.of("configs/voc07-" + depth + ".json"));
            assertThat(c.backbone()).isEqualTo(depth);
            assertThat(c.roiOp()).isEqualTo("roi_align");
            assertThat(c.roiAlignSamplingRatio()).isZero();
            assertThat(c.roiAlignAligned()).isTrue();
            assertThat(c.caffePretrain()).isFalse();
            assertThat(c.useDrop()).isFalse();
        }
    }

    @Test
    void backboneRoiOpAndRoiAlignKeysAreValidated() {
        Config d = Config.defaults();
        assertThat(d.roiAlignSamplingRatio()).isZero();
        assertThat(d.roiAlignAligned()).isFalse();
        Config c = d.withOverrides(List.of("backbone=resnet101", "roi_op=roi_align", "roi_align_sampling_ratio=2",
                "roi_align_aligned=true"));
        assertThat(c.backbone()).isEqualTo("resnet101");
        assertThat(c.roiOp()).isEqualTo("roi_align");
        assertThat(c.roiAlignSamplingRatio()).isEqualTo(2);
        assertThat(c.roiAlignAligned()).isTrue();
        assertThat(d.withOverrides(List.of("roi_align_sampling_ratio=-1")).roiAlignSamplingRatio()).isEqualTo(-1);
        assertThatThrownBy(() -> d.withOverrides(List.of("backbone=resnet18")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("backbone must be one of");
        assertThatThrownBy(() -> d.withOverrides(List.of("roi_op=roi_max")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("roi_op must be one of");
        assertThatThrownBy(() -> d.withOverrides(List.of("roi_align_sampling_ratio=65")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("roi_align_sampling_ratio");
        assertThatThrownBy(() -> d.withOverrides(List.of("backbone=resnet50", "caffe_pretrain=true")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("caffe_pretrain must be false");
        assertThatThrownBy(() -> d.withOverrides(List.of("backbone=resnet50", "use_drop=true")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("use_drop");
    }

    @Test
    void overridesParseValuesAndRejectUnknownKeys() {
        Config c = Config.defaults().withOverrides(List.of("lr=0.01", "use_drop=true", "epoch=3"));
        assertThat(c.lr()).isEqualTo(0.01);
        assertThat(c.useDrop()).isTrue();
        assertThat(c.epoch()).isEqualTo(3);
        assertThatThrownBy(() -> Config.defaults().withOverrides(List.of("learning_rate=1")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("unknown config key 'learning_rate'");
        assertThatThrownBy(() -> Config.defaults().withOverrides(List.of("lr")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("key=value");
        assertThatThrownBy(() -> Config.defaults().withOverrides(List.of("lr=-1")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("lr must be > 0");
        assertThatThrownBy(() -> Config.defaults().withOverrides(List.of("epoch=many")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("bad config value");
    }

    /** Before: an empty list silently meant VOC's 20 classes. Omitting the key still does (existing configs). */
    @Test
    void anEmptyClassNamesIsAnErrorAndAnOmittedOneIsVoc() throws IOException {
        for (String v : List.of("[]", "null", " [ ] ")) {
            assertThatThrownBy(() -> Config.defaults().withOverrides(List.of("class_names=" + v)))
                    .isInstanceOf(ConfigException.class).hasMessageContaining("class_names is empty")
                    .hasMessageContaining("omit the key for VOC's 20 classes");
        }
        Path f = dir.resolve("empty-names.json");
        Files.writeString(f, "{\"backbone\": \"tiny\", \"class_names\": []}");
        assertThatThrownBy(() -> Config.load(f)).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith(f + ": class_names is empty");
        assertThat(Config.defaults().classNamesOrVoc()).hasSize(20);
        assertThat(Config.load(Path.of("configs/voc07-vgg16.json")).classNamesOrVoc()).hasSize(20);
        // a checkpoint's stored config (written by earlier runs with "class_names": []) still reads as VOC
        var stored = (com.fasterxml.jackson.databind.node.ObjectNode) new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(Config.defaults().toJson());
        assertThat(stored.get("class_names").isEmpty()).isTrue();
        assertThat(Config.fromJson(stored).classNamesOrVoc()).hasSize(20);
    }

    /** Before: "bad config value: Cannot deserialize value of type `double` from String..." without the key. */
    @Test
    void aValueOfTheWrongTypeNamesTheKeyTheValueAndTheType() {
        assertThatThrownBy(() -> Config.defaults().withOverrides(List.of("lr=abc"))).isInstanceOf(ConfigException.class)
                .hasMessage("bad config value for lr: expected a number, got \"abc\"");
        assertThatThrownBy(() -> Config.defaults().withOverrides(List.of("epoch=1.5"))).hasMessage(
                "bad config value for epoch: expected an integer, got 1.5");
        assertThatThrownBy(() -> Config.defaults().withOverrides(List.of("use_drop=maybe"))).hasMessage(
                "bad config value for use_drop: expected true or false, got \"maybe\"");
        assertThatThrownBy(() -> Config.defaults().withOverrides(List.of("ratios=[\"a\"]")))
                .hasMessageStartingWith("bad config value for ratios: expected a list of elements that are each a number");
    }

    /** Before: "PATH: cannot read config: PATH" (the NoSuchFileException's bare path). */
    @Test
    void aMissingConfigFileSaysNotFound() {
        Path missing = dir.resolve("nope.json");
        assertThatThrownBy(() -> Config.load(missing)).isInstanceOf(ConfigException.class)
                .hasMessage("config file not found: " + missing);
    }

    @Test
    void fileErrorsNameTheFile() throws IOException {
        Path bad = dir.resolve("bad.json");
        Files.writeString(bad, "{\"min_size\": 600, \"visdom_env\": \"x\"}");
        assertThatThrownBy(() -> Config.load(bad)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("bad.json").hasMessageContaining("visdom_env");
        Path broken = dir.resolve("broken.json");
        Files.writeString(broken, "{\"min_size\": ");
        assertThatThrownBy(() -> Config.load(broken)).isInstanceOf(ConfigException.class).hasMessageContaining("broken.json");
    }
}
