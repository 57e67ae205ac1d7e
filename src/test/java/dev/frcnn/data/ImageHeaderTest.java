package dev.frcnn.data;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The size from the header equals the decoded size, and images above the limit are refused before decoding. */
class ImageHeaderTest {
    @TempDir
    Path dir;

    private static byte[] encode(String format, int w, int h) throws IOException {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.setRGB(x, y, (x * 9) << 16 | (y * 7) << 8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertThat(ImageIO.write(img, format, out)).as(format).isTrue();
        return out.toByteArray();
    }

    private static ImageHeader parse(byte[] b) {
        try {
            return ImageHeader.parse(b);
        } catch (ImageHeader.MalformedHeaderException e) {
            throw new AssertionError(e);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"png", "jpeg", "bmp", "gif", "tiff"})
    void headerSizeEqualsTheDecodedSize(String format) throws IOException {
        byte[] bytes = encode(format, 37, 23);
        ImageHeader h = parse(bytes);
        assertThat(h.width()).isEqualTo(37);
        assertThat(h.height()).isEqualTo(23);
        Path f = Files.write(dir.resolve("img." + format), bytes);
        try (PointerScope s = new PointerScope()) {
            Tensor t = ImageReader.readRgbChw(f);
            assertThat(t.sizes().vec().get()).containsExactly(3, 23, 37);
        }
    }

    @Test
    void pnmAndWebPHeaders() throws Exception {
        assertThat(ImageHeader.parse("P6 # comment\n 640\t480\n255\n".getBytes(StandardCharsets.US_ASCII)))
                .isEqualTo(new ImageHeader("PNM", 640, 480));
        // VP8X: canvas width-1 and height-1 as 24-bit little-endian at bytes 24 and 27
        byte[] vp8x = new byte[30];
        System.arraycopy("RIFF\0\0\0\0WEBPVP8X".getBytes(StandardCharsets.US_ASCII), 0, vp8x, 0, 16);
        vp8x[24] = (byte) 0x0F; vp8x[25] = (byte) 0x27;              // 9999 = 0x270F -> width 10000
        vp8x[27] = (byte) 0x1F; vp8x[28] = (byte) 0x4E;              // 19999 = 0x4E1F -> height 20000
        assertThat(ImageHeader.parse(vp8x)).isEqualTo(new ImageHeader("WebP", 10000, 20000));
    }

    @Test
    void bombIsRefusedFromItsHeaderNamingFileAndSize() throws IOException {
        Path bomb = dev.frcnn.testing.PngHeaders.write(dir.resolve("bomb.png"), 30000, 30000);
        assertThatThrownBy(() -> ImageReader.readRgbChw(bomb)).isInstanceOf(ImageTooLargeException.class)
                .isInstanceOf(DataException.class)
                .hasMessage(bomb + ": PNG image of 30000 x 30000 = 900000000 pixels exceeds the limit of 178956970 "
                        + "pixels (max_image_pixels); refused before decoding")
                .satisfies(e -> assertThat(((ImageTooLargeException) e).pixels()).isEqualTo(900_000_000L));
        // the limit is a parameter; at the limit the image is accepted
        Path small = Files.write(dir.resolve("s.png"), encode("png", 10, 10));
        assertThatThrownBy(() -> ImageReader.readRgbChw(small, 99)).isInstanceOf(ImageTooLargeException.class)
                .hasMessageContaining("10 x 10 = 100 pixels exceeds the limit of 99 pixels");
        try (PointerScope s = new PointerScope()) {
            assertThat(ImageReader.readRgbChw(small, 100).size(2)).isEqualTo(10);
        }
    }

    /**
     * Sides near 2^32 (a fuzzing finding): their product does not fit a long; it used to wrap to a negative count,
     * pass the limit and reach the truncated-PNG completion, which then failed with NegativeArraySizeException.
     */
    @Test
    void sidesWhoseProductOverflowsAreTooLarge() throws IOException {
        ImageHeader huge = new ImageHeader("PNG", 4294967295L, 4285202177L);
        assertThat(huge.pixels()).isEqualTo(Long.MAX_VALUE);
        assertThat(new ImageHeader("PNG", 4294967295L, 2).pixels()).isEqualTo(8589934590L);
        Path bomb = dev.frcnn.testing.PngHeaders.write(dir.resolve("overflow.png"), 0xFFFFFFFF, 0xFF6AFF01);
        assertThatThrownBy(() -> ImageReader.readRgbChw(bomb, 4096)).isInstanceOf(ImageTooLargeException.class)
                .hasMessageContaining(bomb.toString());
    }

    @Test
    void datasetReportsTheOversizedImage() throws IOException {
        Path data = new SyntheticVoc(1, 64, 64).write(dir.resolve("voc"), 2, 1);
        VocDataset ds = new VocDataset(data, "train", false, SyntheticVoc.CLASS_NAMES, 64L * 64 - 1);
        assertThatThrownBy(() -> ds.get(0)).isInstanceOf(ImageTooLargeException.class)
                .hasMessageContaining(ds.imagePath(0).toString()).hasMessageContaining("64 x 64 = 4096 pixels");
    }

    @Test
    void unknownOrTruncatedHeadersAreDataErrors() throws IOException {
        for (byte[] b : List.of("hello world".getBytes(StandardCharsets.US_ASCII), new byte[]{(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0},
                new byte[]{(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, (byte) 0xE0, 0, 16})) {
            Path f = Files.write(dir.resolve("bad.img"), b);
            assertThatThrownBy(() -> ImageReader.readRgbChw(f)).isInstanceOf(DataException.class)
                    .isNotInstanceOf(ImageTooLargeException.class).hasMessageContaining(f.toString())
                    .hasMessageContaining("not a decodable image");
        }
    }
}
