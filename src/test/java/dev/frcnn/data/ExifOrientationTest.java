package dev.frcnn.data;

import dev.frcnn.testing.ExifImages;
import org.bytedeco.opencv.opencv_core.Mat;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.util.Random;

import static dev.frcnn.testing.ExifImages.app1;
import static dev.frcnn.testing.ExifImages.insertAfterSoi;
import static dev.frcnn.testing.ExifImages.tiff;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;

/**
 * {@link ExifOrientation} on files built byte by byte ({@link ExifImages}): the eight values in both byte orders and
 * both integer types, invalid values as 1, the tag found behind other segments and entries, PNG {@code eXIf}; and on
 * damaged data (every truncation, bad offsets, random byte changes) it answers 1..8 and never throws.
 */
class ExifOrientationTest {
    static byte[] jpeg;
    static byte[] png;

    @BeforeAll
    static void encode() {
        Mat m = new Mat(16, 24, CV_8UC3, new org.bytedeco.opencv.opencv_core.Scalar(40, 90, 200, 0));
        jpeg = ExifImages.jpeg444(m);
        png = ExifImages.png(m);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4, 5, 6, 7, 8})
    void eachValueIsReadInBothByteOrdersAndBothIntegerTypes(int o) {
        for (boolean le : new boolean[] {true, false}) {
            assertThat(ExifOrientation.read(insertAfterSoi(jpeg, app1(tiff(le, o))))).as("SHORT, II=" + le).isEqualTo(o);
            assertThat(ExifOrientation.read(insertAfterSoi(jpeg, app1(tiff(le, ExifImages.LONG, o, 0)))))
                    .as("LONG, II=" + le).isEqualTo(o);
            assertThat(ExifOrientation.read(insertAfterSoi(jpeg, app1(tiff(le, ExifImages.SHORT, o, 5)))))
                    .as("after five other entries, II=" + le).isEqualTo(o);
        }
        assertThat(ExifOrientation.swapsSides(o)).isEqualTo(o >= 5);
    }

    @Test
    void invalidValuesCountAsOne() {
        for (boolean le : new boolean[] {true, false}) {
            assertThat(ExifOrientation.read(insertAfterSoi(jpeg, app1(tiff(le, 0))))).as("0").isEqualTo(1);
            assertThat(ExifOrientation.read(insertAfterSoi(jpeg, app1(tiff(le, 9))))).as("9").isEqualTo(1);
            assertThat(ExifOrientation.read(insertAfterSoi(jpeg, app1(tiff(le, 0xFFFF))))).as("65535").isEqualTo(1);
            assertThat(ExifOrientation.read(insertAfterSoi(jpeg, app1(tiff(le, ExifImages.LONG, 65537, 0)))))
                    .as("65537").isEqualTo(1);
            assertThat(ExifOrientation.read(insertAfterSoi(jpeg, app1(tiff(le, 2 /* ASCII */, 6, 0)))))
                    .as("a value of another type").isEqualTo(1);
        }
    }

    @Test
    void filesWithoutTheTagAreOne() {
        assertThat(ExifOrientation.read(jpeg)).isEqualTo(1);
        assertThat(ExifOrientation.read(png)).isEqualTo(1);
        assertThat(ExifOrientation.read(new byte[0])).isEqualTo(1);
        assertThat(ExifOrientation.read(null)).isEqualTo(1);
        assertThat(ExifOrientation.read("GIF89a....".getBytes(StandardCharsets.ISO_8859_1))).isEqualTo(1);
        // An Exif block whose 0th IFD has other entries only.
        byte[] other = tiff(true, 6);
        other[8 + 2] = 0x13; // the entry's tag 0x0112 becomes 0x0113
        assertThat(ExifOrientation.read(insertAfterSoi(jpeg, app1(other)))).isEqualTo(1);
    }

    @Test
    void theTagIsFoundBehindOtherSegmentsAndOnlyInTheFirstExifSegment() {
        byte[] jfif = {(byte) 0xFF, (byte) 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0};
        byte[] xmpBody = "http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>".getBytes(StandardCharsets.ISO_8859_1);
        byte[] xmp = new byte[4 + xmpBody.length];
        xmp[0] = (byte) 0xFF;
        xmp[1] = (byte) 0xE1;
        xmp[2] = (byte) ((xmpBody.length + 2) >> 8);
        xmp[3] = (byte) (xmpBody.length + 2);
        System.arraycopy(xmpBody, 0, xmp, 4, xmpBody.length);
        assertThat(ExifOrientation.read(insertAfterSoi(jpeg, jfif, xmp, app1(tiff(false, 8))))).isEqualTo(8);
        assertThat(ExifOrientation.read(insertAfterSoi(jpeg, app1(tiff(true, 3)), app1(tiff(true, 6))))).isEqualTo(3);
        // after the scan data: not looked at
        byte[] late = new byte[jpeg.length + 100];
        System.arraycopy(jpeg, 0, late, 0, jpeg.length);
        System.arraycopy(app1(tiff(true, 6)), 0, late, jpeg.length, app1(tiff(true, 6)).length);
        assertThat(ExifOrientation.read(late)).isEqualTo(1);
    }

    @Test
    void pngExifChunksBeforeTheImageDataAreRead() {
        for (boolean le : new boolean[] {true, false}) {
            for (int o = 1; o <= 8; o++) {
                byte[] chunk = ExifImages.pngChunk("eXIf", tiff(le, o));
                assertThat(ExifOrientation.read(ExifImages.insertPngChunk(png, chunk, false))).isEqualTo(o);
            }
        }
        byte[] withPrefix = new byte[6 + tiff(true, 6).length];
        System.arraycopy(new byte[] {'E', 'x', 'i', 'f', 0, 0}, 0, withPrefix, 0, 6);
        System.arraycopy(tiff(true, 6), 0, withPrefix, 6, tiff(true, 6).length);
        assertThat(ExifOrientation.read(ExifImages.insertPngChunk(png, ExifImages.pngChunk("eXIf", withPrefix), false)))
                .as("an early draft's Exif prefix").isEqualTo(6);
        byte[] damaged = ExifImages.pngChunk("eXIf", tiff(true, 6));
        damaged[damaged.length - 1] ^= 1;
        assertThat(ExifOrientation.read(ExifImages.insertPngChunk(png, damaged, false))).as("bad CRC").isEqualTo(1);
        assertThat(ExifOrientation.read(ExifImages.insertPngChunk(png, ExifImages.pngChunk("eXIf", tiff(true, 6)), true)))
                .as("after IDAT").isEqualTo(1);
    }

    @Test
    void everyTruncationIsOneOrTheValueAndAPrefixEndingBeforeTheScanIsUndecided() {
        byte[] full = insertAfterSoi(jpeg, app1(tiff(false, 6)));
        int exifEnd = 2 + app1(tiff(false, 6)).length;
        for (int n = 0; n <= full.length; n++) {
            byte[] cut = java.util.Arrays.copyOf(full, n);
            assertThat(ExifOrientation.read(cut)).as("first " + n + " bytes").isEqualTo(n >= exifEnd ? 6 : 1);
            if (n >= 3 && n < exifEnd) assertThat(ExifOrientation.readPrefix(cut)).isEqualTo(ExifOrientation.UNDECIDED);
        }
        byte[] chunk = ExifImages.pngChunk("eXIf", tiff(true, 7));
        byte[] fullPng = ExifImages.insertPngChunk(png, chunk, false);
        int chunkEnd = 8 + 25 + chunk.length; // signature, IHDR, eXIf
        for (int n = 0; n <= fullPng.length; n++) {
            assertThat(ExifOrientation.read(java.util.Arrays.copyOf(fullPng, n))).as("PNG, first " + n + " bytes")
                    .isEqualTo(n >= chunkEnd ? 7 : 1);
        }
        assertThat(ExifOrientation.readPrefix(java.util.Arrays.copyOf(jpeg, 40))).isEqualTo(ExifOrientation.UNDECIDED);
        assertThat(ExifOrientation.readPrefix(jpeg)).isEqualTo(1);
    }

    @Test
    void offsetsOutsideTheBlockAndOversizedDirectoriesAreOne() {
        byte[] t = tiff(true, 6);
        byte[] badIfd = t.clone();
        badIfd[4] = (byte) 0xF0; // 0th IFD at 240, beyond the block
        assertThat(ExifOrientation.read(insertAfterSoi(jpeg, app1(badIfd)))).isEqualTo(1);
        byte[] hugeIfd = t.clone();
        hugeIfd[4] = (byte) 0xFF;
        hugeIfd[5] = (byte) 0xFF;
        hugeIfd[6] = (byte) 0xFF;
        hugeIfd[7] = (byte) 0xFF; // 4 GiB
        assertThat(ExifOrientation.read(insertAfterSoi(jpeg, app1(hugeIfd)))).isEqualTo(1);
        byte[] lowIfd = t.clone();
        lowIfd[4] = 2; // inside the header
        assertThat(ExifOrientation.read(insertAfterSoi(jpeg, app1(lowIfd)))).isEqualTo(1);
        byte[] manyEntries = t.clone();
        manyEntries[8] = (byte) 0xFF;
        manyEntries[9] = (byte) 0xFF; // 65535 entries in a 30-byte block; the first is Orientation
        assertThat(ExifOrientation.read(insertAfterSoi(jpeg, app1(manyEntries)))).isEqualTo(6);
        manyEntries[10] = 0x13; // not Orientation: the directory runs out of the block
        assertThat(ExifOrientation.read(insertAfterSoi(jpeg, app1(manyEntries)))).isEqualTo(1);
        byte[] badMagic = t.clone();
        badMagic[2] = 43;
        assertThat(ExifOrientation.read(insertAfterSoi(jpeg, app1(badMagic)))).isEqualTo(1);
        byte[] zeroCount = t.clone();
        zeroCount[8 + 2 + 4] = 0; // the entry's count
        assertThat(ExifOrientation.read(insertAfterSoi(jpeg, app1(zeroCount)))).isEqualTo(1);
        byte[] segment = app1(t);
        segment[2] = (byte) 0xFF; // a segment length past the end of the file
        assertThat(ExifOrientation.read(insertAfterSoi(jpeg, segment))).isEqualTo(1);
        segment[2] = 0;
        segment[3] = 1; // a segment length below 2
        assertThat(ExifOrientation.read(insertAfterSoi(jpeg, segment))).isEqualTo(1);
    }

    @Test
    void randomlyDamagedFilesNeverThrow() {
        Random r = new Random(11);
        byte[][] seeds = {insertAfterSoi(jpeg, app1(tiff(true, 6))), insertAfterSoi(jpeg, app1(tiff(false, 8))),
                ExifImages.insertPngChunk(png, ExifImages.pngChunk("eXIf", tiff(false, 5)), false)};
        for (int i = 0; i < 20_000; i++) {
            byte[] f = seeds[i % seeds.length].clone();
            int changes = 1 + r.nextInt(4);
            for (int k = 0; k < changes; k++) {
                // mostly in the metadata at the start, where the parser looks
                int at = r.nextInt(Math.min(f.length, r.nextBoolean() ? 80 : f.length));
                f[at] = (byte) r.nextInt(256);
            }
            if (r.nextInt(4) == 0) f = java.util.Arrays.copyOf(f, r.nextInt(f.length + 1));
            int o = ExifOrientation.read(f);
            assertThat(o).as("case " + i).isBetween(1, 8);
            assertThat(ExifOrientation.readPrefix(f)).as("case " + i).isBetween(0, 8);
        }
    }

    @Test
    void theModeIsParsedOnceWithAClearError() {
        assertThat(ExifOrientationMode.fromName("apply")).isEqualTo(ExifOrientationMode.APPLY);
        assertThat(ExifOrientationMode.fromName("ignore")).isEqualTo(ExifOrientationMode.IGNORE);
        assertThat(ExifOrientationMode.NAMES).containsExactly("apply", "ignore");
        assertThatThrownBy(() -> ExifOrientationMode.fromName("rotate")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("exif_orientation must be one of apply, ignore, got rotate");
        assertThatThrownBy(() -> ExifOrientationMode.fromName(null)).isInstanceOf(IllegalArgumentException.class);
        byte[] six = insertAfterSoi(jpeg, app1(tiff(true, 6)));
        assertThat(ExifOrientationMode.APPLY.orientationOf(six)).isEqualTo(6);
        assertThat(ExifOrientationMode.IGNORE.orientationOf(six)).isEqualTo(1);
    }

    @Test
    void headersSwapTheirSidesForOrientationsFiveToEight() {
        ImageHeader h = new ImageHeader("JPEG", 640, 480);
        for (int o = 1; o <= 4; o++) assertThat(h.oriented(o)).isEqualTo(h);
        for (int o = 5; o <= 8; o++) assertThat(h.oriented(o)).isEqualTo(new ImageHeader("JPEG", 480, 640));
    }
}
