package dev.frcnn.api;

import dev.frcnn.data.DataException;
import dev.frcnn.io.WeightsDoNotFitException;
import dev.frcnn.model.Detection;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TinyModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The public facade on a small random detector (2 classes, the {@code evaluate} preset, so that every image has
 * detections): concurrent calls equal sequential ones, the three input forms agree, a closed detector refuses work,
 * and bad inputs raise typed exceptions naming the file.
 */
class DetectorTest {
    @TempDir
    static Path dir;
    static Path ckpt;
    static List<Path> images = new ArrayList<>();
    static Detector detector;

    @BeforeAll
    static void setUp() throws IOException {
        ckpt = TinyModels.checkpoint(dir.resolve("tiny.ckpt"), TinyModels.Size.DEMO, TinyModels.TWO_SHAPES);
        images.add(Golden.file("demo.jpg"));
        Random r = new Random(7);
        for (int k = 0; k < 3; k++) {
            BufferedImage img = new BufferedImage(160 + 40 * k, 120 + 30 * k, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = img.createGraphics();
            g.setColor(new Color(r.nextInt(256), r.nextInt(256), r.nextInt(256)));
            g.fillRect(0, 0, img.getWidth(), img.getHeight());
            for (int s = 0; s < 6; s++) {
                g.setColor(new Color(r.nextInt(256), r.nextInt(256), r.nextInt(256)));
                int x = r.nextInt(img.getWidth() - 30), y = r.nextInt(img.getHeight() - 30);
                if (s % 2 == 0) g.fillOval(x, y, 20 + r.nextInt(30), 20 + r.nextInt(30));
                else g.fillRect(x, y, 20 + r.nextInt(30), 20 + r.nextInt(30));
            }
            g.dispose();
            Path p = dir.resolve("shapes" + k + ".png");
            ImageIO.write(img, "png", p.toFile());
            images.add(p);
        }
        detector = Detector.load(ckpt, DetectorOptions.builder().preset("evaluate").build());
    }

    @AfterAll
    static void tearDown() {
        if (detector != null) detector.close();
    }

    @Test
    void fourThreadsTimesTwentyFiveCallsEqualTheSequentialResults() throws Exception {
        List<List<Detection>> sequential = detector.detectAll(images);
        for (List<Detection> d : sequential) assertThat(d).as("a test image without detections proves nothing").isNotEmpty();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<List<String>>> futures = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int thread = t;
                futures.add(pool.submit(() -> {
                    List<String> mismatches = new ArrayList<>();
                    for (int i = 0; i < 25; i++) {
                        int k = (thread + i) % images.size();
                        List<Detection> got = detector.detect(images.get(k));
                        if (!got.equals(sequential.get(k))) mismatches.add("thread " + thread + " call " + i + " image " + k);
                    }
                    return mismatches;
                }));
            }
            for (Future<List<String>> f : futures) assertThat(f.get()).isEmpty();
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void bytesAndBufferedImageGiveTheSameDetectionsAsTheFile() throws IOException {
        Path png = images.get(1);
        List<Detection> fromFile = detector.detect(png);
        assertThat(detector.detect(Files.readAllBytes(png))).isEqualTo(fromFile);
        assertThat(detector.detect(ImageIO.read(png.toFile()))).isEqualTo(fromFile);
    }

    @Test
    void detectionsAreInOriginalImagePixelsWithTheCheckpointsClassNames() throws IOException {
        BufferedImage img = ImageIO.read(images.get(2).toFile());
        assertThat(detector.classNames()).isEqualTo(TinyModels.TWO_SHAPES);
        for (Detection d : detector.detect(images.get(2))) {
            assertThat(d.label()).isEqualTo(TinyModels.TWO_SHAPES.get(d.classIndex()));
            assertThat(d.score()).isGreaterThan(0.05f).isLessThanOrEqualTo(1f);
            assertThat(d.xmin()).isBetween(0f, d.xmax());
            assertThat(d.xmax()).isLessThanOrEqualTo(img.getWidth());
            assertThat(d.ymin()).isBetween(0f, d.ymax());
            assertThat(d.ymax()).isLessThanOrEqualTo(img.getHeight());
        }
    }

    @Test
    void thresholdsAreFixedPerDetector() throws IOException {
        try (Detector strict = Detector.load(ckpt, DetectorOptions.builder().thresholds(0.3, 0.4).build())) {
            List<Detection> all = detector.detect(images.get(0)), high = strict.detect(images.get(0));
            assertThat(high).allSatisfy(d -> assertThat(d.score()).isGreaterThan(0.4f));
            assertThat(high.size()).isLessThan(all.size());
            assertThat(detector.detect(images.get(0))).as("the other detector's thresholds are unchanged").isEqualTo(all);
        }
    }

    @Test
    void detectAfterCloseIsAnIllegalStateException() throws IOException {
        Detector d = Detector.load(ckpt);
        d.detect(images.get(1));
        d.close();
        d.close();
        assertThatThrownBy(() -> d.detect(images.get(1))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("tiny.ckpt").hasMessageContaining("closed");
        assertThatThrownBy(() -> d.detect(new byte[]{1, 2})).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> d.detectAll(images)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void badImagesAreDataExceptionsNamingTheFileAndTheProblem() throws IOException {
        Path notImage = Files.writeString(dir.resolve("notes.jpg"), "not an image");
        assertThatThrownBy(() -> detector.detect(notImage)).isInstanceOf(DataException.class)
                .hasMessageContaining("notes.jpg").hasMessageContaining("not a decodable image");
        assertThatThrownBy(() -> detector.detect(dir.resolve("missing.jpg"))).isInstanceOf(DataException.class)
                .hasMessageContaining("missing.jpg").hasMessageContaining("not found");
        assertThatThrownBy(() -> detector.detect(new byte[]{1, 2, 3})).isInstanceOf(DataException.class)
                .hasMessageContaining("encoded image (3 bytes)").hasMessageContaining("not a decodable image");
        assertThatThrownBy(() -> detector.detect(new byte[0])).isInstanceOf(DataException.class)
                .hasMessageContaining("empty");
    }

    @Test
    void badWeightsAreTypedExceptionsNamingTheFile() throws IOException {
        assertThatThrownBy(() -> Detector.load(dir.resolve("nope.pth"))).isInstanceOf(NoSuchFileException.class)
                .hasMessageContaining("nope.pth");
        Path garbage = Files.write(dir.resolve("garbage.pth"), new byte[]{1, 2, 3, 4, 5});
        assertThatThrownBy(() -> Detector.load(garbage)).isInstanceOf(dev.frcnn.io.WeightsFormatException.class)
                .hasMessageContaining("garbage.pth");
        DetectorOptions resnet = DetectorOptions.builder().configOverrides(List.of("backbone=resnet50")).build();
        assertThatThrownBy(() -> Detector.load(ckpt, resnet)).isInstanceOf(WeightsDoNotFitException.class)
                .hasMessageContaining("tiny.ckpt").hasMessageContaining("do not fit the resnet50 model with 2 classes");
    }

    @Test
    void optionsAreValidatedAndImmutable() {
        assertThatThrownBy(() -> DetectorOptions.builder().preset("fast")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("visualize or evaluate");
        assertThatThrownBy(() -> DetectorOptions.builder().thresholds(0.3, 1.5)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DetectorOptions.builder().device("tpu")).isInstanceOf(IllegalArgumentException.class);
        DetectorOptions.Builder b = DetectorOptions.builder().minSize(300);
        DetectorOptions o = b.build();
        b.minSize(500).preset("evaluate");
        assertThat(o.minSize()).isEqualTo(300);
        assertThat(o.thresholds()).isEqualTo(dev.frcnn.model.roi.Thresholds.VISUALIZE);
        assertThat(DetectorOptions.defaults().thresholds().scoreThresh()).isEqualTo(0.7);
    }
}
