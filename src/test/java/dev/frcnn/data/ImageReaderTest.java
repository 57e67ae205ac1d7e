package dev.frcnn.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Error cases of {@link ImageReader}: each names the file and the problem. */
class ImageReaderTest {
    @TempDir
    Path dir;

    @Test
    void missingFile() {
        Path p = dir.resolve("nope.jpg");
        assertThatThrownBy(() -> ImageReader.readRgbChw(p)).isInstanceOf(DataException.class)
                .hasMessageContaining(p.toString()).hasMessageContaining("not found");
    }

    @Test
    void corruptFile() throws Exception {
        Path p = Files.writeString(dir.resolve("bad.jpg"), "this is not a JPEG");
        assertThatThrownBy(() -> ImageReader.readRgbChw(p)).isInstanceOf(DataException.class)
                .hasMessageContaining(p.toString()).hasMessageContaining("not a decodable image");
    }

    @Test
    void emptyFileAndDirectory() throws Exception {
        Path p = Files.write(dir.resolve("empty.jpg"), new byte[0]);
        assertThatThrownBy(() -> ImageReader.readRgbChw(p)).isInstanceOf(DataException.class)
                .hasMessageContaining(p.toString()).hasMessageContaining("empty");
        assertThatThrownBy(() -> ImageReader.readRgbChw(dir)).isInstanceOf(DataException.class)
                .hasMessageContaining("directory");
    }
}
