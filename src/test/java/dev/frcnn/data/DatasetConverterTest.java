package dev.frcnn.data;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.opencv.opencv_core.Mat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imwrite;

/** {@link DatasetConverter}: difficult objects, crowd regions, border boxes, decimals, and what it refuses. */
@SuppressWarnings("try")
class DatasetConverterTest {
    @TempDir
    Path tmp;

    private Path voc() throws IOException {
        Path voc = tmp.resolve("voc");
        Files.createDirectories(voc.resolve("ImageSets/Main"));
        Files.createDirectories(voc.resolve("Annotations"));
        Files.createDirectories(voc.resolve("JPEGImages"));
        Files.write(voc.resolve("ImageSets/Main/train.txt"), List.of("p", "q", "p"));
        try (PointerScope s = new PointerScope()) {
            Mat m = new Mat(30, 40, CV_8UC3, new org.bytedeco.opencv.opencv_core.Scalar(1, 2, 3, 0));
            assertThat(imwrite(voc.resolve("JPEGImages/p.jpg").toString(), m)).isTrue();
            assertThat(imwrite(voc.resolve("JPEGImages/q.jpg").toString(), m)).isTrue();
        }
        Files.writeString(voc.resolve("Annotations/p.xml"), "<annotation><size><width>40</width><height>30</height>"
                + "</size><object><name>Cat</name><difficult>1</difficult><bndbox><xmin>2</xmin><ymin>3</ymin>"
                + "<xmax>40</xmax><ymax>30</ymax></bndbox></object><object><name>dog</name><bndbox><xmin>5.5</xmin>"
                + "<ymin>6.25</ymin><xmax>9</xmax><ymax>10.1</ymax></bndbox></object></annotation>");
        Files.writeString(voc.resolve("Annotations/q.xml"), "<annotation><size><width>40</width><height>30</height>"
                + "</size></annotation>");
        return voc;
    }

    @Test
    void vocToCocoToVocKeepsDifficultFlagsAndDecimals() throws IOException {
        VocDataset original = new VocDataset(voc(), "train", true, List.of("cat", "dog"));
        DatasetConverter.Report r = DatasetConverter.vocToCoco(original, tmp.resolve("coco"), false);
        assertThat(r.images()).isEqualTo(2);   // p is listed twice, written once
        assertThat(r.boxes()).isEqualTo(2);
        String json = Files.readString(tmp.resolve("coco/annotations/instances_train.json"));
        assertThat(json).contains("\"bbox\":[1,2,38,27]").contains("\"difficult\":1");

        CocoDataset train = new CocoDataset(tmp.resolve("coco/annotations/instances_train.json"),
                tmp.resolve("coco/train"), CocoDataset.Mode.TRAIN);
        assertThat(train.ids()).containsExactly("1");   // q has no object; p's difficult cat is dropped
        assertThat(train.annotation(0).label()).containsExactly(1);
        CocoDataset eval = new CocoDataset(tmp.resolve("coco/annotations/instances_train.json"),
                tmp.resolve("coco/train"), CocoDataset.Mode.EVALUATE);
        VocDataset.Annotation p = original.annotation(0);
        assertThat(eval.annotation(0).bbox()).containsExactly(p.bbox());
        assertThat(eval.annotation(0).bbox()).containsExactly(2, 1, 29, 39, 5.25f, 4.5f, 9.1f, 8);
        assertThat(eval.annotation(0).difficult()).containsExactly(true, false);

        DatasetConverter.Report back = DatasetConverter.cocoToVoc(eval, tmp.resolve("back"), "train", false);
        assertThat(back.messages()).isEmpty();
        VocDataset again = new VocDataset(tmp.resolve("back"), "train", true, List.of("cat", "dog"));
        assertThat(again.ids()).containsExactly("p", "q");
        assertThat(again.annotation(0).bbox()).containsExactly(p.bbox());
        assertThat(again.annotation(0).difficult()).containsExactly(true, false);
        assertThat(again.annotation(1).size()).isZero();
    }

    @Test
    void cocoToVocWritesCrowdAsDifficultAndClampsBorderBoxes() throws IOException {
        Path json = tmp.resolve("instances_x.json");
        Files.writeString(json, "{\"images\": [{\"id\": 4, \"file_name\": \"im.jpg\", \"width\": 40, \"height\": 30}],"
                + "\"categories\": [{\"id\": 7, \"name\": \"cat\"}], \"annotations\": ["
                + "{\"id\": 1, \"image_id\": 4, \"category_id\": 7, \"bbox\": [0, 0, 40, 30]},"
                + "{\"id\": 2, \"image_id\": 4, \"category_id\": 7, \"bbox\": [3, 4, 5, 6], \"iscrowd\": 1}]}");
        Files.createDirectories(tmp.resolve("img"));
        CocoDataset coco = new CocoDataset(json, tmp.resolve("img"), CocoDataset.Mode.EVALUATE);
        DatasetConverter.Report r = DatasetConverter.cocoToVoc(coco, tmp.resolve("out"), "x", false);
        assertThat(r.boxes()).isEqualTo(2);
        assertThat(r.messages()).anySatisfy(m -> assertThat(m).contains("1 crowd region was written as difficult"));
        assertThat(r.messages()).anySatisfy(m -> assertThat(m).contains("1 box").contains("image id 4, annotation id 1"));
        String xml = Files.readString(tmp.resolve("out/Annotations/im.xml"));
        assertThat(xml).contains("<xmin>1</xmin>").contains("<xmax>40</xmax>")
                .contains("<ymax>30</ymax>").contains("<xmin>4</xmin>").contains("<ymax>11</ymax>");
        assertThat(Files.readAllLines(tmp.resolve("out/ImageSets/Main/x.txt"))).containsExactly("im");
    }

    @Test
    void refusesWhatVocCannotHoldAndExistingOutputs() throws IOException {
        Path json = tmp.resolve("instances_y.json");
        Files.writeString(json, "{\"images\": [{\"id\": 9, \"file_name\": \"im.png\", \"width\": 4, \"height\": 3}],"
                + "\"categories\": [{\"id\": 1, \"name\": \"a\"}], \"annotations\": []}");
        CocoDataset coco = new CocoDataset(json, tmp, CocoDataset.Mode.EVALUATE);
        assertThatThrownBy(() -> DatasetConverter.cocoToVoc(coco, tmp.resolve("o"), "y", false))
                .isInstanceOf(DataException.class).hasMessageStartingWith(json.toString())
                .hasMessageContaining("image id 9").hasMessageContaining(".jpg images only");
        VocDataset v = new VocDataset(voc(), "train", true, List.of("cat", "dog"));
        DatasetConverter.vocToCoco(v, tmp.resolve("c"), false);
        assertThatThrownBy(() -> DatasetConverter.vocToCoco(v, tmp.resolve("c"), false))
                .isInstanceOf(DataException.class).hasMessageContaining("already exists");
    }
}
