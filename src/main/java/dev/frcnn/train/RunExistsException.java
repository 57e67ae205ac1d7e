package dev.frcnn.train;

import dev.frcnn.error.UserInputException;

import java.nio.file.Path;
import java.util.List;

/**
 * A fresh training run was asked to write into a directory that already holds a run (its checkpoints, logs or
 * config). Nothing was read or written. The message names the directory and the files, and says what to pass:
 * {@code --resume} to continue that run or {@code --overwrite} to replace it. A user error (exit code 2).
 */
public class RunExistsException extends UserInputException {
    private static final long serialVersionUID = 1L;

    private final transient Path dir;
    private final List<String> files;

    /**
     * @param dir the run directory
     * @param files the run's files found there (names in {@code dir})
     */
    public RunExistsException(Path dir, List<String> files) {
        super(dir + " already holds a training run (" + String.join(", ", files) + "); pass --resume to continue it, "
                + "--overwrite to replace it, or another --out");
        this.dir = dir;
        this.files = List.copyOf(files);
    }

    /** @return the run directory */
    public Path dir() { return dir; }

    /** @return the run's files found in it */
    public List<String> files() { return files; }
}
