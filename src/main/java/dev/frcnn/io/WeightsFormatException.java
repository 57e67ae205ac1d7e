package dev.frcnn.io;

import dev.frcnn.error.UserInputException;

import java.nio.file.Path;

/**
 * A weights file that cannot be read: not a PyTorch file, truncated, internally inconsistent (declared sizes
 * that do not fit the data), or holding something outside the allowlist of {@link PthReader} (for example a
 * pickled global such as {@code os.system}). The message always starts with the file name, then says what is
 * wrong, so that it can be shown to a user as is.
 *
 * <p>A {@link UserInputException} (exit code 2 in the CLI): the file's content, not the program, is at fault. It is
 * unchecked and not an {@link java.io.IOException}: catch it (or {@code UserInputException}) for a bad weights
 * file; the readers declare {@code IOException} for failed reads of the file itself.
 */
public class WeightsFormatException extends UserInputException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;

    /**
     * @param file    the file being read (named in the message)
     * @param problem what is wrong with it, in words
     */
    public WeightsFormatException(Path file, String problem) {
        super(file + ": " + problem);
        this.file = file;
    }

    /**
     * @param file    the file being read (named in the message)
     * @param problem what is wrong with it, in words
     * @param cause   the low-level error (e.g. a {@link java.util.zip.ZipException})
     */
    public WeightsFormatException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
    }

    /** The file whose content was rejected. */
    public Path file() {
        return file;
    }
}
