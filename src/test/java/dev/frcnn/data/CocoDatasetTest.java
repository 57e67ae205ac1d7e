package dev.frcnn.data;

import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeEach;
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

/** {@link CocoDataset} on a small instances JSON written here, in COCO 2017's layout. */
@SuppressWarnings("try")
class CocoDatasetTest {
    @TempDir
    Path root;

    private Path json;

    // Categories out of id order and with gaps: labels follow the sorted ids 1 (person), 18 (dog), 90 (toothbrush).
    private static final String CATEGORIES = """
            "categories": [{"id": 90, "name": "toothbrush", "supercategory": "indoor"},
                           {"id": 1, "name": "person"}, {"id": 18, "name": "dog"}]""";

    // Image 7 (40 x 30): a dog, a toothbrush reaching outside (clipped), a crowd person, a box wholly outside.
    // Image 3: no annotation. Image 12: a crowd region only. Image 5: a difficult object only.
    private static final String IMAGES = """
            "images": [{"id": 7, "file_name": "a.jpg", "width": 40, "height": 30, "license": 1},
                       {"id": 3, "file_name": "b.jpg", "width": 40, "height": 30},
                       {"id": 12, "file_name": "c.jpg", "width": 40, "height": 30},
                       {"id": 5, "file_name": "d.jpg", "width": 40, "height": 30}]""";

    private static final String ANNOTATIONS = """
            "annotations": [
              {"id": 100, "image_id": 7, "category_id": 18, "bbox": [2, 3, 10, 5.5], "area": 55, "iscrowd": 0,
               "segmentation": [[2, 3, 12, 3, 12, 8.5]]},
              {"id": 101, "image_id": 7, "category_id": 90, "bbox": [35, 25, 10, 10], "iscrowd": 0},
              {"id": 102, "image_id": 7, "category_id": 1, "bbox": [0, 0, 5, 5], "iscrowd": 1,
               "segmentation": {"counts": [0, 25], "size": [30, 40]}},
              {"id": 104, "image_id": 7, "category_id": 1, "bbox": [50, 50, 5, 5]},
              {"id": 103, "image_id": 12, "category_id": 1, "bbox": [1, 2, 3, 4], "iscrowd": 1},
              {"id": 105, "image_id": 5, "category_id": 18, "bbox": [4, 4, 6, 6], "difficult": 1}]""";

    @BeforeEach
    void setUp() throws IOException {
        json = write("val2017", "{\"info\": {\"year\": 2017}, " + IMAGES + ", " + CATEGORIES + ", " + ANNOTATIONS
                + ", \"licenses\": []}");
        Files.createDirectories(root.resolve("val2017"));
        try (PointerScope s = new PointerScope()) {
            Mat m = new Mat(30, 40, CV_8UC3, new org.bytedeco.opencv.opencv_core.Scalar(10, 20, 30, 0));
            assertThat(imwrite(root.resolve("val2017/a.jpg").toString(), m)).isTrue();
        }
    }

    private Path write(String split, String text) throws IOException {
        Path f = CocoDataset.layoutAnnotationFile(root, split);
        Files.createDirectories(f.getParent());
        return Files.writeString(f, text);
    }

    private CocoDataset read(CocoDataset.Mode mode, boolean keepEmpty) {
        return CocoDataset.fromLayout(root, "val2017", mode, keepEmpty, ImageReader.DEFAULT_MAX_PIXELS,
                ExifOrientationMode.APPLY);
    }

    @Test
    void categoryIdsMapToLabelsInIdOrder() {
        CocoDataset ds = read(CocoDataset.Mode.TRAIN, false);
        assertThat(ds.labelNames()).containsExactly("person", "dog", "toothbrush");
        assertThat(ds.categories().label(18)).isEqualTo(1);
        assertThat(ds.categories().id(2)).isEqualTo(90);
    }

    @Test
    void trainingKeepsOnlyImagesWithTargetsAndConvertsBoxesOnce() {
        CocoDataset ds = read(CocoDataset.Mode.TRAIN, false);
        assertThat(ds.ids()).containsExactly("7");
        assertThat(ds.split()).isEqualTo("val2017");
        assertThat(ds.imagePath(0)).isEqualTo(root.resolve("val2017").resolve("a.jpg"));
        CocoDataset.CocoBoxes b = ds.annotation(0);
        // [x, y, w, h] = [2, 3, 10, 5.5] -> (3, 2, 8.5, 12); [35, 25, 10, 10] clipped to the 40 x 30 image.
        assertThat(b.bbox()).containsExactly(3, 2, 8.5f, 12, 25, 35, 30, 40);
        assertThat(b.label()).containsExactly(1, 2);
        assertThat(b.difficult()).containsExactly(false, false);
        assertThat(b.annotationIds()).containsExactly(100, 101);
        // The crowd region is not a target but is kept apart.
        assertThat(ds.crowd(0).bbox()).containsExactly(0, 0, 5, 5);
        assertThat(ds.crowd(0).label()).containsExactly(0);
        assertThat(ds.crowd(0).annotationIds()).containsExactly(102);
        assertThat(ds.warnings()).hasSize(2);
        assertThat(ds.warnings().get(0)).contains(json.toString()).contains("2 boxes").contains("1 of them dropped")
                .contains("image id 7, annotation id 101");
        assertThat(ds.warnings().get(1)).contains("3 images without a training target");
    }

    @Test
    void evaluationKeepsEveryImageAndFlagsDifficultObjects() {
        CocoDataset ds = read(CocoDataset.Mode.EVALUATE, true);
        assertThat(ds.ids()).containsExactly("7", "3", "12", "5");
        assertThat(ds.imageId(2)).isEqualTo(12);
        assertThat(ds.annotation(1).size()).isZero();
        assertThat(ds.annotation(2).size()).isZero();
        assertThat(ds.crowd(2).bbox()).containsExactly(2, 1, 6, 4);
        assertThat(ds.annotation(3).bbox()).containsExactly(4, 4, 10, 10);
        assertThat(ds.annotation(3).difficult()).containsExactly(true);
        assertThat(ds.warnings()).hasSize(1);
    }

    @Test
    void trainingCanKeepEmptyImagesButDropsDifficultObjects() {
        CocoDataset ds = read(CocoDataset.Mode.TRAIN, true);
        assertThat(ds.ids()).containsExactly("7", "3", "12", "5");
        assertThat(ds.annotation(3).size()).isZero();
    }

    @Test
    void getDecodesTheImageWithItsTargets() {
        CocoDataset ds = read(CocoDataset.Mode.TRAIN, false);
        DetectionDataset generic = ds;
        try (PointerScope s = new PointerScope()) {
            DetectionDataset.Example e = generic.get(0);
            assertThat(e.id()).isEqualTo("7");
            assertThat(Tensors.shape(e.image())).containsExactly(3, 30, 40);
            assertThat(Tensors.isType(e.bbox(), ScalarType.Float)).isTrue();
            assertThat(Tensors.toFloatArray(e.bbox())).containsExactly(3, 2, 8.5f, 12, 25, 35, 30, 40);
            assertThat(Tensors.isType(e.label(), ScalarType.Long)).isTrue();
            assertThat(Tensors.toLongArray(e.label())).containsExactly(1, 2);
            assertThat(Tensors.isType(e.difficult(), ScalarType.Bool)).isTrue();
        }
    }

    @Test
    void explicitAnnotationFileAndImageFolder() {
        CocoDataset ds = new CocoDataset(json, root.resolve("val2017"), CocoDataset.Mode.EVALUATE);
        assertThat(ds.size()).isEqualTo(4);
        assertThat(ds.annotationFile()).isEqualTo(json);
    }

    private void expectError(String text, String... parts) throws IOException {
        Path f = write("bad", text);
        assertThatThrownBy(() -> CocoDataset.fromLayout(root, "bad", CocoDataset.Mode.TRAIN, false,
                ImageReader.DEFAULT_MAX_PIXELS, ExifOrientationMode.APPLY))
                .isInstanceOf(DataException.class)
                .hasMessageStartingWith(f.toString())
                .hasMessageContainingAll(parts);
    }

    private static String withAnnotation(String annotation) {
        return "{" + IMAGES + ", " + CATEGORIES + ", \"annotations\": [" + annotation + "]}";
    }

    @Test
    void zeroAreaBoxesAreRefusedNamingImageAndAnnotation() throws IOException {
        expectError(withAnnotation("{\"id\": 200, \"image_id\": 12, \"category_id\": 1, \"bbox\": [3, 4, 0, 7]}"),
                "image id 12, annotation id 200", "zero-area box", "[3, 4, 0, 7]");
    }

    @Test
    void badInputIsRefusedNamingTheId() throws IOException {
        expectError(withAnnotation("{\"id\": 201, \"image_id\": 7, \"category_id\": 2, \"bbox\": [1, 1, 2, 2]}"),
                "annotation id 201", "image id 7", "unknown category id 2");
        expectError(withAnnotation("{\"id\": 202, \"image_id\": 8, \"category_id\": 1, \"bbox\": [1, 1, 2, 2]}"),
                "annotation id 202", "unknown image id 8");
        expectError(withAnnotation("{\"id\": 203, \"image_id\": 7, \"category_id\": 1, \"bbox\": [1, 1, -2, 2]}"),
                "annotation id 203", "negative box size");
        expectError(withAnnotation("{\"id\": 204, \"image_id\": 7, \"category_id\": 1}"),
                "annotation id 204", "no 'bbox'");
        expectError(withAnnotation("{\"id\": 205, \"image_id\": \"7\", \"category_id\": 1, \"bbox\": [1, 1, 2, 2]}"),
                "annotation id 205", "'image_id' is not an integer");
        expectError(withAnnotation("{\"id\": 206, \"image_id\": 7, \"category_id\": 1, \"bbox\": [1, 1, 2]}"),
                "annotation id 206", "3 numbers");
        expectError(withAnnotation("{\"id\": 100, \"image_id\": 7, \"category_id\": 1, \"bbox\": [1, 1, 2, 2]},"
                + "{\"id\": 100, \"image_id\": 7, \"category_id\": 1, \"bbox\": [1, 1, 2, 2]}"),
                "annotation id 100 is given twice");
        expectError("{\"images\": [{\"id\": 1, \"file_name\": \"a.jpg\", \"width\": 4, \"height\": 4},"
                + "{\"id\": 1, \"file_name\": \"b.jpg\", \"width\": 4, \"height\": 4}], " + CATEGORIES
                + ", \"annotations\": []}", "image id 1 is given twice");
        expectError("{\"images\": [{\"id\": 9, \"file_name\": \"a.jpg\", \"width\": -4, \"height\": 4}], "
                + CATEGORIES + ", \"annotations\": []}", "image id 9", "not a positive image size");
        expectError("{\"images\": [{\"id\": 9, \"file_name\": \"../a.jpg\", \"width\": 4, \"height\": 4}], "
                + CATEGORIES + ", \"annotations\": []}", "image id 9", "not a file inside the image folder");
        expectError("{\"images\": [], " + CATEGORIES + "}", "no 'annotations' array");
        expectError("{\"images\": [", "malformed COCO JSON");
    }

    @Test
    void aMissingAnnotationFileIsNamed() {
        assertThatThrownBy(() -> CocoDataset.fromLayout(root, "train2017", CocoDataset.Mode.TRAIN, false,
                ImageReader.DEFAULT_MAX_PIXELS, ExifOrientationMode.APPLY))
                .isInstanceOf(DataException.class)
                .hasMessageContaining("instances_train2017.json").hasMessageContaining("not found");
    }

    @Test
    void vocDatasetIsADetectionDatasetToo() throws IOException {
        Path voc = root.resolve("voc");
        Files.createDirectories(voc.resolve("ImageSets/Main"));
        Files.write(voc.resolve("ImageSets/Main/test.txt"), List.of("x"));
        DetectionDataset ds = new VocDataset(voc, "test", true, List.of("dog"));
        assertThat(ds.ids()).containsExactly("x");
        assertThat(ds.imagePath(0)).isEqualTo(voc.resolve("JPEGImages/x.jpg"));
    }
}
