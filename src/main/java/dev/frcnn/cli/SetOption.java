package dev.frcnn.cli;

import dev.frcnn.config.Config;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code --set key=value}, repeatable: config overrides with the reference's key names, applied after the command's
 * base config (a config file, a checkpoint's config or the defaults). Every command has it (a picocli mixin).
 */
final class SetOption {
    @Option(names = "--set", description = "config override key=value (repeatable)")
    List<String> sets = new ArrayList<>();

    /** @return the overrides in command-line order (empty when none was given) */
    List<String> overrides() {
        return sets;
    }

    /**
     * @return {@code base} with the overrides
     * @throws dev.frcnn.config.ConfigException for an unknown key or an invalid value (exit code 2)
     */
    Config applyTo(Config base) {
        return base.withOverrides(sets);
    }
}
