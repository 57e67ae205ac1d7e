package dev.frcnn.cli;

import dev.frcnn.config.Config;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The demo's config layering: {@code configs/demo.json}, the chosen backbone's file, then {@code --set}. */
class DemoConfigTest {
    private static Config demo() {
        return Config.load(Path.of("configs/demo.json"));
    }

    @Test
    void theDefaultDemoIsConfigsDemoJsonUnchanged() throws Exception {
        assertThat(DemoCommand.demoConfig(demo(), List.of())).isEqualTo(demo());
    }

    @Test
    void aResNetDemoGetsItsBackbonesSettingsAndTheUsersOverridesWin() throws Exception {
        Config c = DemoCommand.demoConfig(demo(), List.of("backbone=resnet50", "epoch=2"));
        assertThat(c.backbone()).isEqualTo("resnet50");
        assertThat(c.zeroInitResidual()).isTrue();
        assertThat(c.norm()).isEqualTo("group_norm");
        assertThat(c.freezeAt()).isZero();
        assertThat(c.roiSize()).isEqualTo(7);
        assertThat(c.roiNSample()).isEqualTo(32);
        assertThat(c.warmupIters()).isEqualTo(100);
        assertThat(c.clipGradNorm()).isEqualTo(10.0);
        assertThat(c.lr()).isEqualTo(0.03);
        assertThat(c.epoch()).as("--set wins over configs/demo/resnet50.json").isEqualTo(2);
        assertThat(c.minSize()).as("demo.json keys stay").isEqualTo(192);
    }
}
