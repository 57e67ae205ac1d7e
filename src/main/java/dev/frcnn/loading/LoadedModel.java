package dev.frcnn.loading;

import dev.frcnn.config.Config;
import dev.frcnn.data.Preprocessing;
import dev.frcnn.data.VocDataset;
import dev.frcnn.io.Checkpoint;
import dev.frcnn.io.ModelWeights;
import dev.frcnn.io.WeightsDoNotFitException;
import dev.frcnn.model.Detectors;
import dev.frcnn.model.FasterRCNN;
import org.bytedeco.pytorch.Device;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A detector built from a weights file, in eval mode on its device, with the config, class names and
 * preprocessing it was built from. {@link #load} is the one loading path of the project: the CLI's
 * {@code detect}, {@code eval}, {@code demo} and {@code bench} and {@code dev.frcnn.api.Detector} all load through
 * it. Internal (this package is not exported by the module).
 *
 * @param model the detector, in eval mode
 * @param config the config it was built from (overrides applied)
 * @param classNames foreground class names, label i = name i
 * @param preprocessing min/max size and normalisation of {@code config}
 * @param weights the file it was loaded from
 */
public record LoadedModel(FasterRCNN model, Config config, List<String> classNames, Preprocessing preprocessing,
                          Path weights) {

    /**
     * Builds the model for {@code weights} and loads them: a {@code .ckpt} carries its own config and class names
     * ({@link Checkpoint.Meta}); a PyTorch file is read with {@code base} and the class names of
     * {@link VocDataset#classNames(Config)} (empty = the 20 VOC classes). {@code overrides} apply to both.
     *
     * @param weights a {@code .ckpt} or {@code .pth} file
     * @param base config for PyTorch files
     * @param overrides {@code key=value} config overrides (as {@code --set})
     * @param device where the model runs
     * @return the loaded model in eval mode
     * @throws java.nio.file.NoSuchFileException if the file does not exist
     * @throws dev.frcnn.io.WeightsFormatException if it is not a readable weights file
     * @throws WeightsDoNotFitException if its tensors do not fit the model the config describes
     * @throws dev.frcnn.config.ConfigException for a bad override
     * @throws IOException on read errors
     */
    public static LoadedModel load(Path weights, Config base, List<String> overrides, Device device) throws IOException {
        ModelWeights.Loaded w = ModelWeights.read(weights);
        Config cfg;
        List<String> names;
        if (w.kind() == ModelWeights.Kind.CHECKPOINT) {
            Checkpoint.Meta meta = Checkpoint.Meta.fromJson(weights, w.meta());
            cfg = meta.config().withOverrides(overrides);
            names = meta.classNames();
        } else {
            cfg = base.withOverrides(overrides);
            names = VocDataset.classNames(cfg);
        }
        FasterRCNN model = Detectors.create(cfg, names);
        try {
            Detectors.load(model, cfg, w, weights.toString());
        } catch (RuntimeException e) {
            model.close();
            throw new WeightsDoNotFitException(weights, "weights do not fit the " + cfg.backbone() + " model with "
                    + names.size() + " classes: " + e.getMessage(), e);
        }
        model.to(device, false);
        model.train(false);
        return new LoadedModel(model, cfg, names, Preprocessing.of(cfg), weights);
    }

    /**
     * Parses a device name.
     *
     * @param name {@code cpu} or {@code cuda}
     * @return the device
     * @throws IllegalArgumentException for another name, or {@code cuda} where no CUDA device is available
     */
    public static Device device(String name) {
        return switch (name) {
            case "cpu" -> new Device("cpu");
            case "cuda" -> {
                if (!org.bytedeco.pytorch.global.torch.cuda_is_available()) {
                    throw new IllegalArgumentException("--device cuda: no CUDA device is available (this build uses the "
                            + "CPU LibTorch natives unless built with -Pgpu; see README)");
                }
                yield new Device("cuda");
            }
            default -> throw new IllegalArgumentException("--device must be cpu or cuda, got '" + name + "'");
        };
    }
}
