package dev.frcnn.data;

import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.ExifImages;
import dev.frcnn.testing.Golden;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.opencv.opencv_core.Mat;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_COLOR;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_IGNORE_ORIENTATION;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imdecode;

/**
 * {@link ImageReader#read} with {@link ExifOrientationMode}: a photo stored rotated or mirrored with its EXIF
 * Orientation tag decodes to the upright pixels and size under {@code apply}, and to the stored ones under
 * {@code ignore}. The expected pixels come from the EXIF table as {@link ExifImages#stored} states it and from OpenCV's
 * own handling of the tag, never from the code under test.
 */
@SuppressWarnings("try")
class ExifOrientationDecodeTest {
    @TempDir
    static Path dir;
    /** The fixture photograph as stored (500 x 375), 8-bit BGR. */
    static Mat photo;
    /** It in flat 8 x 8 blocks (496 x 368): its rotations survive JPEG exactly ({@link ExifImages#blocky}). */
    static Mat blocky;

    @BeforeAll
    static void readPhoto() throws IOException {
        byte[] demo = Files.readAllBytes(Golden.file("demo.jpg"));
        assertThat(ExifOrientation.read(demo)).as("the fixture has no orientation tag").isEqualTo(1);
        photo = imdecode(new Mat(demo), IMREAD_COLOR | IMREAD_IGNORE_ORIENTATION);
        blocky = ExifImages.blocky(photo);
    }

    /** The pixels of a decoded image, as (H, W, 3) BGR bytes, for comparison with OpenCV's Mats. */
    static byte[] bgrBytes(DecodedImage d) {
        float[] chw = Tensors.toFloatArray(d.rgbChw());
        int h = d.height(), w = d.width(), plane = h * w;
        assertThat(Tensors.shape(d.rgbChw())).containsExactly(3L, (long) h, (long) w);
        byte[] out = new byte[3 * plane];
        for (int i = 0; i < plane; i++) {
            for (int c = 0; c < 3; c++) out[3 * i + c] = (byte) (int) chw[(2 - c) * plane + i];
        }
        return out;
    }

    static DecodedImage read(byte[] bytes, ExifOrientationMode mode) {
        return ImageReader.read(bytes, ImageReader.DEFAULT_MAX_PIXELS, TruncatedImages.LOAD, mode);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7, 8})
    void eachOrientationDecodesAsOpenCvShowsIt(int o) {
        try (PointerScope s = new PointerScope()) {
            byte[] file = ExifImages.jpegWithOrientation(ExifImages.jpeg444(photo), o);
            Mat shown = imdecode(new Mat(file), IMREAD_COLOR); // OpenCV applies the tag itself
            Mat stored = imdecode(new Mat(file), IMREAD_COLOR | IMREAD_IGNORE_ORIENTATION);
            DecodedImage applied = read(file, ExifOrientationMode.APPLY);
            assertThat(applied.height()).isEqualTo(shown.rows());
            assertThat(applied.width()).isEqualTo(shown.cols());
            assertThat(bgrBytes(applied)).as("apply, orientation " + o).isEqualTo(ExifImages.bytes(shown));
            DecodedImage ignored = read(file, ExifOrientationMode.IGNORE);
            assertThat(ignored.height()).isEqualTo(375);
            assertThat(ignored.width()).isEqualTo(500);
            assertThat(bgrBytes(ignored)).as("ignore, orientation " + o).isEqualTo(ExifImages.bytes(stored));
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7, 8})
    void aPhotoStoredRotatedWithItsTagDecodesToTheUprightPixelsExactly(int o) throws IOException {
        try (PointerScope s = new PointerScope()) {
            byte[] upright = ExifImages.jpeg444(blocky);
            Mat storedFrame = ExifImages.stored(blocky, o);
            byte[] rotated = ExifImages.jpegWithOrientation(ExifImages.jpeg444(storedFrame), o);
            Path file = Files.write(dir.resolve("rotated-" + o + ".jpg"), rotated);
            DecodedImage want = read(upright, ExifOrientationMode.APPLY);
            DecodedImage got = ImageReader.read(file, ImageReader.DEFAULT_MAX_PIXELS, TruncatedImages.LOAD,
                    ExifOrientationMode.APPLY);
            assertThat(got.source()).isEqualTo(file);
            assertThat(got.height()).isEqualTo(368);
            assertThat(got.width()).isEqualTo(496);
            assertThat(bgrBytes(got)).as("orientation " + o).isEqualTo(bgrBytes(want));
            // ignore: the stored frame, as the raw pixels decode without the tag
            DecodedImage raw = ImageReader.read(file, ImageReader.DEFAULT_MAX_PIXELS, TruncatedImages.LOAD,
                    ExifOrientationMode.IGNORE);
            assertThat(raw.height()).isEqualTo(storedFrame.rows());
            assertThat(raw.width()).isEqualTo(storedFrame.cols());
            assertThat(bgrBytes(raw)).isEqualTo(bgrBytes(read(ExifImages.jpeg444(storedFrame), ExifOrientationMode.APPLY)));
            // the header check sees the same frame as the decode
            assertThat(ImageReader.readHeader(file, ImageReader.DEFAULT_MAX_PIXELS, ExifOrientationMode.APPLY))
                    .isEqualTo(new ImageHeader("JPEG", 496, 368));
            assertThat(ImageReader.readHeader(file, ImageReader.DEFAULT_MAX_PIXELS, ExifOrientationMode.IGNORE))
                    .isEqualTo(new ImageHeader("JPEG", storedFrame.cols(), storedFrame.rows()));
            // PNG with an eXIf chunk: lossless, so the unmodified photo
            byte[] png = ExifImages.insertPngChunk(ExifImages.png(ExifImages.stored(photo, o)),
                    ExifImages.pngChunk("eXIf", ExifImages.tiff(false, o)), false);
            assertThat(bgrBytes(read(png, ExifOrientationMode.APPLY))).as("PNG, orientation " + o)
                    .isEqualTo(ExifImages.bytes(photo));
        }
    }

    @Test
    void aRealPhotoRotatedByReencodingIsCloseToTheUprightOne() {
        try (PointerScope s = new PointerScope()) {
            byte[] rotated = ExifImages.jpegWithOrientation(ExifImages.jpeg444(ExifImages.stored(photo, 6)), 6);
            DecodedImage got = read(rotated, ExifOrientationMode.APPLY);
            assertThat(got.height()).isEqualTo(375);
            assertThat(got.width()).isEqualTo(500);
            byte[] a = bgrBytes(got), b = ExifImages.bytes(photo);
            long sum = 0;
            int max = 0;
            for (int i = 0; i < a.length; i++) {
                int d = Math.abs((a[i] & 0xFF) - (b[i] & 0xFF));
                sum += d;
                max = Math.max(max, d);
            }
            // quality 100 without subsampling: re-encoding costs a few levels at most
            assertThat(max).as("max |difference|").isLessThanOrEqualTo(8);
            assertThat((double) sum / a.length).as("mean |difference|").isLessThan(1.0);
        }
    }

    @Test
    void invalidValuesDecodeAsStored() {
        try (PointerScope s = new PointerScope()) {
            byte[] jpeg = ExifImages.jpeg444(photo);
            byte[] want = bgrBytes(read(jpeg, ExifOrientationMode.IGNORE));
            for (byte[] tiff : List.of(ExifImages.tiff(true, 0), ExifImages.tiff(false, 0),
                    ExifImages.tiff(true, ExifImages.LONG, 65537, 0), ExifImages.tiff(false, ExifImages.LONG, 65537, 0))) {
                DecodedImage d = read(ExifImages.insertAfterSoi(jpeg, ExifImages.app1(tiff)), ExifOrientationMode.APPLY);
                assertThat(d.width()).isEqualTo(500);
                assertThat(bgrBytes(d)).isEqualTo(want);
            }
        }
    }

    @Test
    void aDatasetClipsBoxesToTheImageInTheFrameItIsDecodedIn() throws Exception {
        Path voc = dir.resolve("voc");
        Files.createDirectories(voc.resolve("ImageSets/Main"));
        Files.createDirectories(voc.resolve("Annotations"));
        Files.createDirectories(voc.resolve("JPEGImages"));
        Files.writeString(voc.resolve("ImageSets/Main/test.txt"), "a\n");
        try (PointerScope s = new PointerScope()) {
            // shown upright as 368 x 496 (W x H); stored as 496 x 368 with orientation 6
            Mat upright = ExifImages.stored(blocky, 8); // any 368-wide, 496-high image
            Files.write(voc.resolve("JPEGImages/a.jpg"),
                    ExifImages.jpegWithOrientation(ExifImages.jpeg444(ExifImages.stored(upright, 6)), 6));
        }
        // a box reaching x = 400 (1-based): beyond the upright width 368, inside the stored width 496
        Files.writeString(voc.resolve("Annotations/a.xml"), "<annotation><object><name>dog</name><bndbox><xmin>10</xmin>"
                + "<ymin>20</ymin><xmax>400</xmax><ymax>300</ymax></bndbox></object></annotation>");
        List<long[]> seen = new java.util.ArrayList<>();
        for (ExifOrientationMode mode : ExifOrientationMode.values()) {
            VocDataset ds = new VocDataset(voc, "test", true, VocDataset.VOC_BBOX_LABEL_NAMES,
                    ImageReader.DEFAULT_MAX_PIXELS, mode);
            DatasetCheck.run(List.of(ds), TruncatedImages.LOAD, (f, h, w) -> seen.add(new long[] {h, w}), 1);
            VocDataset.Annotation a = ds.annotation(0);
            try (PointerScope s = new PointerScope()) {
                DetectionDataset.Example ex = ds.get(0);
                if (mode == ExifOrientationMode.APPLY) {
                    assertThat(Tensors.shape(ex.image())).containsExactly(3L, 496L, 368L);
                    assertThat(a.bbox()).containsExactly(19f, 9f, 299f, 367f); // clipped to x = 367
                    assertThat(a.fixes().clipped()).isEqualTo(1);
                } else {
                    assertThat(Tensors.shape(ex.image())).containsExactly(3L, 368L, 496L);
                    assertThat(a.bbox()).containsExactly(19f, 9f, 299f, 399f);
                    assertThat(a.fixes().clipped()).isZero();
                }
            }
        }
        assertThat(seen).as("the size rule sees the decoded frame").satisfiesExactly(
                hw -> assertThat(hw).containsExactly(496, 368), hw -> assertThat(hw).containsExactly(368, 496));
    }
}
