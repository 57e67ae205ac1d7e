package dev.frcnn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.config.Config;
import dev.frcnn.data.Normalization;
import dev.frcnn.data.VocDataset;
import dev.frcnn.io.ModelWeights;
import dev.frcnn.model.Detectors;
import dev.frcnn.model.FasterRCNN;
import org.bytedeco.pytorch.Device;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Builds a detector for {@code --weights}: from a checkpoint's own config and class names, or from a config. */
final class ModelLoading {
    private ModelLoading() {}

    /** A loaded model with the config and class names it was built from. */
    record Loaded(FasterRCNN model, Config config, List<String> classNames, Normalization norm) {}

    /**
     * @param weights a {@code .ckpt} or {@code .pth} file
     * @param base config for PyTorch files (a checkpoint carries its own; {@code overrides} apply to both)
     * @param overrides {@code --set} entries
     * @param device where the model runs
     */
    static Loaded load(Path weights, Config base, List<String> overrides, Device device) throws IOException {
        ModelWeights.Loaded w = ModelWeights.read(weights);
        Config cfg = base;
        List<String> names;
        if (w.kind() == ModelWeights.Kind.CHECKPOINT) {
            cfg = Config.fromJson(w.meta().get("config"));
            names = new ArrayList<>();
            for (JsonNode n : w.meta().path("class_names")) names.add(n.asText());
        } else {
            names = cfg.classNames().isEmpty() ? VocDataset.VOC_BBOX_LABEL_NAMES : cfg.classNames();
        }
        cfg = cfg.withOverrides(overrides);
        if (names.isEmpty()) throw new BadInputException(weights + ": checkpoint has no class names");
        FasterRCNN model = Detectors.create(cfg, names);
        try {
            Detectors.load(model, cfg, w, weights.toString());
        } catch (RuntimeException e) {
            throw new BadInputException(weights + ": weights do not fit the " + cfg.backbone() + " model with "
                    + names.size() + " classes: " + e.getMessage(), e);
        }
        model.to(device, false);
        model.train(false);
        return new Loaded(model, cfg, names, cfg.caffePretrain() ? Normalization.CAFFE : Normalization.TORCHVISION);
    }

    /** Parses {@code --device}. */
    static Device device(String name) {
        return switch (name) {
            case "cpu" -> new Device("cpu");
            case "cuda" -> {
                if (!org.bytedeco.pytorch.global.torch.cuda_is_available()) {
                    throw new BadInputException("--device cuda: no CUDA device is available (this build uses the CPU "
                            + "LibTorch natives unless built with -Pgpu; see README)");
                }
                yield new Device("cuda");
            }
            default -> throw new BadInputException("--device must be cpu or cuda, got '" + name + "'");
        };
    }
}
