package dev.frcnn.data;

import java.nio.file.Path;

/**
 * A problem with input data: a missing, unreadable or corrupt image, split file or annotation. The
 * message always names the file and the problem, so that a command-line tool can print it as one line.
 */
public class DataException extends RuntimeException {
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

    /** The offending file, or {@code null}. */
    public Path file() {
        return file;
    }
}
