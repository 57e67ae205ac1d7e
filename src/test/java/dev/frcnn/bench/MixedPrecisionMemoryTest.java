package dev.frcnn.bench;

import dev.frcnn.config.Config;
import dev.frcnn.model.FasterRCNN;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TinyModels;
import org.bytedeco.pytorch.Device;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code precision = bf16} keeps resident memory flat as float32 does ({@link MemoryFlatnessTest}): 200
 * {@code predict} calls and 1,000 training steps after warm-up grow the RSS by less than 5%. Same small model and
 * image as {@link MemoryFlatnessTest}; the bf16 path adds the autocast regions, the per-forward weight casts and
 * the float32 boundaries. Where the CPU has no native bfloat16, bf16 runs float32 and the same bound applies.
 * Run with {@code mvn test -Pslow}.
 */
@Tag("slow")
class MixedPrecisionMemoryTest {
    private static final Config CFG = TinyModels.config(TinyModels.Size.DEMO, "precision=bf16");

    private static FasterRCNN model() {
        return TinyModels.randomDetector(CFG, FasterRCNN.VOC_BBOX_LABEL_NAMES);
    }

    @Test
    void twoHundredBf16PredictCallsKeepResidentMemoryFlat() {
        LinkedHashMap<String, Object> r = ModelBench.infer(model(), CFG, Golden.file("demo.jpg"), new Device("cpu"), 200, 200);
        assertThat(r.get("precision")).isEqualTo("bf16");
        double warm = (double) r.get("rss_mb_after_warmup"), end = (double) r.get("rss_mb_end");
        assertThat(end).as("RSS after 200 bf16 predict calls vs after warm-up (%s)", r).isLessThan(warm * 1.05);
    }

    @Test
    void thousandBf16TrainingStepsKeepResidentMemoryFlat() {
        LinkedHashMap<String, Object> r = ModelBench.train(model(), CFG, Golden.file("demo.jpg"), new Device("cpu"), 50, 1000);
        assertThat(r.get("precision")).isEqualTo("bf16");
        double warm = (double) r.get("rss_mb_after_warmup"), end = (double) r.get("rss_mb_end");
        assertThat(end).as("RSS after 1000 bf16 train steps vs after warm-up (%s)", r).isLessThan(warm * 1.05);
    }
}
