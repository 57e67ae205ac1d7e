package dev.frcnn.cli;

import picocli.CommandLine.Option;

/** {@code --no-progress}: no progress bar during training, for {@code train} and {@code demo} (a picocli mixin). */
final class ProgressOption {
    @Option(names = "--no-progress", description = "no progress bar")
    boolean noProgress;

    /** @return whether to draw the progress bar (true unless {@code --no-progress}) */
    boolean show() {
        return !noProgress;
    }
}
