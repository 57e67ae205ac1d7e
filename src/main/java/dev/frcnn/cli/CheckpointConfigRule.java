package dev.frcnn.cli;

import dev.frcnn.io.ModelWeights;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The rule for {@code --config} with a {@code .ckpt}: refused. A checkpoint carries the config it was trained with
 * (architecture, class names, preprocessing), and a config file would restate every key, architecture included,
 * so it could not be honoured without silently overriding the model. Keys a trained model can change (thresholds,
 * {@code min_size}/{@code max_size}, {@code max_image_pixels}, {@code precision}, ...) are set one by one with
 * {@code --set key=value}; {@code --config} describes PyTorch {@code .pth} files, which carry no config.
 */
final class CheckpointConfigRule {
    private CheckpointConfigRule() {}

    /**
     * @param config the {@code --config} file, or null if not given
     * @param weights the {@code --weights} file
     * @throws BadInputException if both are given and {@code weights} is a checkpoint
     * @throws IOException if the weights file cannot be read
     */
    static void check(Path config, Path weights) throws IOException {
        if (config != null && ModelWeights.isCheckpoint(weights)) {
            throw new BadInputException("--config " + config + " cannot apply to " + weights + ": a .ckpt carries the "
                    + "config it was trained with; omit --config, and change what a trained model allows (e.g. "
                    + "min_size, max_size, max_image_pixels, precision) with --set key=value");
        }
    }
}
