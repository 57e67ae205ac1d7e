package dev.frcnn.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The streaming reader on a generated instances JSON of COCO's shape: 5,000 images, 100,000 annotations (with
 * polygon segmentations, which are skipped unread), 80 categories with ids 1..90 with gaps. Prints the load time;
 * asserts what was loaded, not how fast.
 */
class CocoLargeFileTest {
    @TempDir
    Path dir;

    private static final int IMAGES = 5_000, ANNOTATIONS = 100_000;

    /** COCO's 80 ids in 1..90: the gaps are 12, 26, 29, 30, 45, 66, 68, 69, 71, 83. */
    private static int[] categoryIds() {
        java.util.Set<Integer> gaps = java.util.Set.of(12, 26, 29, 30, 45, 66, 68, 69, 71, 83);
        return java.util.stream.IntStream.rangeClosed(1, 90).filter(i -> !gaps.contains(i)).toArray();
    }

    @Test
    void loadsAHundredThousandAnnotations() throws IOException {
        int[] cats = categoryIds();
        assertThat(cats).hasSize(80);
        Path json = dir.resolve("instances_big.json");
        try (BufferedWriter w = Files.newBufferedWriter(json)) {
            w.write("{\"info\": {\"description\": \"synthetic\"}, \"images\": [");
            for (int i = 0; i < IMAGES; i++) {
                if (i > 0) w.write(',');
                w.write(String.format(Locale.ROOT, "{\"id\": %d, \"file_name\": \"%012d.jpg\", \"width\": 640, "
                        + "\"height\": 480, \"license\": 3}", 1000 + i, 1000 + i));
            }
            w.write("], \"categories\": [");
            for (int c = 0; c < cats.length; c++) {
                if (c > 0) w.write(',');
                w.write("{\"id\": " + cats[c] + ", \"name\": \"cat" + cats[c] + "\", \"supercategory\": \"x\"}");
            }
            w.write("], \"annotations\": [");
            for (int a = 0; a < ANNOTATIONS; a++) {
                if (a > 0) w.write(',');
                int img = 1000 + a % IMAGES;
                double x = a % 600, y = a % 440, bw = 1 + a % 37, bh = 1.5 + a % 29;
                w.write(String.format(Locale.ROOT, "{\"segmentation\": [[%.1f, %.1f, %.1f, %.1f, %.1f, %.1f]], "
                                + "\"area\": %.2f, \"iscrowd\": 0, \"image_id\": %d, \"bbox\": [%.1f, %.1f, %.1f, %.1f], "
                                + "\"category_id\": %d, \"id\": %d}", x, y, x + bw, y, x, y + bh, bw * bh, img, x, y,
                        bw, bh, cats[a % cats.length], 500_000 + a));
            }
            w.write("]}");
        }
        long t0 = System.nanoTime();
        CocoDataset ds = new CocoDataset(json, dir, CocoDataset.Mode.TRAIN);
        double seconds = (System.nanoTime() - t0) / 1e9;
        System.out.printf(Locale.ROOT, "CocoDataset: %d annotations (%.1f MB) loaded in %.2f s%n", ANNOTATIONS,
                Files.size(json) / 1e6, seconds);
        assertThat(ds.size()).isEqualTo(IMAGES);
        assertThat(ds.labelNames()).hasSize(80);
        long total = 0;
        for (int i = 0; i < ds.size(); i++) total += ds.annotation(i).size();
        assertThat(total).isEqualTo(ANNOTATIONS);
        // Annotation 12345 is the 3rd of image 1000 + 12345 % 5000 = 3345 (index 2345), with category 80 ids later.
        int a = 12_345;
        CocoDataset.CocoBoxes b = ds.annotation(a % IMAGES);
        int k = a / IMAGES;
        assertThat(b.annotationIds()[k]).isEqualTo(500_000 + a);
        double x = a % 600, y = a % 440, bw = 1 + a % 37, bh = 1.5 + a % 29;
        assertThat(new float[] {b.bbox()[4 * k], b.bbox()[4 * k + 1], b.bbox()[4 * k + 2], b.bbox()[4 * k + 3]})
                .containsExactly((float) y, (float) x, (float) (y + bh), (float) (x + bw));
        assertThat(ds.categories().id(b.label()[k])).isEqualTo(cats[a % 80]);
    }
}
