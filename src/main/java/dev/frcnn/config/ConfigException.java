package dev.frcnn.config;

/** A configuration file or a {@code --set} override is malformed, unknown or out of range. */
public class ConfigException extends RuntimeException {
    public ConfigException(String message) {
        super(message);
    }
}
