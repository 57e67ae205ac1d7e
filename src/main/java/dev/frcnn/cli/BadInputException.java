package dev.frcnn.cli;

/** The user's input (a file, an option value) is wrong; the command exits with code 2 and this message. */
public class BadInputException extends RuntimeException {
    public BadInputException(String message) {
        super(message);
    }

    public BadInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
