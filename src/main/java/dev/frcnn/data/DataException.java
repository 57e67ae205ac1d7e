package dev.frcnn.data;

import dev.frcnn.error.UserInputException;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * A problem with input data: a missing, unreadable or corrupt image, split file or annotation. The
 * message always names the file and the problem, so that a command-line tool can print it as one line. A user error (exit code 2).
 */
public class DataException extends UserInputException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;

    /**
     * @param file the offending file (may be {@code null} if there is none)
     * @param problem what is wrong with it, e.g. {@code "not a decodable image"}
     */
    public DataException(Path file, String problem) {
        super(file == null ? problem : file + ": " + problem);
        this.file = file;
    }

    /**
     * @param file the offending file (may be {@code null})
     * @param problem what is wrong with it
     * @param cause the underlying exception
     */
    public DataException(Path file, String problem, Throwable cause) {
        super(file == null ? problem : file + ": " + problem, cause);
        this.file = file;
    }

    /**
     * The exception for a file that could not be read: {@code "<kind> not found"}, {@code "<kind> not readable
     * (access denied)"}, or {@code "cannot read <kind>: <cause>"}.
     *
     * @param file the file being read
     * @param kind what it is, e.g. {@code "image file"}
     * @param e what reading it threw
     */
    static DataException readFailure(Path file, String kind, IOException e) {
        if (e instanceof NoSuchFileException) return new DataException(file, kind + " not found", e);
        if (e instanceof AccessDeniedException) return new DataException(file, kind + " not readable (access denied)", e);
        return new DataException(file, "cannot read " + kind + ": " + e, e);
    }

    /** The offending file, or {@code null}. */
    public Path file() {
        return file;
    }
}
