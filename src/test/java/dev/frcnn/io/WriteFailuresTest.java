package dev.frcnn.io;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** A full disk's bare "No space left on device" becomes a message naming the file. */
class WriteFailuresTest {
    @Test
    void aBareWriteErrorGetsThePath() {
        IOException full = new IOException("No space left on device");
        IOException e = WriteFailures.naming(Path.of("runs/x/last.ckpt"), full);
        assertThat(e).hasMessage("runs/x/last.ckpt: cannot write: No space left on device").hasCause(full);
    }

    @Test
    void anErrorThatAlreadyNamesAFileIsKept() {
        IOException denied = new AccessDeniedException("/ro/last.ckpt");
        assertThat(WriteFailures.naming(Path.of("/ro/last.ckpt"), denied)).isSameAs(denied);
        IOException named = new IOException("/x/y.json: whatever");
        assertThat(WriteFailures.naming(Path.of("/x/y.json"), named)).isSameAs(named);
    }
}
