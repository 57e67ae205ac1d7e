package dev.frcnn.cli;

import dev.frcnn.config.Config;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The model file of {@code eval} and {@code detect} (a picocli mixin): {@code --weights} (required: our {@code .ckpt}
 * or a PyTorch {@code .pth}) and {@code --config} (a config file for {@code .pth} weights, refused with a
 * {@code .ckpt}: {@link CheckpointConfigRule}). {@code --set} is {@link SetOption}.
 */
final class WeightsOptions {
    @Option(names = "--weights", required = true,
            description = "our .ckpt, or a PyTorch .pth (reference checkpoint or state dict)")
    Path weights;

    @Option(names = "--config", description = "config for .pth weights (default: configs/voc07-vgg16.json settings); "
            + "refused with a .ckpt, which carries its own (use --set)")
    Path config;

    /** @return the weights file as given */
    Path weights() {
        return weights;
    }

    /**
     * The config the weights load with, before {@code --set}: {@code --config}'s file, or the defaults.
     *
     * @throws BadInputException if {@code --config} is given with a {@code .ckpt} ({@link CheckpointConfigRule})
     * @throws dev.frcnn.config.ConfigException if the config file is invalid
     * @throws IOException if the weights or the config file cannot be read
     */
    Config baseConfig() throws IOException {
        CheckpointConfigRule.check(config, weights);
        return config != null ? Config.load(config) : Config.defaults();
    }
}
