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
