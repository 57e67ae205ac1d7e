package dev.frcnn.config;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Every validation check of {@link Config} (one case each: the message names the key) and the JSON round trip. */
class ConfigValidationTest {
    /** A bad setting (or settings), the key its message must name, and a nearby good value that must pass. */
    private record Check(List<String> bad, String key, List<String> good) {
        Check(String bad, String key, String good) { this(List.of(bad), key, List.of(good)); }
    }

    private static final List<Check> CHECKS = List.of(
            new Check("min_size=15", "min_size", "min_size=16"),
            new Check(List.of("min_size=600", "max_size=599"), "max_size", List.of("min_size=600", "max_size=600")),
            new Check("num_workers=-1", "num_workers", "num_workers=0"),
            new Check("test_num_workers=-1", "test_num_workers", "test_num_workers=0"),
            new Check("rpn_sigma=0", "rpn_sigma", "rpn_sigma=0.5"),
            new Check("roi_sigma=-1", "roi_sigma", "roi_sigma=0.5"),
            new Check("weight_decay=-0.0001", "weight_decay", "weight_decay=0"),
            new Check("lr_decay=0", "lr_decay", "lr_decay=1"),
            new Check("lr_decay=1.5", "lr_decay", "lr_decay=0.5"),
            new Check("lr_decay_epoch=-1", "lr_decay_epoch", "lr_decay_epoch=0"),
            new Check("lr=0", "lr", "lr=1e-6"),
            new Check("epoch=0", "epoch", "epoch=1"),
            new Check("test_num=0", "test_num", "test_num=1"),
            new Check("plot_every=0", "plot_every", "plot_every=1"),
            new Check("threads=-1", "threads", "threads=0"),
            new Check("backbone=resnet18", "backbone", "backbone=resnet50"),
            new Check(List.of("backbone=resnet50", "caffe_pretrain=true"), "caffe_pretrain",
                    List.of("backbone=vgg16", "caffe_pretrain=true")),
            new Check(List.of("backbone=resnet101", "use_drop=true"), "use_drop", List.of("backbone=vgg16", "use_drop=true")),
            new Check("ratios=[]", "ratios", "ratios=[1]"),
            new Check("ratios=[0.5,-1]", "ratios", "ratios=[0.5,1]"),
            new Check("anchor_scales=[]", "anchor_scales", "anchor_scales=[4]"),
            new Check("anchor_scales=[8,0]", "anchor_scales", "anchor_scales=[8,1]"),
            new Check("checkpoint_every=0", "checkpoint_every", "checkpoint_every=1"),
            new Check("roi_op=roi_max", "roi_op", "roi_op=roi_align"),
            new Check("roi_align_sampling_ratio=65", "roi_align_sampling_ratio", "roi_align_sampling_ratio=64"),
            new Check("representation_size=-1", "representation_size", "representation_size=0"),
            new Check("representation_size=1024", "representation_size", "representation_size=4096"),
            new Check("warmup_iters=-1", "warmup_iters", "warmup_iters=0"),
            new Check("warmup_factor=0", "warmup_factor", "warmup_factor=1"),
            new Check("warmup_factor=1.5", "warmup_factor", "warmup_factor=0.001"),
            new Check("clip_grad_norm=-1", "clip_grad_norm", "clip_grad_norm=0"),
            new Check(List.of("backbone=vgg16", "zero_init_residual=true"), "zero_init_residual",
                    List.of("backbone=resnet50", "zero_init_residual=true")),
            new Check("max_image_pixels=0", "max_image_pixels", "max_image_pixels=1"),
            new Check("precision=fp16", "precision", "precision=bf16"),
            new Check("roi_size=-1", "roi_size", "roi_size=0"),
            new Check(List.of("backbone=resnet50", "roi_size=65"), "roi_size", List.of("backbone=resnet50", "roi_size=64")),
            new Check(List.of("backbone=vgg16", "roi_size=14"), "roi_size", List.of("backbone=vgg16", "roi_size=7")),
            new Check(List.of("backbone=squeezenet1_1", "roi_size=14"), "roi_size",
                    List.of("backbone=resnet101", "roi_size=14")),
            new Check("roi_n_sample=0", "roi_n_sample", "roi_n_sample=1"),
            new Check("batch_size=0", "batch_size", "batch_size=1"),
            new Check("batch_size=-2", "batch_size", "batch_size=16"),
            new Check(List.of("backbone=resnet50", "norm=batch_norm"), "norm", List.of("backbone=resnet50", "norm=group_norm")),
            new Check(List.of("backbone=vgg16", "norm=group_norm"), "norm", List.of("backbone=vgg16", "norm=frozen_bn")),
            new Check(List.of("backbone=resnet50", "freeze_at=-1"), "freeze_at", List.of("backbone=resnet50", "freeze_at=0")),
            new Check(List.of("backbone=resnet50", "freeze_at=5"), "freeze_at", List.of("backbone=resnet50", "freeze_at=4")),
            new Check(List.of("backbone=squeezenet1_1", "freeze_at=0"), "freeze_at",
                    List.of("backbone=squeezenet1_1", "freeze_at=2")),
            new Check("truncated_images=ignore", "truncated_images", "truncated_images=skip"),
            new Check("truncated_images=LOAD", "truncated_images", "truncated_images=error"),
            new Check("exif_orientation=rotate", "exif_orientation", "exif_orientation=ignore"),
            new Check("exif_orientation=APPLY", "exif_orientation", "exif_orientation=apply"));

    @TestFactory
    Stream<DynamicTest> eachCheckRejectsItsKeyAndAcceptsTheBoundary() {
        return CHECKS.stream().map(c -> DynamicTest.dynamicTest(String.join(" ", c.bad()), () -> {
            assertThatThrownBy(() -> Config.defaults().withOverrides(c.bad()))
                    .isInstanceOf(ConfigException.class)
                    .hasMessageContaining(c.key() + " ")
                    .satisfies(e -> assertThat(e.getMessage().split("; [a-z_/]+ (must|applies)")).as("errors reported").hasSize(1));
            assertThatCode(() -> Config.defaults().withOverrides(c.good())).as(String.join(" ", c.good())).doesNotThrowAnyException();
        }));
    }

    @Test
    void truncatedImagesDefaultsToLoad() {
        assertThat(Config.defaults().truncatedImages()).isEqualTo("load");
        assertThat(Config.defaults().truncatedImagesMode()).isEqualTo(dev.frcnn.data.TruncatedImages.LOAD);
        assertThat(Config.defaults().withOverrides(List.of("truncated_images=skip")).truncatedImagesMode())
                .isEqualTo(dev.frcnn.data.TruncatedImages.SKIP);
    }

    @Test
    void exifOrientationDefaultsToApplyAlsoForStoredConfigsWithoutTheKey() throws Exception {
        assertThat(Config.defaults().exifOrientation()).isEqualTo("apply");
        assertThat(Config.defaults().exifOrientationMode()).isEqualTo(dev.frcnn.data.ExifOrientationMode.APPLY);
        assertThat(Config.defaults().withOverrides(List.of("exif_orientation=ignore")).exifOrientationMode())
                .isEqualTo(dev.frcnn.data.ExifOrientationMode.IGNORE);
        var json = (com.fasterxml.jackson.databind.node.ObjectNode) new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(Config.defaults().withOverrides(List.of("exif_orientation=ignore")).toJson());
        assertThat(json.get("exif_orientation").asText()).isEqualTo("ignore");
        json.remove("exif_orientation"); // a checkpoint written before the key existed
        assertThat(Config.fromJson(json).exifOrientationMode()).isEqualTo(dev.frcnn.data.ExifOrientationMode.APPLY);
        assertThatThrownBy(() -> Config.defaults().withOverrides(List.of("exif_orientation=sideways")))
                .isInstanceOf(ConfigException.class)
                .hasMessage("exif_orientation must be one of apply, ignore, got sideways");
    }

    @Test
    void batchSizeDefaultsToOneAlsoForStoredConfigsWithoutTheKey() throws Exception {
        assertThat(Config.defaults().batchSize()).isEqualTo(1);
        var json = (com.fasterxml.jackson.databind.node.ObjectNode) new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(Config.defaults().withOverrides(List.of("batch_size=4")).toJson());
        assertThat(json.get("batch_size").asInt()).isEqualTo(4);
        json.remove("batch_size"); // a checkpoint written before the key existed
        assertThat(Config.fromJson(json).batchSize()).isEqualTo(1);
        assertThatThrownBy(() -> Config.defaults().withOverrides(List.of("batch_size=0")))
                .isInstanceOf(ConfigException.class)
                .hasMessage("batch_size must be >= 1 (images per training step per process; 1 = the reference), got 0");
        assertThatThrownBy(() -> Config.defaults().withOverrides(List.of("batch_size=1.5")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("batch_size");
    }

    @Test
    void allErrorsAreReportedTogether() {
        assertThatThrownBy(() -> Config.defaults().withOverrides(List.of("lr=0", "epoch=0", "threads=-2")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("lr must be > 0").hasMessageContaining("epoch must be >= 1")
                .hasMessageContaining("threads must be >= 0");
    }

    @Test
    void fromJsonRoundTrip() throws Exception {
        ObjectMapper json = new ObjectMapper();
        Config c = Config.defaults().withOverrides(List.of("lr=0.0025", "epoch=3", "backbone=resnet50", "roi_op=roi_align",
                "roi_align_sampling_ratio=2", "roi_align_aligned=true", "class_names=[\"a\",\"b\"]", "ratios=[1,2]",
                "anchor_scales=[4,8]", "seed=42", "use_07_metric=false", "load_path=/x/y.pth", "threads=2"));
        assertThat(c).isNotEqualTo(Config.defaults());
        Config back = Config.fromJson(json.readTree(c.toJson()));
        assertThat(back).isEqualTo(c);
        assertThat(back.toJson()).isEqualTo(c.toJson());
        // Keys not given keep the defaults; unknown keys and non-objects are rejected.
        Config partial = Config.fromJson(json.readTree("{\"lr\": 0.5}"));
        assertThat(partial.lr()).isEqualTo(0.5);
        assertThat(partial.epoch()).isEqualTo(Config.defaults().epoch());
        assertThatThrownBy(() -> Config.fromJson(json.readTree("{\"learning_rate\": 1}")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("learning_rate");
        assertThatThrownBy(() -> Config.fromJson(json.readTree("[1]"))).isInstanceOf(ConfigException.class);
        assertThatThrownBy(() -> Config.fromJson(json.readTree("{\"lr\": -1}")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("lr must be > 0");
    }
}
