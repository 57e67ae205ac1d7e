package dev.frcnn.io;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The one rule by which our outputs replace a file without ever leaving it torn: write
 * {@code <target name><unsigned decimal long>}{@value #TEMPORARY_SUFFIX} beside it, then rename that over the target
 * ({@link Checkpoints}' checkpoints, {@code chart.ChartFiles}' charts). A process killed before the rename leaves the
 * temporary file, which {@link Checkpoints#isTemporaryOf(String, String)} recognises.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** The suffix of the temporary files. */
    public static final String TEMPORARY_SUFFIX = ".tmp";

    /**
     * Renames {@code tmp} over {@code target}: atomically where the file system can, else a plain replacing move.
     *
     * @throws IOException if the move fails
     */
    public static void moveOver(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
