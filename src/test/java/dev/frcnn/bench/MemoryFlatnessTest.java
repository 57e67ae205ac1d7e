package dev.frcnn.bench;

import dev.frcnn.config.Config;
import dev.frcnn.model.Detectors;
import dev.frcnn.model.FasterRCNN;
import dev.frcnn.testing.Golden;
import org.bytedeco.pytorch.Device;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Long runs keep resident memory flat: 200 consecutive {@code predict} calls and 1,000 training steps grow the
 * RSS by less than 5% after warm-up. Uses the demo's small backbone and image size (fixture image at 192 px), so
 * that the soak takes minutes; the code path (predict, trainer, creators, native ops, PointerScopes) is the one
 * VGG16 uses.
 * Run with {@code mvn test -Pslow}.
 */
@Tag("slow")
class MemoryFlatnessTest {
    private static final Config CFG = Config.defaults().withOverrides(
            List.of("backbone=tiny", "min_size=192", "max_size=320", "anchor_scales=[2,4,8]"));

    private static FasterRCNN model() {
        org.bytedeco.pytorch.global.torch.manual_seed(0);
        FasterRCNN m = Detectors.create(CFG, FasterRCNN.VOC_BBOX_LABEL_NAMES);
        m.usePreset("evaluate");
        return m;
    }

    @Test
    void twoHundredPredictCallsKeepResidentMemoryFlat() {
        LinkedHashMap<String, Object> r = ModelBench.infer(model(), CFG, Golden.file("demo.jpg"), new Device("cpu"), 20, 200);
        double warm = (double) r.get("rss_mb_after_warmup"), end = (double) r.get("rss_mb_end");
        assertThat(end).as("RSS after 200 predict calls vs after warm-up (%s)", r).isLessThan(warm * 1.05);
    }

    @Test
    void thousandTrainingStepsKeepResidentMemoryFlat() {
        LinkedHashMap<String, Object> r = ModelBench.train(model(), CFG, Golden.file("demo.jpg"), new Device("cpu"), 50, 1000);
        double warm = (double) r.get("rss_mb_after_warmup"), end = (double) r.get("rss_mb_end");
        assertThat(end).as("RSS after 1000 train steps vs after warm-up (%s)", r).isLessThan(warm * 1.05);
    }
}
