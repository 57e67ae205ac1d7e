package dev.frcnn.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link DatasetLayouts}, the one place that decides a dataset's format, on the demo's synthetic VOC data and its
 * COCO conversion: which layout a directory is, the class-name rule, the refusals naming the file, and
 * {@link DatasetCheck} over a COCO dataset (a missing image is a problem naming it; {@code skip} leaves a truncated
 * image out and keeps the dataset's type).
 */
class DatasetLayoutsTest {
    @TempDir
    Path tmp;

    private Path voc() {
        return new SyntheticVoc(3, 64, 96).write(tmp.resolve("voc"), 4, 3);
    }

    private static DetectionDataset open(DatasetLayouts.Source s, boolean training, List<String> names) {
        return DatasetLayouts.open(s, training, names, ImageReader.DEFAULT_MAX_PIXELS, ExifOrientationMode.APPLY);
    }

    @Test
    void theLayoutDecidesTheFormatAndBothReadTheSameBoxes() throws IOException {
        Path voc = voc();
        Path coco = tmp.resolve("coco");
        DatasetConverter.vocToCoco(new VocDataset(voc, "test", true, SyntheticVoc.CLASS_NAMES), coco, false);
        assertThat(DatasetLayouts.detect(voc, "test")).isEqualTo(DatasetLayouts.Format.VOC);
        assertThat(DatasetLayouts.detect(coco, "test")).isEqualTo(DatasetLayouts.Format.COCO);

        DetectionDataset v = open(DatasetLayouts.Source.layout(voc, "test"), false, SyntheticVoc.CLASS_NAMES);
        // COCO names its own categories: no class names needed, the same ones accepted
        DetectionDataset c = open(DatasetLayouts.Source.layout(coco, "test"), false, List.of());
        DetectionDataset f = open(DatasetLayouts.Source.files(coco.resolve("annotations/instances_test.json"),
                coco.resolve("test")), false, SyntheticVoc.CLASS_NAMES);
        assertThat(v).isInstanceOf(VocDataset.class);
        assertThat(c).isInstanceOf(CocoDataset.class);
        assertThat(c.labelNames()).isEqualTo(SyntheticVoc.CLASS_NAMES);
        assertThat(c.categories()).isEqualTo(v.categories());
        for (DetectionDataset d : List.of(c, f)) {
            assertThat(d.size()).isEqualTo(v.size());
            for (int i = 0; i < v.size(); i++) {
                assertThat(d.imageId(i)).isEqualTo(v.imageId(i)).isEqualTo(i + 1);
                assertThat(d.annotation(i).bbox()).containsExactly(v.annotation(i).bbox());
                assertThat(d.annotation(i).label()).containsExactly(v.annotation(i).label());
            }
        }
    }

    @Test
    void refusalsNameTheFile() throws IOException {
        Path voc = voc();
        Path coco = tmp.resolve("coco");
        DatasetConverter.vocToCoco(new VocDataset(voc, "test", true, SyntheticVoc.CLASS_NAMES), coco, false);
        assertThatThrownBy(() -> DatasetLayouts.detect(voc, "val")).isInstanceOf(DataException.class)
                .hasMessageContaining(voc.resolve("ImageSets/Main/val.txt").toString())
                .hasMessageContaining(voc.resolve("annotations/instances_val.json").toString());
        assertThatThrownBy(() -> open(DatasetLayouts.Source.layout(coco, "test"), false, List.of("circle", "dog")))
                .isInstanceOf(DataException.class).hasMessageContaining("instances_test.json")
                .hasMessageContaining("[circle, dog]");
        Path missing = tmp.resolve("none.json");
        assertThatThrownBy(() -> open(DatasetLayouts.Source.files(missing, coco.resolve("test")), false, List.of()))
                .isInstanceOf(DataException.class).hasMessageContaining(missing.toString());
        assertThatThrownBy(() -> open(DatasetLayouts.Source.files(coco.resolve("annotations/instances_test.json"),
                tmp.resolve("nowhere")), false, List.of()))
                .isInstanceOf(DataException.class).hasMessageContaining(tmp.resolve("nowhere").toString());
    }

    @Test
    void datasetCheckCoversCocoDatasets() throws IOException {
        Path voc = voc();
        Path coco = tmp.resolve("coco");
        DatasetConverter.vocToCoco(new VocDataset(voc, "test", true, SyntheticVoc.CLASS_NAMES), coco, true);
        DetectionDataset c = open(DatasetLayouts.Source.layout(coco, "test"), false, List.of());
        Path first = c.imagePath(0), second = c.imagePath(1);

        // a truncated image: skip leaves it out, and the dataset stays a COCO dataset
        byte[] bytes = Files.readAllBytes(second);
        Files.write(second, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        DatasetCheck.Result r = DatasetCheck.run(List.of(c), TruncatedImages.SKIP);
        assertThat(r.datasets().get(0)).isInstanceOf(CocoDataset.class);
        assertThat(r.datasets().get(0).ids()).doesNotContain(c.ids().get(1)).hasSize(c.size() - 1);
        assertThat(r.warnings()).anySatisfy(w -> assertThat(w).contains(second.toString()).contains("skip"));

        // a missing image is a problem naming it
        Files.delete(first);
        assertThatThrownBy(() -> DatasetCheck.run(List.of(c), TruncatedImages.LOAD))
                .isInstanceOf(DatasetProblemsException.class).hasMessageContaining(first.toString());
    }
}
