package dev.frcnn.io;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Path;

/**
 * Turns a failed write into a message that names the file. Java's stream and channel writes report a full disk as
 * a bare {@code IOException("No space left on device")}, without the path; every save of ours (checkpoints, the
 * run's CSV logs and config, {@code detect}'s outputs) goes through {@link #naming} so that the user learns which
 * file, on which disk, could not be written.
 */
public final class WriteFailures {
    private WriteFailures() {}

    /**
     * @param file the file being written
     * @param e the failure
     * @return {@code e} itself when its message already names a file ({@link FileSystemException}, or a message that
     *     contains {@code file}); otherwise an {@code IOException} "{@code FILE: cannot write: REASON}" with {@code e}
     *     as its cause
     */
    public static IOException naming(Path file, IOException e) {
        String m = e.getMessage();
        if (e instanceof FileSystemException fse && fse.getFile() != null) return e;
        if (m != null && m.contains(file.toString())) return e;
        return new IOException(file + ": cannot write: " + (m == null || m.isBlank() ? e.getClass().getSimpleName() : m), e);
    }
}
