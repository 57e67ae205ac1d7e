package dev.frcnn.cli;

import picocli.CommandLine.Option;

import java.nio.file.Path;

/** {@code --data DIR} (required): a dataset in the VOC2007 layout, for {@code train} and {@code eval} (a picocli mixin). */
final class DataOption {
    @Option(names = "--data", required = true, description = "dataset directory (VOC2007 layout)")
    Path data;

    /** @return the dataset directory as given */
    Path dir() {
        return data;
    }
}
