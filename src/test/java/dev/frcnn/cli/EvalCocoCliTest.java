package dev.frcnn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.frcnn.eval.CocoDetections;
import dev.frcnn.eval.CocoEval;
import dev.frcnn.eval.CocoGroundTruth;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.RaccoonData;
import dev.frcnn.testing.TinyModels;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * {@code bin/frcnn eval --metric coco --results r.json} and {@code detect --format coco} on the raccoon test images
 * (the first 6, in the VOC layout and converted to COCO JSON) with the tests' tiny detector (random weights from a
 * fixed seed): the AP printed is {@link CocoEval} of {@code r.json} read back against the converted ground-truth file
 * (what pycocotools would read); VOC data gives the same results file (the converter's ids) and reports COCO AP beside
 * VOC mAP; bad inputs exit with 2 and one line naming the file.
 */
class EvalCocoCliTest {
    @TempDir
    static Path dir;
    static Path voc, coco, ckpt;

    @BeforeAll
    static void data() throws IOException {
        voc = RaccoonData.vocSubset(dir.resolve("voc"), 1, 6);
        coco = RaccoonData.toCoco(voc, dir.resolve("coco"), "test");
        ckpt = TinyModels.checkpoint(dir.resolve("raccoon.ckpt"), TinyModels.Size.SMALL, RaccoonData.CLASSES);
    }

    private static String lastLine(String out) {
        List<String> lines = out.lines().toList();
        return lines.get(lines.size() - 1);
    }

    private static double value(String line, String prefix) {
        assertThat(line).startsWith(prefix);
        return Double.parseDouble(line.substring(prefix.length()).strip());
    }

    @Test
    void printedApIsCocoEvalOfTheResultsFileAgainstTheConvertedGroundTruth() throws IOException {
        Path results = dir.resolve("r.json");
        CliTest.Run r = CliTest.run("eval", "--weights", ckpt.toString(), "--data", coco.toString(), "--split", "test",
                "--metric", "coco", "--results", results.toString());
        assertThat(r.code()).as(r.err()).isZero();
        double printed = value(lastLine(r.out()), "AP: ");

        CocoDetections dets = CocoDetections.read(results);
        assertThat(dets.detections()).as("detections of the tiny model on 6 raccoon images").isNotEmpty();
        JsonNode first = new ObjectMapper().readTree(results.toFile()).get(0);
        assertThat(first.get("category_id").asLong()).isEqualTo(1);
        assertThat(first.get("bbox").size()).isEqualTo(4);
        CocoEval.Result expected = CocoEval.evaluate(
                CocoGroundTruth.read(coco.resolve("annotations/instances_test.json")), dets, CocoEval.Params.defaults());
        assertThat(printed).isCloseTo(expected.stats()[0], within(5e-7));
        // the comparison is sharp: some detections match at IoU 0.5
        assertThat(expected.stats()[1]).isPositive();
        // the 12 lines of pycocotools' summarize(), 3 decimals
        List<String> summary = r.out().lines().filter(l -> l.startsWith(" Average ")).toList();
        assertThat(summary).hasSize(12);
        for (int k = 0; k < 12; k++) {
            assertThat(summary.get(k)).endsWith(String.format(Locale.ROOT, "= %.3f", expected.stats()[k]));
        }
        assertThat(summary.get(0)).isEqualTo(String.format(Locale.ROOT,
                " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = %.3f", expected.stats()[0]));
        assertThat(r.out()).contains(String.format(Locale.ROOT, "AP@[.5:.95] raccoon        %.4f",
                expected.perCategoryAp()[0]));
    }

    @Test
    void vocDataGivesTheSameResultsFileAndCocoApBesideVocMap() throws IOException {
        Path fromCoco = dir.resolve("from-coco.json"), fromVoc = dir.resolve("from-voc.json");
        CliTest.Run c = CliTest.run("eval", "--weights", ckpt.toString(), "--annotations",
                coco.resolve("annotations/instances_test.json").toString(), "--images", coco.resolve("test").toString(),
                "--metric", "coco", "--results", fromCoco.toString());
        assertThat(c.code()).as(c.err()).isZero();
        CliTest.Run both = CliTest.run("eval", "--weights", ckpt.toString(), "--data", voc.toString(),
                "--metric", "voc07,coco", "--results", fromVoc.toString());
        assertThat(both.code()).as(both.err()).isZero();
        CliTest.Run vocOnly = CliTest.run("eval", "--weights", ckpt.toString(), "--data", voc.toString());
        assertThat(vocOnly.code()).as(vocOnly.err()).isZero();

        assertThat(Files.readString(fromVoc)).isEqualTo(Files.readString(fromCoco));
        assertThat(lastLine(both.out())).isEqualTo(lastLine(c.out()));
        assertThat(lastLine(vocOnly.out())).startsWith("mAP: ");
        assertThat(both.out().lines().toList()).contains("== voc07 ==", "== coco ==", lastLine(vocOnly.out()));
    }

    @Test
    void detectFormatCocoWritesTheResultsOfItsImages() throws IOException {
        Path img = dir.resolve("imgs/42.jpg"), out = dir.resolve("det");
        Files.createDirectories(img.getParent());
        Files.copy(RaccoonData.DIR.resolve("JPEGImages/raccoon-1.jpg"), img);
        CliTest.Run r = CliTest.run("detect", "--weights", ckpt.toString(), "--preset", "evaluate", "--format", "coco",
                "--out", out.toString(), img.toString());
        assertThat(r.code()).as(r.err()).isZero();
        CocoDetections dets = CocoDetections.read(out.resolve("results.json"));
        assertThat(dets.detections()).isNotEmpty().allSatisfy(d -> {
            assertThat(d.imageId()).isEqualTo(42);
            assertThat(d.categoryId()).isEqualTo(1);
        });
        assertThat(out.resolve("42.png")).doesNotExist();
    }

    @Test
    void badInputsExitWithTwoAndOneLineNamingTheFile() throws IOException {
        Path empty = Files.createDirectories(dir.resolve("empty"));
        CliTest.Run r = CliTest.run("eval", "--weights", ckpt.toString(), "--data", empty.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().lines().toList()).hasSize(1);
        assertThat(r.err()).contains(empty.resolve("ImageSets/Main/test.txt").toString())
                .contains(empty.resolve("annotations/instances_test.json").toString());

        Path missing = dir.resolve("missing.json");
        r = CliTest.run("eval", "--weights", ckpt.toString(), "--annotations", missing.toString(), "--images",
                coco.resolve("test").toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().lines().toList()).hasSize(1);
        assertThat(r.err()).contains(missing.toString());

        // the layout's annotation file without its image folder
        Path noImages = dir.resolve("no-images/annotations");
        Files.createDirectories(noImages);
        Files.copy(coco.resolve("annotations/instances_test.json"), noImages.resolve("instances_test.json"));
        r = CliTest.run("eval", "--weights", ckpt.toString(), "--data", noImages.getParent().toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().lines().toList()).hasSize(1);
        assertThat(r.err()).contains(noImages.getParent().resolve("test").toString());

        r = CliTest.run("eval", "--weights", ckpt.toString(), "--data", coco.toString(), "--metric", "map");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--metric").contains("voc07, voc, coco").contains("map");

        r = CliTest.run("eval", "--weights", ckpt.toString(), "--data", coco.toString(), "--annotations",
                missing.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--data DIR, or as --annotations FILE with --images DIR");

        r = CliTest.run("train", "--out", dir.resolve("run").toString(), "--annotations",
                coco.resolve("annotations/instances_test.json").toString(), "--images", coco.resolve("test").toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("--test-annotations");

        r = CliTest.run("detect", "--weights", ckpt.toString(), "--format", "coco", "--out",
                dir.resolve("det-bad").toString(), Golden.file("demo.jpg").toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().lines().toList()).hasSize(1);
        assertThat(r.err()).contains("demo.jpg").contains("integer");
    }
}
