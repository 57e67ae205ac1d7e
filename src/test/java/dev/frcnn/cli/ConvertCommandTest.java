package dev.frcnn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.frcnn.data.CocoDataset;
import dev.frcnn.data.VocDataset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code frcnn convert} on the raccoon data of {@code ../shared/data/raccoon} (read in place; the outputs, in a
 * temporary folder, link to its images): VOC to COCO to VOC keeps every box and label exactly.
 */
class ConvertCommandTest {
    private static final Path DATA = Path.of("../shared/data/raccoon");
    private static final List<String> CLASSES = List.of("raccoon");

    @TempDir
    Path tmp;

    @Test
    void raccoonRoundTripKeepsEveryBox() throws IOException {
        assertThat(DATA.resolve("ImageSets/Main/trainval.txt")).as("the raccoon dataset (see ../shared/data/README.md)")
                .isRegularFile();
        for (String split : List.of("trainval", "test")) {
            Path coco = tmp.resolve("coco"), voc = tmp.resolve("voc");
            CliTest.Run r = CliTest.run("convert", "--from", "voc", "--to", "coco", "--data", DATA.toString(),
                    "--split", split, "--classes", "raccoon", "--out", coco.toString());
            assertThat(r.code()).as(r.err()).isZero();
            assertThat(r.out()).contains("instances_" + split + ".json");
            r = CliTest.run("convert", "--from", "coco", "--to", "voc", "--data", coco.toString(), "--split", split,
                    "--out", voc.toString());
            assertThat(r.code()).as(r.err()).isZero();

            VocDataset original = new VocDataset(DATA, split, true, CLASSES);
            CocoDataset asCoco = CocoDataset.fromLayout(coco, split, CocoDataset.Mode.EVALUATE, true,
                    dev.frcnn.data.ImageReader.DEFAULT_MAX_PIXELS, dev.frcnn.data.ExifOrientationMode.APPLY);
            VocDataset back = new VocDataset(voc, split, true, CLASSES);
            assertThat(asCoco.size()).isEqualTo(original.size());
            assertThat(back.ids()).isEqualTo(original.ids());
            int boxes = 0;
            for (int i = 0; i < original.size(); i++) {
                VocDataset.Annotation a = original.annotation(i);
                assertThat(asCoco.annotation(i).bbox()).as(original.ids().get(i)).containsExactly(a.bbox());
                assertThat(asCoco.annotation(i).label()).containsExactly(a.label());
                assertThat(asCoco.crowd(i).size()).isZero();
                assertThat(asCoco.imagePath(i).toRealPath()).isEqualTo(original.imagePath(i).toRealPath());
                VocDataset.Annotation b = back.annotation(i);
                assertThat(b.bbox()).as(original.ids().get(i)).containsExactly(a.bbox());
                assertThat(b.label()).containsExactly(a.label());
                assertThat(b.difficult()).containsExactly(a.difficult());
                assertThat(back.imagePath(i).toRealPath()).isEqualTo(original.imagePath(i).toRealPath());
                boxes += a.size();
            }
            assertThat(boxes).isPositive();
            deleteLinks(coco, voc);
            if (split.equals("trainval")) checkRaccoon1(coco, voc);
            deleteTree(coco);
            deleteTree(voc);
        }
    }

    /** raccoon-1.xml: a 650 x 417 image, one box xmin 81, ymin 88, xmax 522, ymax 408 (1-based, inclusive). */
    private static void checkRaccoon1(Path coco, Path voc) throws IOException {
        JsonNode root = new ObjectMapper().readTree(coco.resolve("annotations/instances_trainval.json").toFile());
        assertThat(root.get("categories").toString()).isEqualTo("[{\"id\":1,\"name\":\"raccoon\",\"supercategory\":\"none\"}]");
        long imageId = -1;
        for (JsonNode im : root.get("images")) {
            if (im.get("file_name").asText().equals("raccoon-1.jpg")) {
                imageId = im.get("id").asLong();
                assertThat(im.get("width").asInt()).isEqualTo(650);
                assertThat(im.get("height").asInt()).isEqualTo(417);
            }
        }
        assertThat(imageId).isPositive();
        int found = 0;
        for (JsonNode a : root.get("annotations")) {
            if (a.get("image_id").asLong() != imageId) continue;
            found++;
            assertThat(a.get("bbox").toString()).isEqualTo("[80,87,441,320]");
            assertThat(a.get("area").asLong()).isEqualTo(441L * 320);
            assertThat(a.get("iscrowd").asInt()).isZero();
            assertThat(a.get("category_id").asInt()).isEqualTo(1);
            assertThat(a.has("difficult")).isFalse();
        }
        assertThat(found).isEqualTo(1);
        String xml = Files.readString(voc.resolve("Annotations/raccoon-1.xml"));
        assertThat(xml).contains("<xmin>81</xmin>", "<ymin>88</ymin>", "<xmax>522</xmax>", "<ymax>408</ymax>",
                "<name>raccoon</name>", "<difficult>0</difficult>", "<width>650</width>", "<height>417</height>");
    }

    private static void deleteLinks(Path coco, Path voc) throws IOException {
        for (Path link : new Path[] {coco.resolve("trainval"), coco.resolve("test"), voc.resolve("JPEGImages")}) {
            if (Files.isSymbolicLink(link)) Files.delete(link);
        }
    }

    private static void deleteTree(Path p) throws IOException {
        try (var s = Files.walk(p)) {
            for (Path f : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(f);
        }
    }

    @Test
    void refusesConvertingAFormatToItself() {
        CliTest.Run r = CliTest.run("convert", "--from", "voc", "--to", "voc", "--data", "x", "--split", "t", "--out",
                tmp.resolve("o").toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("nothing to convert");
    }
}
