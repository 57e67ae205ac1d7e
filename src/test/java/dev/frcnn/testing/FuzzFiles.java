package dev.frcnn.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The scratch file of a fuzz target: readers that take a {@link Path} get each fuzz input through one file that is
 * overwritten per execution (in a temporary directory deleted when the JVM exits).
 */
public final class FuzzFiles {
    private final Path dir;

    /** @param prefix name prefix of the temporary directory */
    public FuzzFiles(String prefix) {
        try {
            dir = Files.createTempDirectory(prefix);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        dir.toFile().deleteOnExit();
    }

    /** The scratch directory. */
    public Path dir() {
        return dir;
    }

    /**
     * Writes {@code data} to {@code dir/name} (replacing it) and returns the path.
     *
     * @throws UncheckedIOException if the file cannot be written
     */
    public Path write(String name, byte[] data) {
        Path p = dir.resolve(name);
        try {
            Files.write(p, data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        p.toFile().deleteOnExit();
        return p;
    }
}
