package dev.frcnn.eval;

import dev.frcnn.data.CocoDataset;
import dev.frcnn.data.DatasetLayouts;
import dev.frcnn.data.DetectionDataset;
import dev.frcnn.data.ExifOrientationMode;
import dev.frcnn.data.ImageReader;
import dev.frcnn.data.VocDataset;
import dev.frcnn.testing.RaccoonData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link CocoGroundTruths}: the COCO metric's ground truth built from a dataset is the ground truth pycocotools reads
 * from the same dataset converted to COCO JSON ({@link CocoGroundTruth#read} of the converter's file: same images,
 * categories, annotation ids, boxes, areas, order), for the VOC original and for the converted COCO dataset; crowd
 * regions are {@code iscrowd} ignore regions and a COCO file's {@code area} is kept.
 */
class CocoGroundTruthsTest {
    @TempDir
    Path tmp;

    @Test
    void raccoonGroundTruthIsTheConvertedFile() throws IOException {
        Path voc = RaccoonData.vocSubset(tmp.resolve("voc"), 1, 0);
        Path coco = RaccoonData.toCoco(voc, tmp.resolve("coco"), "test");
        CocoGroundTruth file = CocoGroundTruth.read(coco.resolve("annotations/instances_test.json"));
        VocDataset vocTest = new VocDataset(voc, "test", true, RaccoonData.CLASSES);
        DetectionDataset cocoTest = DatasetLayouts.open(DatasetLayouts.Source.layout(coco, "test"), false,
                RaccoonData.CLASSES, ImageReader.DEFAULT_MAX_PIXELS, ExifOrientationMode.APPLY);
        assertThat(cocoTest).isInstanceOf(CocoDataset.class);
        assertThat(file.images()).hasSize(40);
        assertThat(file.annotations()).hasSizeGreaterThanOrEqualTo(40);
        for (DetectionDataset ds : List.of(vocTest, cocoTest)) {
            CocoGroundTruth gt = CocoGroundTruths.of(ds, ds.size());
            assertSame(gt, file);
        }
        // the first n images only
        CocoGroundTruth five = CocoGroundTruths.of(vocTest, 5);
        assertThat(five.images()).extracting(CocoGroundTruth.Image::id).containsExactly(1L, 2L, 3L, 4L, 5L);
        assertThat(five.annotations()).allSatisfy(a -> assertThat(a.imageId()).isBetween(1L, 5L));
    }

    private static void assertSame(CocoGroundTruth gt, CocoGroundTruth file) {
        assertThat(gt.images()).extracting(CocoGroundTruth.Image::id)
                .containsExactlyElementsOf(file.images().stream().map(CocoGroundTruth.Image::id).toList());
        assertThat(gt.categories()).isEqualTo(file.categories());
        assertThat(gt.annotations()).hasSameSizeAs(file.annotations());
        for (int k = 0; k < gt.annotations().size(); k++) {
            CocoGroundTruth.Annotation a = gt.annotations().get(k), b = file.annotations().get(k);
            assertThat(a.id()).isEqualTo(b.id());
            assertThat(a.imageId()).isEqualTo(b.imageId());
            assertThat(a.categoryId()).isEqualTo(b.categoryId());
            assertThat(a.bbox()).as("annotation " + b.id()).containsExactly(b.bbox());
            assertThat(a.area()).isEqualTo(b.area());
            assertThat(a.iscrowd()).isEqualTo(b.iscrowd());
        }
    }

    @Test
    void crowdRegionsAreIgnoreRegions() throws IOException {
        // image 7: a person box and a crowd region; a detection on the person and a higher-scored one inside the crowd
        Path json = tmp.resolve("instances_val.json");
        Files.createDirectories(tmp.resolve("val"));
        Files.writeString(json, """
                {"images": [{"id": 7, "file_name": "a.jpg", "width": 200, "height": 100}],
                 "categories": [{"id": 3, "name": "person"}],
                 "annotations": [
                   {"id": 11, "image_id": 7, "category_id": 3, "bbox": [10, 10, 40, 60], "area": 1000, "iscrowd": 0},
                   {"id": 12, "image_id": 7, "category_id": 3, "bbox": [100, 0, 100, 100], "area": 10000, "iscrowd": 1}
                 ]}""");
        CocoDataset ds = new CocoDataset(json, tmp.resolve("val"), CocoDataset.Mode.EVALUATE);
        CocoGroundTruth gt = CocoGroundTruths.of(ds, ds.size());
        assertThat(gt.annotations()).extracting(CocoGroundTruth.Annotation::iscrowd).containsExactly(false, true);
        // the file's area (a segmentation's), not w * h, as pycocotools takes it
        assertThat(gt.annotations()).extracting(CocoGroundTruth.Annotation::area).containsExactly(1000.0, 10000.0);
        CocoDetections dets = new CocoDetections(List.of(
                new CocoDetections.Detection(1, 7, 3, new double[] {120, 20, 30, 30}, 0.95),
                new CocoDetections.Detection(2, 7, 3, new double[] {10, 10, 40, 60}, 0.9)));
        CocoEval.Result r = CocoEval.evaluate(gt, dets, CocoEval.Params.defaults());
        // the detection inside the crowd region is ignored, not a false positive: AP 1
        assertThat(r.stats()[0]).isCloseTo(1.0, org.assertj.core.api.Assertions.within(1e-12));
        assertThat(r.stats()).containsExactly(CocoEval.evaluate(CocoGroundTruth.read(json), dets,
                CocoEval.Params.defaults()).stats());
    }
}
