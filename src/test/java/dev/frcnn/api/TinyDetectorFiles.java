package dev.frcnn.api;

import dev.frcnn.assembly.Checkpoint;
import dev.frcnn.assembly.Detectors;
import dev.frcnn.config.Config;
import dev.frcnn.model.FasterRCNN;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Test helper: a seeded random small detector (the demo's backbone, 2 classes) saved as our {@code .ckpt}. */
final class TinyDetectorFiles {
    static final List<String> CLASS_NAMES = List.of("circle", "square");
    static final Config CONFIG = Config.defaults().withOverrides(List.of("backbone=tiny", "min_size=192",
            "max_size=320", "anchor_scales=[2,4,8]", "class_names=[\"circle\",\"square\"]"));

    private TinyDetectorFiles() {}

    /** Writes the checkpoint to {@code file} (random weights from seed 0) and returns it. */
    @SuppressWarnings("try")
    static Path write(Path file) throws IOException {
        org.bytedeco.pytorch.global.torch.manual_seed(0);
        FasterRCNN m = Detectors.create(CONFIG, CLASS_NAMES);
        try (PointerScope s = new PointerScope()) {
            Map<String, Tensor> t = new LinkedHashMap<>();
            StringTensorDict p = m.named_parameters(true), b = m.named_buffers(true);
            for (long i = 0; i < p.size(); i++) t.put(p.get(i).key().getString(), p.get(i).value());
            for (long i = 0; i < b.size(); i++) t.put(b.get(i).key().getString(), b.get(i).value());
            new Checkpoint(t, new Checkpoint.Meta(CONFIG, CLASS_NAMES, 0, 0, 0, -1, -1, CONFIG.lr(), null), null)
                    .save(file);
        } finally {
            m.close();
        }
        return file;
    }
}
