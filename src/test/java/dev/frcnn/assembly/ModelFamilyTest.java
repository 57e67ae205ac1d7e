package dev.frcnn.assembly;

import dev.frcnn.config.Config;
import dev.frcnn.config.ConfigException;
import dev.frcnn.model.TorchvisionCocoCategories;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Which family a config means, and torchvision's transform sizes unless the user set them. */
class ModelFamilyTest {
    private static Config resolve(Config base, String... sets) {
        return ModelFamily.resolve(base, c -> c.withOverrides(List.of(sets)));
    }

    @Test
    void torchvisionsSizesReplaceTheReferenceDefaultsOnlyWhenNotSet() {
        Config base = Config.defaults();
        Config tv = resolve(base, "backbone=resnet50_fpn");
        assertThat(ModelFamily.of(tv)).isEqualTo(ModelFamily.TORCHVISION_FPN);
        assertThat(new int[]{tv.minSize(), tv.maxSize()}).containsExactly(800, 1333);

        Config minSet = resolve(base, "backbone=resnet50_fpn", "min_size=600");
        assertThat(new int[]{minSet.minSize(), minSet.maxSize()}).as("600 set explicitly is kept").containsExactly(600, 1333);
        Config bothSet = resolve(base, "backbone=resnet50_fpn", "min_size=320", "max_size=512");
        assertThat(new int[]{bothSet.minSize(), bothSet.maxSize()}).containsExactly(320, 512);

        Config fromFile = resolve(base.withMaxSize(900), "backbone=resnet50_fpn");
        assertThat(new int[]{fromFile.minSize(), fromFile.maxSize()}).as("a --config file's max_size counts as set")
                .containsExactly(800, 900);
    }

    @Test
    void resnet50FpnV2IsTorchvisionsV2WithTheSameSizesAndClasses() {
        Config v2 = resolve(Config.defaults(), "backbone=resnet50_fpn_v2");
        assertThat(ModelFamily.of(v2)).isEqualTo(ModelFamily.TORCHVISION_FPN_V2);
        assertThat(ModelFamily.of(v2).variant()).isEqualTo(dev.frcnn.model.TorchvisionVariant.RESNET50_FPN_V2);
        assertThat(ModelFamily.of(v2).isTorchvision()).isTrue();
        assertThat(new int[]{v2.minSize(), v2.maxSize()}).containsExactly(800, 1333);
        assertThat(ModelFamily.of(v2).classNames(v2)).isEqualTo(TorchvisionCocoCategories.FOREGROUND);
        assertThat(ModelFamily.of(v2).minInputSide(v2)).isEqualTo(1);
        assertThat(ModelFamily.REFERENCE.isTorchvision()).isFalse();
        assertThatThrownBy(ModelFamily.REFERENCE::variant).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> Detectors.create(v2, List.of("a")))
                .hasMessageContaining("resnet50_fpn_v2").hasMessageContaining("not a model of the reference family");
    }

    @Test
    void theReferenceFamilyIsUnchanged() {
        Config ref = resolve(Config.defaults(), "backbone=resnet50");
        assertThat(ModelFamily.of(ref)).isEqualTo(ModelFamily.REFERENCE);
        assertThat(new int[]{ref.minSize(), ref.maxSize()}).containsExactly(600, 1000);
        assertThat(ModelFamily.REFERENCE.classNames(ref)).hasSize(20);
    }

    @Test
    void torchvisionWithoutClassNamesReadsTheCocoCategories() {
        Config tv = resolve(Config.defaults(), "backbone=resnet50_fpn");
        assertThat(ModelFamily.TORCHVISION_FPN.classNames(tv)).isEqualTo(TorchvisionCocoCategories.FOREGROUND)
                .hasSize(90).contains("N/A");
        Config named = resolve(Config.defaults(), "backbone=resnet50_fpn", "class_names=[\"a\",\"b\"]");
        assertThat(ModelFamily.TORCHVISION_FPN.classNames(named)).containsExactly("a", "b");
    }

    @Test
    void anUnknownBackboneNamesTheTorchvisionOne() {
        assertThatThrownBy(() -> Config.defaults().withOverrides(List.of("backbone=resnet50fpn")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("resnet50_fpn").hasMessageContaining("vgg16")
                .hasMessageContaining("resnet50_fpn_v2");
    }
}
