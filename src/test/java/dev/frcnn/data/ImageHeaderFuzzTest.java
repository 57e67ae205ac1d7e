package dev.frcnn.data;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.frcnn.testing.FuzzFiles;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/**
 * Coverage-guided fuzzing (Jazzer) of the image header check and, for inputs it accepts, of decoding:
 * {@link ImageReader#readRgbChw(Path, long)} with a limit of {@value #LIMIT} pixels. Property: every input either
 * decodes to an image of at most that many pixels or raises {@link DataException} (including
 * {@link ImageTooLargeException}); nothing else. Seeds: small PNG, JPEG, BMP, GIF, TIFF (written by
 * {@code javax.imageio}) and PNM images. See {@code docs/fuzzing.md}.
 */
class ImageHeaderFuzzTest {
    static final long LIMIT = 4096;
    private static final FuzzFiles FILES = new FuzzFiles("frcnn-fuzz-image");

    @MethodSource("seeds")
    @FuzzTest(maxDuration = "5s")
    void readImage(byte[] data) {
        Path f = FILES.write("input.img", data);
        try (PointerScope s = new PointerScope()) {
            var t = ImageReader.readRgbChw(f, LIMIT);
            if (t.size(1) * t.size(2) > LIMIT) {
                throw new AssertionError("decoded " + t.size(1) + " x " + t.size(2) + " pixels above the limit " + LIMIT);
            }
        } catch (DataException expected) {
            // the project's typed error: fine
        }
    }

    static Stream<Arguments> seeds() {
        BufferedImage img = new BufferedImage(7, 5, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 5; y++) for (int x = 0; x < 7; x++) img.setRGB(x, y, (x * 36) << 16 | (y * 50) << 8 | 0x40);
        List<Arguments> out = new ArrayList<>();
        for (String fmt : List.of("png", "jpeg", "bmp", "gif", "tiff")) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            try {
                if (!ImageIO.write(img, fmt, b)) continue;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            out.add(Arguments.of((Object) b.toByteArray()));
        }
        out.add(Arguments.of((Object) "P3\n# c\n2 1\n255\n255 0 0 0 255 0\n".getBytes(StandardCharsets.US_ASCII)));
        return out.stream();
    }
}
