package dev.frcnn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.frcnn.api.Detector;
import dev.frcnn.api.DetectorOptions;
import dev.frcnn.data.SyntheticVoc;
import dev.frcnn.io.StateDictFiles;
import dev.frcnn.model.Detection;
import dev.frcnn.model.TorchvisionFasterRCNN;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TvFpnFixture;
import dev.frcnn.testing.TvFpnModels;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.bytedeco.pytorch.global.torch.randn;

/**
 * torchvision's Faster R-CNN ResNet-50 FPN through the command line and the API ({@code --set backbone=resnet50_fpn},
 * docs/torchvision.md): a torchvision-layout {@code .pth} of the fixture's formula weights ({@code tv_fpn_forward.json})
 * gives the fixture's end-to-end detections (the README's per-label set rule) from {@code bin/frcnn detect} and from
 * {@link Detector}; {@code eval} runs; mismatched files exit with 2 naming the file. The tests that write the 167 MB
 * file are in the slow profile; the error tests are fast.
 */
class TorchvisionCliTest {
    /** The parity test's end-to-end tolerances, with the JSON's float32 round trip. */
    private static final double BOX_ATOL = 2e-3;
    private static final double SCORE_ATOL = 2e-5;

    @TempDir
    static Path dir;

    private static Path formulaPth;
    private static Path image;

    /** The formula-weight model as torchvision saves it (written once per JVM, about 10 s). */
    private static synchronized Path formulaPth() throws IOException {
        if (formulaPth == null) formulaPth = TvFpnModels.writeFormulaPth(dir.resolve("fasterrcnn_resnet50_fpn.pth"));
        return formulaPth;
    }

    /** The fixture's input pixels (uint8 RGB) as a lossless PNG, so that every decoder reads the same image. */
    private static synchronized Path image() throws IOException {
        if (image == null) {
            Golden g = TvFpnFixture.forward();
            long[] hwc = g.longs("input_image_rgb_hwc");
            long[] shape = Tensors.shape(g.tensor("input_image_rgb_hwc"));
            int h = (int) shape[0], w = (int) shape[1];
            BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int i = 3 * (y * w + x);
                    img.setRGB(x, y, (int) (hwc[i] << 16 | hwc[i + 1] << 8 | hwc[i + 2]));
                }
            }
            image = dir.resolve("fixture-input.png");
            ImageIO.write(img, "png", image.toFile());
        }
        return image;
    }

    private static List<String> sizeSets() {
        JsonNode m = TvFpnFixture.model(TvFpnFixture.forward());
        return List.of("--set", "min_size=" + m.get("min_size").asInt(), "--set", "max_size=" + m.get("max_size").asInt());
    }

    /** The detections against the fixture's, as torchvision's (x1, y1, x2, y2) and labels = class index + 1. */
    private static void assertFixtureDetections(List<float[]> boxes, List<Float> scores, List<Long> labels) {
        Golden g = TvFpnFixture.forward();
        float[] b = new float[boxes.size() * 4];
        float[] s = new float[scores.size()];
        long[] l = new long[labels.size()];
        for (int i = 0; i < s.length; i++) {
            System.arraycopy(boxes.get(i), 0, b, 4 * i, 4);
            s[i] = scores.get(i);
            l[i] = labels.get(i);
        }
        try (PointerScope ps = new PointerScope()) {
            TvFpnFixture.assertDetectionsMatch(Tensors.fromFloats(b, s.length, 4), Tensors.fromFloats(s, s.length),
                    Tensors.fromLongs(l, l.length), g.floats("det_boxes"), g.floats("det_scores"), g.longs("det_labels"),
                    BOX_ATOL, SCORE_ATOL);
        }
    }

    @Test
    @Tag("slow")
    void detectWithATorchvisionPthGivesTheFixturesDetections() throws IOException {
        Path out = dir.resolve("detect-out");
        List<String> args = new ArrayList<>(List.of("detect", "--weights", formulaPth().toString(),
                "--set", "backbone=resnet50_fpn", "--preset", "evaluate", "--out", out.toString()));
        args.addAll(sizeSets());
        args.add(image().toString());
        CliTest.Run r = CliTest.run(args.toArray(new String[0]));
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode json = new ObjectMapper().readTree(out.resolve("fixture-input.json").toFile());
        List<float[]> boxes = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        List<Long> labels = new ArrayList<>();
        for (JsonNode d : json.get("detections")) {
            boxes.add(new float[]{d.get("xmin").floatValue(), d.get("ymin").floatValue(), d.get("xmax").floatValue(),
                    d.get("ymax").floatValue()});
            scores.add(d.get("score").floatValue());
            labels.add(d.get("class_index").asLong() + 1);
            // the 91-class checkpoint is read with torchvision's COCO category names
            assertThat(d.get("label").asText()).isEqualTo(
                    dev.frcnn.model.TorchvisionCocoCategories.FOREGROUND.get(d.get("class_index").asInt()));
        }
        assertFixtureDetections(boxes, scores, labels);
    }

    @Test
    @Tag("slow")
    void theDetectorApiGivesTheFixturesDetections() throws IOException {
        JsonNode m = TvFpnFixture.model(TvFpnFixture.forward());
        DetectorOptions options = DetectorOptions.builder().preset("evaluate")
                .configOverrides(List.of("backbone=resnet50_fpn"))
                .minSize(m.get("min_size").asInt()).maxSize(m.get("max_size").asInt()).build();
        try (Detector d = Detector.load(formulaPth(), options)) {
            List<Detection> dets = d.detect(image());
            List<float[]> boxes = new ArrayList<>();
            List<Float> scores = new ArrayList<>();
            List<Long> labels = new ArrayList<>();
            for (Detection x : dets) {
                boxes.add(new float[]{x.xmin(), x.ymin(), x.xmax(), x.ymax()});
                scores.add(x.score());
                labels.add((long) x.classIndex() + 1);
            }
            assertFixtureDetections(boxes, scores, labels);
        }
    }

    @Test
    @Tag("slow")
    void evalRunsWithAFineTunedClassCount() throws IOException {
        // The formula weights with a 4 + 1 class predictor: the first rows of the COCO predictor.
        Path file;
        TorchvisionFasterRCNN model = TvFpnModels.model();
        try (PointerScope s = new PointerScope()) {
            Map<String, Tensor> targets = TvFpnFixture.targets(model, "");
            Map<String, Tensor> sd = new LinkedHashMap<>();
            for (String k : model.stateDictKeys()) {
                Tensor t = targets.get(k);
                if (k.startsWith("roi_heads.box_predictor.cls_score.")) t = t.narrow(0, 0, 5);
                if (k.startsWith("roi_heads.box_predictor.bbox_pred.")) t = t.narrow(0, 0, 20);
                sd.put(k, t);
            }
            file = StateDictFiles.writeTensors(dir.resolve("five-classes.pth"), sd);
        }
        Path data = new SyntheticVoc(5, 96, 128).write(dir.resolve("voc"), 1, 2);
        CliTest.Run r = CliTest.run("eval", "--weights", file.toString(), "--data", data.toString(),
                "--set", "backbone=resnet50_fpn", "--set", "class_names=[\"circle\",\"square\",\"triangle\",\"cross\"]");
        assertThat(r.code()).as(r.err()).isZero();
        String[] lines = r.out().strip().split("\n");
        assertThat(lines[lines.length - 1]).matches("mAP: \\d+\\.\\d+");
        assertThat(r.out()).contains("AP circle");
    }

    @Test
    void aMismatchedFileExitsWithTwoNamingTheFileAndTheKeys() throws IOException {
        Path file = StateDictFiles.write(dir.resolve("wrong.pth"),
                List.of("backbone.body.conv1.weight", "rpn.head.extra.weight"));
        CliTest.Run r = CliTest.run("detect", "--weights", file.toString(), "--set", "backbone=resnet50_fpn",
                "--out", dir.resolve("never").toString(), image().toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip()).contains(file.toString()).contains("resnet50_fpn")
                .contains("rpn.head.extra.weight").contains("roi_heads.box_predictor.cls_score.weight")
                .doesNotContain("Exception");
        assertThat(dir.resolve("never")).doesNotExist();
    }

    @Test
    void anotherClassCountWithoutClassNamesExitsWithTwoNamingTheCounts() throws IOException {
        Path file;
        try (PointerScope s = new PointerScope()) {
            Map<String, Tensor> sd = new LinkedHashMap<>();
            sd.put("roi_heads.box_predictor.cls_score.weight", randn(5, 1024));
            file = StateDictFiles.writeTensors(dir.resolve("five.pth"), sd);
        }
        CliTest.Run r = CliTest.run("detect", "--weights", file.toString(), "--set", "backbone=resnet50_fpn",
                "--out", dir.resolve("never5").toString(), image().toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip()).contains(file.toString()).contains("5 classes").contains("no class_names")
                .contains("91").contains("4 foreground class names");

        CliTest.Run named = CliTest.run("detect", "--weights", file.toString(), "--set", "backbone=resnet50_fpn",
                "--set", "class_names=[\"a\",\"b\"]", "--out", dir.resolve("never5").toString(), image().toString());
        assertThat(named.code()).isEqualTo(2);
        assertThat(named.err().strip()).contains(file.toString()).contains("5 classes")
                .contains("class_names has 2 names (3 classes)");
    }
}
