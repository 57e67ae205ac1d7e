package dev.frcnn.error;

/**
 * The user's input is wrong: a command-line option, a config file or {@code --set} override, an image, a dataset, a
 * weights file, a run directory. The message names the file or setting and the problem on one line, so that it can
 * be shown as is: {@code bin/frcnn} prints {@code frcnn: <message>} and exits with code 2.
 *
 * <p>Every error of the library that the user can fix by changing the input is one of these: the subclasses say
 * which input ({@code config.ConfigException}, {@code data.DataException}, {@code io.WeightsFormatException},
 * {@code io.WeightsMismatchException}, {@code train.RunExistsException}, ...), and inputs without a type of their own
 * throw this class. A missing file keeps the JDK's {@link java.nio.file.NoSuchFileException}. Anything else that
 * escapes is a failure of the environment (an {@link java.io.IOException}, e.g. a full disk) or a bug of ours,
 * which the CLI reports with exit code 1. Contract checks on a caller's arguments inside the library (a tensor of
 * the wrong shape, a negative count) stay {@link IllegalArgumentException}.
 *
 * <p>This package imports nothing else of the project, so every package may throw it.
 */
public class UserInputException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what is wrong, naming the file or setting (one line)
     */
    public UserInputException(String message) {
        super(message);
    }

    /**
     * @param message what is wrong, naming the file or setting (one line)
     * @param cause the underlying failure (e.g. the parser's exception), or {@code null}
     */
    public UserInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
