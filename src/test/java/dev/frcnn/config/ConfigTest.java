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
