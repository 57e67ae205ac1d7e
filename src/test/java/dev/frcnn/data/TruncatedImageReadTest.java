package dev.frcnn.data;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Truncated JPEG and PNG files (made with OpenCV, then cut) decode through {@link ImageReader} with
 * {@code truncated_images: load} (the default) at their full size, and are refused with {@code error}/{@code skip};
 * {@link ImageEnd} tells complete files from truncated ones. Before the fix, OpenCV refused both cut files ("not a
 * decodable image (OpenCV could not decode its N bytes)").
 */
@SuppressWarnings("try")
class TruncatedImageReadTest {
    @TempDir
    Path dir;

    private static long[] shape(Path p) {
        try (PointerScope s = new PointerScope()) {
            Tensor t = ImageReader.readRgbChw(p);
            return Tensors.shape(t);
        }
    }

    @Test
    void jpegTwentyBytesShortDecodesAtItsSize() throws Exception {
        Path p = Files.write(dir.resolve("short.jpg"), TruncatedImageFiles.jpegShort(120, 160));
        assertThat(shape(p)).containsExactly(3, 120, 160);
    }

    @Test
    void pngWithoutIendDecodesAtItsSizeWithItsPixels() throws Exception {
        Path whole = Files.write(dir.resolve("whole.png"), TruncatedImageFiles.encoded(".png", 30, 40));
        Path p = Files.write(dir.resolve("noiend.png"), TruncatedImageFiles.pngWithoutIend(30, 40));
        try (PointerScope s = new PointerScope()) {
            Tensor a = ImageReader.readRgbChw(whole), b = ImageReader.readRgbChw(p);
            assertThat(Tensors.shape(b)).containsExactly(3, 30, 40);
            assertThat(Tensors.toFloatArray(b)).containsExactly(Tensors.toFloatArray(a));
        }
    }

    @Test
    void pngCutInItsImageDataDecodesWithTheMissingRowsBlack() throws Exception {
        byte[] png = TruncatedImageFiles.encoded(".png", 64, 64);
        Path p = Files.write(dir.resolve("half.png"), Arrays.copyOf(png, png.length / 2));
        try (PointerScope s = new PointerScope()) {
            Tensor t = ImageReader.readRgbChw(p);
            assertThat(Tensors.shape(t)).containsExactly(3, 64, 64);
            float[] lastRow = Tensors.toFloatArray(t.select(1, 63));
            for (float v : lastRow) assertThat(v).isZero();
        }
    }

    @Test
    void endDetectionKnowsCompleteFilesFromTruncatedOnes() {
        byte[] jpg = TruncatedImageFiles.encoded(".jpg", 48, 64), png = TruncatedImageFiles.encoded(".png", 48, 64);
        assertThat(ImageEnd.missingEnd(jpg)).isNull();
        assertThat(ImageEnd.missingEnd(png)).isNull();
        assertThat(ImageEnd.completed(jpg)).isSameAs(jpg);
        assertThat(ImageEnd.missingEnd(Arrays.copyOf(jpg, jpg.length - 2))).isEqualTo("JPEG without its end marker (EOI)");
        assertThat(ImageEnd.missingEnd(Arrays.copyOf(jpg, 30))).isEqualTo("JPEG without its end marker (EOI)");
        assertThat(ImageEnd.missingEnd(Arrays.copyOf(png, png.length - 1))).isEqualTo("PNG without its IEND chunk");
        // bytes after the EOI (some cameras append data) are not a truncation
        byte[] trailing = Arrays.copyOf(jpg, jpg.length + 7);
        assertThat(ImageEnd.missingEnd(trailing)).isNull();
        // an EOI inside a segment (an EXIF thumbnail's) does not end the file: APP1 holding FF D9, then the rest cut
        byte[] app1 = {(byte) 0xFF, (byte) 0xE1, 0, 6, (byte) 0xFF, (byte) 0xD9, (byte) 0xFF, (byte) 0xD9};
        byte[] withApp1 = new byte[jpg.length + app1.length];
        System.arraycopy(jpg, 0, withApp1, 0, 2);
        System.arraycopy(app1, 0, withApp1, 2, app1.length);
        System.arraycopy(jpg, 2, withApp1, 2 + app1.length, jpg.length - 2);
        assertThat(ImageEnd.missingEnd(withApp1)).isNull();
        assertThat(ImageEnd.missingEnd(Arrays.copyOf(withApp1, withApp1.length - 20))).isNotNull();
        // other formats are the decoder's to judge
        assertThat(ImageEnd.missingEnd("BM not really".getBytes())).isNull();
    }

    @Test
    void errorAndSkipRefuseATruncatedFileNamingIt() throws Exception {
        Path p = Files.write(dir.resolve("short.jpg"), TruncatedImageFiles.jpegShort(40, 40));
        for (TruncatedImages t : new TruncatedImages[] {TruncatedImages.ERROR, TruncatedImages.SKIP}) {
            assertThatThrownBy(() -> ImageReader.readRgbChw(p, ImageReader.DEFAULT_MAX_PIXELS, t))
                    .isInstanceOf(DataException.class).hasMessageContaining(p.toString())
                    .hasMessageContaining("JPEG without its end marker (EOI)")
                    .hasMessageContaining("truncated_images: " + t.configName());
        }
        byte[] bytes = Files.readAllBytes(p);
        assertThatThrownBy(() -> ImageReader.readRgbChw(bytes, ImageReader.DEFAULT_MAX_PIXELS, TruncatedImages.ERROR))
                .isInstanceOf(DataException.class).hasMessageContaining("encoded image (" + bytes.length + " bytes)");
        try (PointerScope s = new PointerScope()) {
            assertThat(Tensors.shape(ImageReader.readRgbChw(bytes, ImageReader.DEFAULT_MAX_PIXELS, TruncatedImages.LOAD)))
                    .containsExactly(3, 40, 40);
        }
    }
}
