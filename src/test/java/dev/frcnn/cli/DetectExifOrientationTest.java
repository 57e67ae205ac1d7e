package dev.frcnn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.frcnn.api.Detector;
import dev.frcnn.api.DetectorOptions;
import dev.frcnn.data.DecodedImage;
import dev.frcnn.data.ExifOrientationMode;
import dev.frcnn.model.Detection;
import dev.frcnn.testing.ExifImages;
import dev.frcnn.testing.Golden;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.opencv.opencv_core.Mat;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static dev.frcnn.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_COLOR;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_IGNORE_ORIENTATION;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imdecode;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imread;

/**
 * A photo stored sideways with EXIF Orientation 6 ({@code rotated.jpg}) against the same photo stored upright
 * ({@code upright.jpg}) and the stored frame without the tag ({@code sideways.jpg}), through {@code bin/frcnn detect}
 * and {@link Detector}: by default the rotated photo gives the upright photo's detections, JSON size and drawing; with
 * {@code exif_orientation: ignore} it gives the stored frame's, boxes, size and drawing alike. The photo is the
 * fixture's in flat 8 x 8 blocks, whose rotation survives JPEG exactly ({@link ExifImages#blocky}); the model is a
 * random tiny detector under the {@code evaluate} preset, which gives detections on it.
 */
@SuppressWarnings("try")
class DetectExifOrientationTest {
    @TempDir
    static Path dir;
    static Path ckpt;
    static Path upright;
    static Path rotated;
    static Path sideways;

    @BeforeAll
    static void writeFiles() throws IOException {
        ckpt = ExtremeInputsCliTest.tinyCheckpoint(dir.resolve("tiny.ckpt"));
        try (PointerScope s = new PointerScope()) {
            Mat photo = imdecode(new Mat(Files.readAllBytes(Golden.file("demo.jpg"))), IMREAD_COLOR | IMREAD_IGNORE_ORIENTATION);
            Mat blocky = ExifImages.blocky(photo); // 496 x 368
            byte[] stored = ExifImages.jpeg444(ExifImages.stored(blocky, 6)); // 368 x 496
            upright = Files.write(dir.resolve("upright.jpg"), ExifImages.jpeg444(blocky));
            rotated = Files.write(dir.resolve("rotated.jpg"), ExifImages.jpegWithOrientation(stored, 6));
            sideways = Files.write(dir.resolve("sideways.jpg"), stored);
        }
    }

    /** Per detection: class index, score, xmin, ymin, xmax, ymax. */
    static List<double[]> fromJson(JsonNode json) {
        List<double[]> out = new ArrayList<>();
        for (JsonNode d : json.get("detections")) {
            out.add(new double[] {d.get("class_index").asInt(), d.get("score").asDouble(), d.get("xmin").asDouble(),
                    d.get("ymin").asDouble(), d.get("xmax").asDouble(), d.get("ymax").asDouble()});
        }
        return out;
    }

    static List<double[]> fromApi(List<Detection> dets) {
        List<double[]> out = new ArrayList<>();
        for (Detection d : dets) {
            out.add(new double[] {d.classIndex(), d.score(), d.xmin(), d.ymin(), d.xmax(), d.ymax()});
        }
        return out;
    }

    /** Same classes in the same order, scores within 1e-3, every box coordinate within 3 px. */
    static boolean same(List<double[]> a, List<double[]> b) {
        if (a.size() != b.size()) return false;
        for (int i = 0; i < a.size(); i++) {
            double[] x = a.get(i), y = b.get(i);
            if (x[0] != y[0] || Math.abs(x[1] - y[1]) > 1e-3) return false;
            for (int k = 2; k < 6; k++) if (Math.abs(x[k] - y[k]) > 3) return false;
        }
        return true;
    }

    static JsonNode json(Path out, String stem) throws IOException {
        return new ObjectMapper().readTree(out.resolve(stem + ".json").toFile());
    }

    /** The drawn PNG's pixels, and its size matches the JSON's. */
    static byte[] drawing(Path out, String stem, JsonNode json) {
        Mat png = imread(out.resolve(stem + ".png").toString());
        assertThat(png.cols()).as(stem + ".png width").isEqualTo(json.get("width").asInt());
        assertThat(png.rows()).as(stem + ".png height").isEqualTo(json.get("height").asInt());
        return ExifImages.bytes(png);
    }

    @Test
    void detectOnARotatedPhotoGivesTheUprightPhotosDetectionsSizeAndDrawing() throws IOException {
        Path out = dir.resolve("apply");
        CliTest.Run r = run("detect", "--weights", ckpt.toString(), "--preset", "evaluate", "--out", out.toString(),
                upright.toString(), rotated.toString(), sideways.toString());
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode up = json(out, "upright"), rot = json(out, "rotated"), side = json(out, "sideways");
        assertThat(fromJson(up)).as("a test without detections proves nothing").isNotEmpty();
        assertThat(fromJson(side)).isNotEmpty();
        assertThat(same(fromJson(up), fromJson(side))).as("the two frames give different detections").isFalse();

        assertThat(rot.get("width").asInt()).isEqualTo(496);
        assertThat(rot.get("height").asInt()).isEqualTo(368);
        assertThat(up.get("width").asInt()).isEqualTo(496);
        assertThat(side.get("width").asInt()).isEqualTo(368);
        assertThat(same(fromJson(rot), fromJson(up))).as("rotated.jpg's detections are upright.jpg's").isTrue();
        try (PointerScope s = new PointerScope()) {
            assertThat(drawing(out, "rotated", rot)).as("the drawing").isEqualTo(drawing(out, "upright", up));
            drawing(out, "sideways", side);
        }

        // exif_orientation: ignore: the stored frame throughout
        Path raw = dir.resolve("ignore");
        CliTest.Run ri = run("detect", "--weights", ckpt.toString(), "--preset", "evaluate", "--set",
                "exif_orientation=ignore", "--out", raw.toString(), rotated.toString());
        assertThat(ri.code()).as(ri.err()).isZero();
        JsonNode rotRaw = json(raw, "rotated");
        assertThat(rotRaw.get("width").asInt()).isEqualTo(368);
        assertThat(rotRaw.get("height").asInt()).isEqualTo(496);
        assertThat(same(fromJson(rotRaw), fromJson(side))).as("boxes in the stored frame").isTrue();
        try (PointerScope s = new PointerScope()) {
            assertThat(drawing(raw, "rotated", rotRaw)).as("the drawing").isEqualTo(drawing(out, "sideways", side));
        }

        // the API gives what the command line wrote
        try (Detector d = Detector.load(ckpt, DetectorOptions.builder().preset("evaluate").build())) {
            assertThat(same(fromApi(d.detect(rotated)), fromJson(up))).as("detect(Path)").isTrue();
            assertThat(same(fromApi(d.detect(Files.readAllBytes(rotated))), fromJson(up))).as("detect(byte[])").isTrue();
            try (DecodedImage img = d.decode(rotated)) {
                assertThat(img.width()).isEqualTo(496);
                assertThat(img.height()).isEqualTo(368);
                assertThat(same(fromApi(d.detect(img)), fromJson(up))).as("detect(DecodedImage)").isTrue();
            }
        }
        try (Detector d = Detector.load(ckpt, DetectorOptions.builder().preset("evaluate")
                .exifOrientation(ExifOrientationMode.IGNORE).build())) {
            assertThat(d.config().exifOrientationMode()).isEqualTo(ExifOrientationMode.IGNORE);
            assertThat(same(fromApi(d.detect(rotated)), fromJson(side))).as("ignore: detect(Path)").isTrue();
            try (DecodedImage img = d.decode(rotated)) {
                assertThat(img.width()).isEqualTo(368);
                assertThat(img.height()).isEqualTo(496);
            }
        }
    }
}
