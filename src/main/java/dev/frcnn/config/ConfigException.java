package dev.frcnn.config;

import dev.frcnn.error.UserInputException;

/** A configuration file or a {@code --set} override is malformed, unknown or out of range: a user error (exit code 2). */
public class ConfigException extends UserInputException {
    private static final long serialVersionUID = 1L;

    /** @param message the key or file and the problem, one line */
    public ConfigException(String message) {
        super(message);
    }
}
