package dev.frcnn.train;

import dev.frcnn.io.WeightsFormatException;
import org.bytedeco.pytorch.InputArchive;
import org.bytedeco.pytorch.OutputArchive;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Optimizer states as the bytes a checkpoint stores: LibTorch archives written to and read from a temporary file,
 * which is deleted before the call returns. Shared by the {@link TrainOptimizer} implementations.
 */
final class OptimizerArchives {
    private OptimizerArchives() {}

    /** Reads a loaded archive; called while the temporary file still exists. */
    interface Reader {
        void read(InputArchive archive) throws IOException;
    }

    /** The archive's bytes. @throws IOException if the temporary file cannot be written or read */
    static byte[] toBytes(OutputArchive archive) throws IOException {
        Path tmp = Files.createTempFile("frcnn-optim", ".pt");
        try {
            archive.save_to(tmp.toString());
            return Files.readAllBytes(tmp);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Loads {@code bytes} as a LibTorch archive and hands it to {@code reader}.
     *
     * @param source the file the bytes came from, for error messages
     * @throws WeightsFormatException if the bytes are not a LibTorch archive (naming {@code source})
     * @throws IOException from the temporary file or from {@code reader}
     */
    static void read(byte[] bytes, Path source, Reader reader) throws IOException {
        Path tmp = Files.createTempFile("frcnn-optim", ".pt");
        try {
            Files.write(tmp, bytes);
            InputArchive archive = new InputArchive();
            try {
                archive.load_from(tmp.toString());
            } catch (RuntimeException e) {
                throw new WeightsFormatException(source, "the optimizer state is not a LibTorch archive: "
                        + e.getMessage());
            }
            reader.read(archive);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
