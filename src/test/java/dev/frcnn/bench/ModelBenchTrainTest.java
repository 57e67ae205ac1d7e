package dev.frcnn.bench;

import dev.frcnn.assembly.Detectors;
import dev.frcnn.config.Config;
import dev.frcnn.model.FasterRCNN;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TinyModels;
import org.bytedeco.pytorch.Device;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code bench --what train} on weights with fewer classes than VOC's 20 (e.g. a one-class raccoon checkpoint): its
 * fixed gt labels 11, 14, 6 once indexed past the model's scores ("index 15 is out of bounds for dimension 1 with
 * size 2"); they are now wrapped into the model's range.
 */
class ModelBenchTrainTest {
    @Test
    void aOneClassModelTrainsInTheBenchmark() {
        Config cfg = TinyModels.config(TinyModels.Size.MEDIUM);
        FasterRCNN model = Detectors.create(cfg, List.of("raccoon"));
        LinkedHashMap<String, Object> r = ModelBench.train(model, cfg, Golden.file("demo.jpg"), new Device("cpu"), 0, 2);
        assertThat((Double) r.get("train_step_ms")).isPositive();
        assertThat((Double) r.get("train_step_ms_min")).isPositive();
    }
}
