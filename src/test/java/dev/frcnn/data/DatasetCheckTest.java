package dev.frcnn.data;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Scalar;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imwrite;

/**
 * {@link DatasetCheck} on small VOC trees built in a temporary directory: every problem of every split reported at
 * once naming its file, the three {@code truncated_images} policies on a real JPEG cut 20 bytes short and a PNG
 * without IEND, one warning per split for clipped boxes and for ids listed twice.
 */
@SuppressWarnings("try")
class DatasetCheckTest {
    @TempDir
    Path root;

    private Path voc;
    private static final List<String> NAMES = List.of("dog", "cat");

    private static String annotation(String id, String... boxes) {
        StringBuilder sb = new StringBuilder("<annotation><filename>" + id + ".jpg</filename>"
                + "<size><width>40</width><height>30</height><depth>3</depth></size>");
        for (String b : boxes) {
            String[] c = b.split(",");
            sb.append("<object><name>dog</name><difficult>0</difficult><bndbox><xmin>").append(c[0])
                    .append("</xmin><ymin>").append(c[1]).append("</ymin><xmax>").append(c[2]).append("</xmax><ymax>")
                    .append(c[3]).append("</ymax></bndbox></object>");
        }
        return sb.append("</annotation>").toString();
    }

    /** A 40 x 30 JPEG and its annotation with one box inside the image. */
    private void writeExample(String id) throws Exception {
        try (PointerScope s = new PointerScope()) {
            Mat m = new Mat(30, 40, CV_8UC3, new Scalar(10, 120, 200, 0));
            assertThat(imwrite(voc.resolve("JPEGImages/" + id + ".jpg").toString(), m)).isTrue();
        }
        Files.writeString(voc.resolve("Annotations/" + id + ".xml"), annotation(id, "5,3,20,25"));
    }

    private void writeSplit(String split, String... ids) throws Exception {
        Files.writeString(voc.resolve("ImageSets/Main/" + split + ".txt"), String.join("\n", ids) + "\n");
    }

    private VocDataset split(String name, boolean test) {
        return new VocDataset(voc, name, test, NAMES);
    }

    @BeforeEach
    void tree() throws Exception {
        voc = root.resolve("VOC");
        Files.createDirectories(voc.resolve("ImageSets/Main"));
        Files.createDirectories(voc.resolve("Annotations"));
        Files.createDirectories(voc.resolve("JPEGImages"));
        for (String id : List.of("a", "b", "c", "d", "e")) writeExample(id);
        writeSplit("trainval", "a", "b", "c");
        writeSplit("test", "d", "e");
    }

    /** An image the model's resize would bring below its smallest input is a problem of the check, found up front. */
    @Test
    void theSizeRuleRefusesImagesUpFrontNamingThem() throws Exception {
        try (PointerScope s = new PointerScope()) {
            Mat tall = new Mat(2000, 1, CV_8UC3, new Scalar(10, 120, 200, 0));
            assertThat(imwrite(voc.resolve("JPEGImages/e.jpg").toString(), tall)).isTrue();
        }
        Preprocessing pre = new Preprocessing(192, 320, Normalization.of(true));
        assertThatThrownBy(() -> DatasetCheck.run(List.of(split("trainval", false), split("test", true)),
                TruncatedImages.LOAD, (file, h, w) -> pre.checkResizable(file, h, w, 16)))
                .isInstanceOf(DatasetProblemsException.class)
                .hasMessageContaining("1 problem").hasMessageContaining("e.jpg").hasMessageContaining("1 x 2000 pixels")
                .hasMessageContaining("at least 16 pixels");
        assertThat(DatasetCheck.run(List.of(split("test", true)), TruncatedImages.LOAD).images()).isEqualTo(2);
    }

    @Test
    void cleanSplitsPassWithoutWarnings() {
        DatasetCheck.Result r = DatasetCheck.run(List.of(split("trainval", false), split("test", true)), TruncatedImages.LOAD);
        assertThat(r.warnings()).isEmpty();
        assertThat(r.images()).isEqualTo(5);
        assertThat(r.datasets().get(0).ids()).containsExactly("a", "b", "c");
    }

    @Test
    void everyProblemOfEverySplitIsReportedAtOnceNamingItsFile() throws Exception {
        Files.delete(voc.resolve("JPEGImages/b.jpg"));
        Files.writeString(voc.resolve("JPEGImages/c.jpg"), "not an image");
        Files.delete(voc.resolve("JPEGImages/e.jpg"));
        Files.writeString(voc.resolve("Annotations/d.xml"), "<annotation><object><name>dog</name>");
        assertThatThrownBy(() -> DatasetCheck.run(List.of(split("trainval", false), split("test", true)), TruncatedImages.LOAD))
                .isInstanceOf(DatasetProblemsException.class)
                .hasMessageStartingWith(voc + ": 4 problems in the dataset, found before training or evaluation started")
                .hasMessageContaining(voc.resolve("JPEGImages/b.jpg") + ": image file not found")
                .hasMessageContaining(voc.resolve("JPEGImages/c.jpg") + ": not a decodable image")
                .hasMessageContaining(voc.resolve("Annotations/d.xml") + ": malformed annotation XML")
                .hasMessageContaining(voc.resolve("JPEGImages/e.jpg") + ": image file not found")
                .satisfies(e -> assertThat(((DatasetProblemsException) e).problems()).hasSize(4));
    }

    @Test
    void theFirstTenAreListedThenCounted() throws Exception {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 13; i++) {
            ids.add("m" + i);
            Files.writeString(voc.resolve("Annotations/m" + i + ".xml"), annotation("m" + i, "5,3,20,25"));
        }
        writeSplit("many", ids.toArray(String[]::new));
        assertThatThrownBy(() -> DatasetCheck.run(List.of(split("many", false)), TruncatedImages.LOAD))
                .isInstanceOf(DatasetProblemsException.class)
                .hasMessageContaining("13 problems").hasMessageContaining("m9.jpg: image file not found")
                .hasMessageNotContaining("m10.jpg").hasMessageEndingWith("; and 3 more");
    }

    @Test
    void imagesAboveThePixelLimitAreProblems() {
        VocDataset small = new VocDataset(voc, "trainval", false, NAMES, 40L * 30 - 1);
        assertThatThrownBy(() -> DatasetCheck.run(List.of(small), TruncatedImages.LOAD))
                .isInstanceOf(DatasetProblemsException.class).hasMessageContaining("3 problems")
                .hasMessageContaining("a.jpg: JPEG image of 40 x 30 = 1200 pixels exceeds the limit of 1199");
    }

    /** b: a real JPEG 20 bytes short; d: a PNG (named .jpg, as happens) without its IEND chunk. */
    private void truncate() throws Exception {
        Files.write(voc.resolve("JPEGImages/b.jpg"), TruncatedImageFiles.jpegShort(30, 40));
        Files.write(voc.resolve("JPEGImages/d.jpg"), TruncatedImageFiles.pngWithoutIend(30, 40));
    }

    @Test
    void truncatedLoadKeepsThemWithOneWarningEachAndTheyDecode() throws Exception {
        truncate();
        DatasetCheck.Result r = DatasetCheck.run(List.of(split("trainval", false), split("test", true)), TruncatedImages.LOAD);
        assertThat(r.warnings()).containsExactly(
                voc.resolve("JPEGImages/b.jpg") + ": JPEG without its end marker (EOI): the file is truncated; its "
                        + "missing part is filled in when it is decoded (truncated_images: load)",
                voc.resolve("JPEGImages/d.jpg") + ": PNG without its IEND chunk: the file is truncated; its missing "
                        + "part is filled in when it is decoded (truncated_images: load)");
        assertThat(r.datasets().get(0).ids()).containsExactly("a", "b", "c");
        try (PointerScope s = new PointerScope()) {
            assertThat(Tensors.shape(r.datasets().get(0).get(1).image())).containsExactly(3, 30, 40);
            assertThat(Tensors.shape(r.datasets().get(1).get(0).image())).containsExactly(3, 30, 40);
        }
    }

    @Test
    void truncatedSkipLeavesThemOutWithAWarning() throws Exception {
        truncate();
        DatasetCheck.Result r = DatasetCheck.run(List.of(split("trainval", false), split("test", true)), TruncatedImages.SKIP);
        assertThat(r.datasets().get(0).ids()).containsExactly("a", "c");
        assertThat(r.datasets().get(1).ids()).containsExactly("e");
        assertThat(r.warnings()).hasSize(2);
        assertThat(r.warnings().get(0)).startsWith(voc.resolve("JPEGImages/b.jpg").toString())
                .endsWith("left out of split 'trainval' (truncated_images: skip)");
        assertThat(r.warnings().get(1)).startsWith(voc.resolve("JPEGImages/d.jpg").toString())
                .endsWith("left out of split 'test' (truncated_images: skip)");
    }

    @Test
    void truncatedErrorRefusesThemAllUpFront() throws Exception {
        truncate();
        assertThatThrownBy(() -> DatasetCheck.run(List.of(split("trainval", false), split("test", true)), TruncatedImages.ERROR))
                .isInstanceOf(DatasetProblemsException.class).hasMessageContaining("2 problems")
                .hasMessageContaining(voc.resolve("JPEGImages/b.jpg") + ": JPEG without its end marker (EOI): the file "
                        + "is truncated (truncated_images: error")
                .hasMessageContaining(voc.resolve("JPEGImages/d.jpg") + ": PNG without its IEND chunk");
    }

    @Test
    void aFileCutBeforeItsImageDataIsAProblemEvenWithLoad() throws Exception {
        byte[] jpg = TruncatedImageFiles.encoded(".jpg", 30, 40);
        int sos = 2;
        while (!((jpg[sos] & 0xFF) == 0xFF && (jpg[sos + 1] & 0xFF) == 0xDA)) sos++;
        Files.write(voc.resolve("JPEGImages/c.jpg"), java.util.Arrays.copyOf(jpg, sos));
        assertThatThrownBy(() -> DatasetCheck.run(List.of(split("trainval", false)), TruncatedImages.LOAD))
                .isInstanceOf(DatasetProblemsException.class)
                .hasMessageContaining(voc.resolve("JPEGImages/c.jpg") + ": JPEG without its end marker (EOI): the file is "
                        + "truncated, and not a decodable image even with its end completed");
    }

    @Test
    void boxesOutsideTheImageAreClippedWithOneWarningPerSplit() throws Exception {
        Files.writeString(voc.resolve("Annotations/b.xml"), annotation("b", "5,3,20,25", "-3,2,10,10", "30,5,48,12"));
        Files.writeString(voc.resolve("Annotations/c.xml"), annotation("c", "45,1,60,9"));
        DatasetCheck.Result r = DatasetCheck.run(List.of(split("trainval", false), split("test", true)), TruncatedImages.LOAD);
        assertThat(r.warnings()).containsExactly("split 'trainval': 3 boxes in 2 files of " + voc.resolve("Annotations")
                + " extend beyond their image and were clipped to it (first: b.xml object 2); 1 of them was empty after "
                + "clipping and dropped");
        assertThat(r.datasets().get(0).annotation(2).size()).isZero();
    }

    @Test
    void anXmlSizeThatDisagreesWithTheImageIsReported() throws Exception {
        Files.writeString(voc.resolve("Annotations/e.xml"), annotation("e", "5,3,20,25")
                .replace("<width>40</width><height>30</height>", "<width>30</width><height>40</height>"));
        DatasetCheck.Result r = DatasetCheck.run(List.of(split("test", true)), TruncatedImages.LOAD);
        assertThat(r.warnings()).containsExactly("split 'test': 1 file of " + voc.resolve("Annotations") + " gives a "
                + "<size> that differs from the image's (first: e.xml says 30 x 40, the image is 40 x 30); the image's "
                + "size is used");
    }

    @Test
    void duplicateIdsAreKeptWithOneWarningNamingTheSplitFile() throws Exception {
        writeSplit("trainval", "a", "b", "a", "c", "b", "a");
        DatasetCheck.Result r = DatasetCheck.run(List.of(split("trainval", false)), TruncatedImages.LOAD);
        assertThat(r.datasets().get(0).size()).isEqualTo(6);
        assertThat(r.images()).isEqualTo(3);
        assertThat(r.warnings()).containsExactly(voc.resolve("ImageSets/Main/trainval.txt") + " lists 2 ids more than "
                + "once (a x3, b x2): kept as listed, as the reference does, so each epoch trains on 3 more images");
    }
}
