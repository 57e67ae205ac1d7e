package dev.frcnn.model;

import dev.frcnn.assembly.Detectors;
import dev.frcnn.config.Config;
import dev.frcnn.data.ImageTooSmallException;
import dev.frcnn.data.Preprocessing;
import dev.frcnn.model.backbone.Backbones;
import dev.frcnn.model.roi.RoIHead;
import dev.frcnn.model.roi.Thresholds;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.bytedeco.pytorch.global.torch.manual_seed;
import static org.bytedeco.pytorch.global.torch.ones;
import static org.bytedeco.pytorch.global.torch.randn;
import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * Tiny and extreme images through the model: no proposal gives no detections (the head takes 0 RoIs, as
 * torchvision's), and an image the preprocessing would shrink below the backbone's smallest input is refused with
 * {@link ImageTooSmallException}, not LibTorch's shape errors. (ResNets are left out here: their min side is 1.)
 */
@SuppressWarnings("try")
class TinyImageTest {
    private static final List<String> NAMES = List.of("a", "b");

    private static Config cfg(String backbone) {
        return Config.defaults().withOverrides(List.of("backbone=" + backbone, "class_names=[\"a\",\"b\"]"));
    }

    /** A 1 x 1 image is upscaled to 600 x 600, so the proposals' min-size filter (16 x scale 600) removes all. */
    @ParameterizedTest
    @ValueSource(strings = {"tiny", "squeezenet1_1"})
    void aOneByOneImageHasNoProposalsAndSoNoDetections(String backbone) {
        manual_seed(0);
        Config c = cfg(backbone);
        FasterRCNN model = Detectors.create(c, NAMES);
        try (PointerScope s = new PointerScope()) {
            model.train(false);
            Tensor pixel = ones(3, 1, 1).mul(new Scalar(128.0));
            assertThat(model.detect(pixel, c.preprocessing(), Thresholds.EVALUATE)).isEmpty();
            try (NoGradGuard g = new NoGradGuard()) {
                FasterRCNN.Output out = model.forward(c.preprocessing().apply(pixel).unsqueeze(0), 600.0);
                assertThat(out.rois().size(0)).isZero();
                assertThat(out.roiClsLocs().sizes().vec().get()).containsExactly(0, 12);
                assertThat(out.roiScores().sizes().vec().get()).containsExactly(0, 3);
            }
        } finally {
            model.close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"vgg16", "squeezenet1_1", "tiny"})
    void theHeadTakesZeroRoIs(String backbone) {
        manual_seed(0);
        FasterRCNN model = Detectors.create(cfg(backbone), NAMES);
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            model.train(false);
            Tensor features = randn(1, model.backbone().featureChannels(), 4, 4);
            RoIHead.Output o = model.head().forward(features, zeros(0, 4), zeros(0));
            assertThat(o.roiClsLocs().sizes().vec().get()).containsExactly(0, 12);
            assertThat(o.roiScores().sizes().vec().get()).containsExactly(0, 3);
        } finally {
            model.close();
        }
    }

    /** The catalogue's min side is the built backbone's, and it is exact: one pixel less and LibTorch refuses. */
    @ParameterizedTest
    @ValueSource(strings = {"vgg16", "squeezenet1_1", "tiny"})
    void minInputSideIsTheSmallestSideTheExtractorAccepts(String backbone) {
        FasterRCNN model = Detectors.create(cfg(backbone), NAMES);
        try (PointerScope s = new PointerScope(); NoGradGuard g = new NoGradGuard()) {
            int m = model.backbone().minInputSide();
            assertThat(Backbones.get(backbone).minInputSide()).isEqualTo(m);
            Tensor f = model.backbone().extract(zeros(1, 3, m, 40));
            assertThat(f.size(2)).isGreaterThanOrEqualTo(1);
            assertThatThrownBy(() -> model.backbone().extract(zeros(1, 3, m - 1, 40))).isInstanceOf(RuntimeException.class);
        } finally {
            model.close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"squeezenet1_1", "tiny"})
    void anImageResizedBelowTheBackbonesMinimumIsRefusedNamingTheSizes(String backbone) {
        Config c = cfg(backbone);
        FasterRCNN model = Detectors.create(c, NAMES);
        try (PointerScope s = new PointerScope()) {
            model.train(false);
            // 1 x 20000 (width x height): scale 1000 / 20000 gives a width of 0
            assertThatThrownBy(() -> model.detect(zeros(3, 20000, 1), c.preprocessing(), Thresholds.EVALUATE))
                    .isInstanceOf(ImageTooSmallException.class)
                    .hasMessageContaining("image of 1 x 20000 pixels").hasMessageContaining("resized to 0 x 1000")
                    .hasMessageContaining("min_size 600 and max_size 1000");
            // 2 x 1200: resized to 2 x 1000, a valid size, but narrower than the extractor's smallest input
            assertThatThrownBy(() -> model.detect(zeros(3, 1200, 2), c.preprocessing(), Thresholds.EVALUATE))
                    .isInstanceOf(ImageTooSmallException.class).hasMessageContaining("resized to 2 x 1000")
                    .hasMessageContaining("at least " + model.backbone().minInputSide() + " pixels per side");
        } finally {
            model.close();
        }
    }
}
