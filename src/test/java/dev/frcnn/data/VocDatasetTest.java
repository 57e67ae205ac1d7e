package dev.frcnn.data;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imwrite;

/** {@link VocDataset} on a tiny VOC tree built in a temporary directory. */
@SuppressWarnings("try")
class VocDatasetTest {
    @TempDir
    Path root;

    private Path voc;

    private static String object(String name, int difficult, String xmin, String ymin, String xmax, String ymax) {
        return "<object><name>" + name + "</name><pose>Left</pose><truncated>0</truncated>"
                + (difficult >= 0 ? "<difficult>" + difficult + "</difficult>" : "")
                + "<bndbox><xmin>" + xmin + "</xmin><ymin>" + ymin + "</ymin><xmax>" + xmax + "</xmax><ymax>" + ymax
                + "</ymax></bndbox></object>";
    }

    private static String annotation(String file, String... objects) {
        return "<annotation><folder>VOC2007</folder><filename>" + file + "</filename>"
                + "<size><width>40</width><height>30</height><depth>3</depth></size><segmented>0</segmented>"
                + String.join("", objects) + "</annotation>";
    }

    private void writeImage(String id, int b, int g, int r) {
        try (PointerScope s = new PointerScope()) {
            Mat m = new Mat(30, 40, CV_8UC3, new org.bytedeco.opencv.opencv_core.Scalar(b, g, r, 0));
            assertThat(imwrite(voc.resolve("JPEGImages").resolve(id + ".jpg").toString(), m)).isTrue();
        }
    }

    private void writeXml(String id, String xml) throws Exception {
        Files.writeString(voc.resolve("Annotations").resolve(id + ".xml"), xml);
    }

    private void writeSplit(String split, String... ids) throws Exception {
        Files.writeString(voc.resolve("ImageSets/Main").resolve(split + ".txt"), String.join("\n", ids) + "\n");
    }

    @BeforeEach
    void buildTree() throws Exception {
        voc = root.resolve("VOCdevkit/VOC2007");
        Files.createDirectories(voc.resolve("ImageSets/Main"));
        Files.createDirectories(voc.resolve("Annotations"));
        Files.createDirectories(voc.resolve("JPEGImages"));
        writeImage("000001", 0, 0, 200);    // red in RGB
        writeImage("000002", 200, 0, 0);    // blue
        writeXml("000001", annotation("000001.jpg",
                object("dog", 0, "5", "3", "20", "25"),
                object("person", 1, "1", "1", "40", "30"),
                object("  Cat ", 0, "10", "12", "30", "18")));
        // one object only (no XML array), no <difficult> tag, with a <part> child like VOC's person layout
        writeXml("000002", annotation("000002.jpg",
                "<object><name>tvmonitor</name><part><name>head</name></part>"
                        + "<bndbox><xmin>2</xmin><ymin>4</ymin><xmax>11.0</xmax><ymax>9</ymax></bndbox></object>"));
        writeSplit("trainval", "000001", "", "000002");
    }

    @Test
    void readsTrainSplitDroppingDifficult() {
        VocDataset ds = new VocDataset(voc, "trainval", false);
        assertThat(ds.size()).isEqualTo(2);
        assertThat(ds.ids()).containsExactly("000001", "000002");
        assertThat(ds.labelNames()).hasSize(20).startsWith("aeroplane").endsWith("tvmonitor");
        try (PointerScope s = new PointerScope()) {
            DetectionDataset.Example e = ds.get(0);
            assertThat(e.id()).isEqualTo("000001");
            assertThat(Tensors.shape(e.image())).containsExactly(3, 30, 40);
            assertThat(Tensors.isType(e.image(), ScalarType.Float)).isTrue();
            float[] mean = Tensors.toFloatArray(e.image().mean(new long[] {1, 2}));
            assertThat(mean[0]).isGreaterThan(180f);      // R
            assertThat(mean[2]).isLessThan(20f);          // B
            // (ymin, xmin, ymax, xmax) - 1; the difficult person is dropped
            assertThat(Tensors.shape(e.bbox())).containsExactly(2, 4);
            assertThat(Tensors.isType(e.bbox(), ScalarType.Float)).isTrue();
            assertThat(Tensors.toFloatArray(e.bbox())).containsExactly(2, 4, 24, 19, 11, 9, 17, 29);
            assertThat(Tensors.isType(e.label(), ScalarType.Long)).isTrue();
            assertThat(Tensors.toLongArray(e.label())).containsExactly(11, 7);   // dog, cat
            assertThat(Tensors.isType(e.difficult(), ScalarType.Bool)).isTrue();
            assertThat(Tensors.toLongArray(e.difficult())).containsExactly(0, 0);

            DetectionDataset.Example e2 = ds.get(1);
            assertThat(Tensors.toFloatArray(e2.bbox())).containsExactly(3, 1, 8, 10);
            assertThat(Tensors.toLongArray(e2.label())).containsExactly(19);
        }
    }

    @Test
    void testSplitKeepsDifficultAndFlagsIt() {
        VocDataset ds = new VocDataset(voc, "trainval", true);
        VocDataset.Annotation a = ds.annotation(0);
        assertThat(a.size()).isEqualTo(3);
        assertThat(a.label()).containsExactly(11, 14, 7);
        assertThat(a.difficult()).containsExactly(false, true, false);
        assertThat(a.bbox()).containsExactly(2, 4, 24, 19, 0, 0, 29, 39, 11, 9, 17, 29);
        try (PointerScope s = new PointerScope()) {
            assertThat(Tensors.toLongArray(ds.get(0).difficult())).containsExactly(0, 1, 0);
        }
    }

    @Test
    void customClassNames() {
        VocDataset ds = new VocDataset(voc, "trainval", true, List.of("Person", "dog", "cat", "tvmonitor"));
        assertThat(ds.annotation(0).label()).containsExactly(1, 0, 2);
        assertThat(ds.annotation(1).label()).containsExactly(3);
        assertThatThrownBy(() -> new VocDataset(voc, "trainval", true, List.of("dog", "DOG")))
                .isInstanceOf(dev.frcnn.error.UserInputException.class).hasMessage("class name 'dog' given twice");
    }

    @Test
    void missingSplitFile() {
        Path f = voc.resolve("ImageSets/Main/test.txt");
        assertThatThrownBy(() -> new VocDataset(voc, "test", true)).isInstanceOf(DataException.class)
                .hasMessageContaining(f.toString()).hasMessageContaining("split file not found");
    }

    @Test
    void emptySplitFile() throws Exception {
        writeSplit("empty", "");
        assertThatThrownBy(() -> new VocDataset(voc, "empty", true)).isInstanceOf(DataException.class)
                .hasMessageContaining("empty.txt").hasMessageContaining("no image ids");
    }

    /** Writes a one-image split "bad" whose annotation is {@code xml} (or none) and expects an error naming the file. */
    private void expectError(String xml, boolean withImage, String fileSuffix, String... messageParts) throws Exception {
        writeSplit("bad", "bad1");
        if (xml != null) writeXml("bad1", xml);
        if (withImage) writeImage("bad1", 1, 2, 3);
        VocDataset ds = new VocDataset(voc, "bad", true);
        Path file = voc.resolve(fileSuffix);
        var assertion = assertThatThrownBy(() -> {
            try (PointerScope s = new PointerScope()) {
                ds.get(0);
            }
        }).isInstanceOf(DataException.class).hasMessageContaining(file.toString());
        for (String p : messageParts) assertion.hasMessageContaining(p);
        assertThat(((DataException) catchThrowable(ds)).file()).isEqualTo(file);
    }

    private static Throwable catchThrowable(VocDataset ds) {
        try (PointerScope s = new PointerScope()) {
            ds.get(0);
        } catch (Throwable t) {
            return t;
        }
        throw new AssertionError("no exception");
    }

    @Test
    void missingAnnotation() throws Exception {
        expectError(null, true, "Annotations/bad1.xml", "annotation file not found");
    }

    @Test
    void corruptAnnotation() throws Exception {
        expectError("<annotation><object><name>dog</name>", true, "Annotations/bad1.xml", "malformed annotation XML");
    }

    @Test
    void missingImage() throws Exception {
        expectError(annotation("bad1.jpg", object("dog", 0, "1", "1", "5", "5")), false, "JPEGImages/bad1.jpg",
                "image file not found");
    }

    @Test
    void corruptImage() throws Exception {
        writeSplit("bad", "bad1");
        writeXml("bad1", annotation("bad1.jpg", object("dog", 0, "1", "1", "5", "5")));
        Path img = Files.writeString(voc.resolve("JPEGImages/bad1.jpg"), "garbage");
        VocDataset ds = new VocDataset(voc, "bad", true);
        assertThatThrownBy(() -> {
            try (PointerScope s = new PointerScope()) {
                ds.get(0);
            }
        }).isInstanceOf(DataException.class).hasMessageContaining(img.toString()).hasMessageContaining("not a decodable image");
    }

    @Test
    void unknownClassName() throws Exception {
        expectError(annotation("bad1.jpg", object("dog", 0, "1", "1", "5", "5"), object("unicorn", 0, "1", "1", "5", "5")),
                true, "Annotations/bad1.xml", "object 2", "unknown class name 'unicorn'");
    }

    @Test
    void emptyBox() throws Exception {
        expectError(annotation("bad1.jpg", object("dog", 0, "3", "1", "3", "5")), true, "Annotations/bad1.xml",
                "empty or inverted box");
    }

    @Test
    void invertedBox() throws Exception {
        expectError(annotation("bad1.jpg", object("dog", 0, "1", "9", "5", "2")), true, "Annotations/bad1.xml",
                "empty or inverted box", "(9, 1, 2, 5)");
    }

    @Test
    void nonNumericCoordinate() throws Exception {
        expectError(annotation("bad1.jpg", object("dog", 0, "1", "abc", "5", "5")), true, "Annotations/bad1.xml",
                "<ymin> is not a number: 'abc'");
        expectError(annotation("bad1.jpg", object("dog", 0, "1", "2", "5", "")), true, "Annotations/bad1.xml",
                "<ymax> is not a number");
    }

    @Test
    void missingCoordinateAndName() throws Exception {
        expectError(annotation("bad1.jpg", "<object><name>dog</name><bndbox><xmin>1</xmin><ymin>1</ymin>"
                + "<xmax>4</xmax></bndbox></object>"), true, "Annotations/bad1.xml", "<bndbox> has no <ymax>");
        expectError(annotation("bad1.jpg", "<object><bndbox><xmin>1</xmin><ymin>1</ymin>"
                + "<xmax>4</xmax><ymax>4</ymax></bndbox></object>"), true, "Annotations/bad1.xml", "missing <name>");
    }

    @Test
    void noObjectsGivesEmptyTensors() throws Exception {
        writeSplit("none", "none1");
        writeXml("none1", annotation("none1.jpg"));
        writeImage("none1", 1, 2, 3);
        VocDataset ds = new VocDataset(voc, "none", false);
        try (PointerScope s = new PointerScope()) {
            DetectionDataset.Example e = ds.get(0);
            assertThat(Tensors.shape(e.bbox())).containsExactly(0, 4);
            assertThat(Tensors.shape(e.label())).containsExactly(0);
            assertThat(Tensors.shape(e.difficult())).containsExactly(0);
        }
    }

    /**
     * Boxes beyond the 40 x 30 image are clipped to VOC's 1-based [1, 40] x [1, 30] (0-based [0, 39] x [0, 29]); a box
     * wholly outside is empty after clipping and dropped. The reference (and this class before) kept them as given.
     */
    @Test
    void boxesBeyondTheImageAreClippedAndEmptyOnesDropped() throws Exception {
        writeSplit("clip", "clip1");
        writeImage("clip1", 1, 2, 3);
        writeXml("clip1", annotation("clip1.jpg",
                object("dog", 0, "5", "3", "20", "25"),          // inside: unchanged
                object("cat", 0, "-4", "0", "45", "31"),         // beyond every side: clipped
                object("person", 0, "41", "2", "60", "9"),       // wholly right of the image: dropped
                object("bird", 0, "30", "10", "40.5", "30")));   // just beyond the last column: clipped
        VocDataset ds = new VocDataset(voc, "clip", false);
        VocDataset.Annotation a = ds.annotation(0);
        assertThat(a.label()).containsExactly(11, 7, 2);
        assertThat(a.bbox()).containsExactly(2, 4, 24, 19, 0, 0, 29, 39, 9, 29, 29, 39);
        assertThat(a.fixes().clipped()).isEqualTo(3);
        assertThat(a.fixes().dropped()).isEqualTo(1);
        assertThat(a.fixes().firstObject()).isEqualTo(2);
        try (PointerScope s = new PointerScope()) {
            assertThat(Tensors.toFloatArray(ds.get(0).bbox())).containsExactly(2, 4, 24, 19, 0, 0, 29, 39, 9, 29, 29, 39);
        }
    }

    /** The image's own size wins over an annotation's {@code <size>} that disagrees with it. */
    @Test
    void theImageSizeWinsOverTheXmlSize() throws Exception {
        writeSplit("size", "size1");
        writeImage("size1", 1, 2, 3);   // 40 x 30
        writeXml("size1", annotation("size1.jpg", object("dog", 0, "5", "3", "100", "80"))
                .replace("<width>40</width><height>30</height>", "<width>400</width><height>300</height>"));
        VocDataset.Annotation a = new VocDataset(voc, "size", false).annotation(0);
        assertThat(a.bbox()).containsExactly(2, 4, 29, 39);
        assertThat(a.fixes().sizeMismatch()).isTrue();
        assertThat(a.fixes().declaredWidth()).isEqualTo(400);
        assertThat(a.fixes().imageWidth()).isEqualTo(40);
    }

    /** Ids listed twice are kept, as the reference keeps them, and listed by {@link VocDataset#duplicateIds()}. */
    @Test
    void duplicateIdsAreKeptAndListed() throws Exception {
        writeSplit("dup", "000001", "000002", "000001", "000001");
        VocDataset ds = new VocDataset(voc, "dup", false);
        assertThat(ds.ids()).containsExactly("000001", "000002", "000001", "000001");
        assertThat(ds.duplicateIds()).containsExactly(java.util.Map.entry("000001", 3));
        assertThat(new VocDataset(voc, "trainval", false).duplicateIds()).isEmpty();
    }
}
