package dev.frcnn.cli;

import dev.frcnn.error.UserInputException;

/**
 * A command's own check of the user's input (a file, an option value, a combination of options) failed; the command
 * exits with code 2 and this message.
 */
public class BadInputException extends UserInputException {
    private static final long serialVersionUID = 1L;

    /** @param message the option or file and the problem, one line */
    public BadInputException(String message) {
        super(message);
    }

    /**
     * @param message the option or file and the problem, one line
     * @param cause the underlying failure
     */
    public BadInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
