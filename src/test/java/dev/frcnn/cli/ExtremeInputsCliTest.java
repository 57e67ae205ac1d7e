package dev.frcnn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.frcnn.api.Detector;
import dev.frcnn.config.Config;
import dev.frcnn.data.SyntheticVoc;
import dev.frcnn.io.StateDictFiles;
import dev.frcnn.io.WeightsFormatException;
import dev.frcnn.testing.ChildJvm;
import dev.frcnn.testing.PngHeaders;
import dev.frcnn.testing.TinyModels;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static dev.frcnn.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Tiny and extreme images, and the inputs that used to give silent wrong answers, through the command line: each
 * gives either a normal result (exit 0) or exit 2 with one line naming the file and the problem, never a LibTorch
 * stack trace; headers are checked before the weights are read.
 */
class ExtremeInputsCliTest {
    @TempDir
    static Path dir;
    static Path ckpt;

    @BeforeAll
    static void writeCheckpoint() throws IOException {
        ckpt = tinyCheckpoint(dir.resolve("tiny.ckpt"));
    }

    /**
     * A random tiny-backbone detector (min_size 192, max_size 320, the default anchor scales, the demo's classes) as
     * a checkpoint.
     */
    static Path tinyCheckpoint(Path file) throws IOException {
        return TinyModels.checkpoint(file, TinyModels.configWithDefaultAnchors(TinyModels.Size.DEMO,
                TinyModels.SHAPE_CLASSES), SyntheticVoc.CLASS_NAMES);
    }

    /** A random detector of the demo's classes at min_size 192, max_size 320, with these settings, saved. */
    static Path checkpoint(Path file, String... settings) throws IOException {
        List<String> sets = new ArrayList<>(List.of(settings));
        sets.addAll(TinyModels.Size.DEMO.settings());
        sets.add(TinyModels.SHAPE_CLASSES);
        return TinyModels.checkpoint(file, Config.defaults().withOverrides(sets), SyntheticVoc.CLASS_NAMES);
    }

    static Path png(String name, int w, int h) throws IOException {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.setRGB(x, y, 0x808080 + ((x * 7 + y * 13) & 0x3F));
        Path p = dir.resolve(name);
        ImageIO.write(img, "png", p.toFile());
        return p;
    }

    /**
     * Before: exit 1 and LibTorch's "cannot reshape tensor of 0 elements into shape [0, -1]" (SqueezeNet's and
     * VGG16's heads flattened with a -1; the tiny backbone's did not, so this runs the reporter's backbone).
     */
    @Test
    void aOneByOnePngGivesNoDetectionsAndTheNormalFiles() throws IOException {
        Path sq = checkpoint(dir.resolve("squeezenet.ckpt"), "backbone=squeezenet1_1", "caffe_pretrain=true",
                "representation_size=64");
        Path tiny = png("one.png", 1, 1);
        Path out = dir.resolve("det-one");
        CliTest.Run r = run("detect", "--weights", sq.toString(), "--preset", "evaluate", "--out", out.toString(),
                tiny.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).doesNotContain("Exception").doesNotContain("frame #");
        JsonNode j = new ObjectMapper().readTree(out.resolve("one.json").toFile());
        assertThat(j.get("width").asInt()).isEqualTo(1);
        assertThat(j.get("detections").isArray()).isTrue();
        assertThat(j.get("detections").size()).isZero();
        assertThat(out.resolve("one.png")).exists();
        // the Java API: the same empty list
        try (Detector d = Detector.load(sq)) {
            assertThat(d.detect(tiny)).isEmpty();
        }
    }

    /** Before: exit 2 with "output size must be positive: 320x0", no file named. */
    @Test
    void aPngThatWouldResizeToAZeroPixelSideIsExitTwoNamingTheFileItsSizeAndTheSettings() throws IOException {
        Path tall = png("tall.png", 1, 20000);
        CliTest.Run r = run("detect", "--weights", ckpt.toString(), "--out", dir.resolve("det-tall").toString(),
                tall.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip()).doesNotContain("\n").startsWith("frcnn: " + tall)
                .contains("1 x 20000 pixels").contains("resized to 0 x 320").contains("min_size 192")
                .contains("max_size 320");
        // too narrow for the backbone although not 0: 2 x 1200 resizes to 1 x 320... and 10 x 400 to 8 x 320
        Path thin = png("thin.png", 10, 400);
        CliTest.Run t = run("detect", "--weights", ckpt.toString(), "--out", dir.resolve("det-thin").toString(),
                thin.toString());
        assertThat(t.code()).isEqualTo(2);
        assertThat(t.err().strip()).doesNotContain("\n").contains("thin.png").contains("10 x 400 pixels")
                .contains("resized to 8 x 320").contains("at least 16 pixels per side");
        assertThat(dir.resolve("det-thin")).doesNotExist();
    }

    /**
     * Every header is checked before the weights are read: with unreadable weights, the image bomb is what is
     * reported (before: the weights, read first); and nothing is written for the good image listed before it.
     */
    @Test
    void everyInputsHeaderIsCheckedBeforeTheWeightsAreRead() throws IOException {
        Path bomb = PngHeaders.write(dir.resolve("bomb.png"), 30000, 30000);
        Path garbage = Files.writeString(dir.resolve("garbage.pth"), "garbage");
        CliTest.Run r = run("detect", "--weights", garbage.toString(), "--out", dir.resolve("det-b1").toString(),
                bomb.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip()).startsWith("frcnn: " + bomb).contains("limit of 178956970 pixels");

        Path good = png("good.png", 64, 48);
        Path out = dir.resolve("det-b2");
        CliTest.Run two = run("detect", "--weights", ckpt.toString(), "--out", out.toString(), good.toString(),
                bomb.toString());
        assertThat(two.code()).isEqualTo(2);
        assertThat(two.err().strip()).contains("bomb.png");
        assertThat(out.resolve("good.json")).as("refused before any work").doesNotExist();
    }

    /** Before: 1x1 crashed evaluation (exit 1), and the 1 x 20000 image gave an error naming no file. */
    @Test
    void evalOnATinyImageScoresItAndRefusesAnElongatedOneNamingIt() throws IOException {
        Path data = new SyntheticVoc(5, 96, 128).write(dir.resolve("voc"), 2, 3);
        Path split = data.resolve("ImageSets/Main/test.txt");
        Files.writeString(split, Files.readString(split).strip() + "\ntiny1x1\n");
        ImageIO.write(new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB), "png",
                data.resolve("JPEGImages/tiny1x1.jpg").toFile());
        Files.writeString(data.resolve("Annotations/tiny1x1.xml"), "<annotation><object><name>circle</name>"
                + "<difficult>0</difficult><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox>"
                + "</object></annotation>");
        CliTest.Run r = run("eval", "--weights", ckpt.toString(), "--data", data.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out().strip()).containsPattern("mAP: \\d+\\.\\d+$");

        ImageIO.write(new BufferedImage(1, 20000, BufferedImage.TYPE_INT_RGB), "png",
                data.resolve("JPEGImages/tiny1x1.jpg").toFile());
        CliTest.Run tall = run("eval", "--weights", ckpt.toString(), "--data", data.toString());
        assertThat(tall.code()).isEqualTo(2);
        assertThat(tall.err().strip()).doesNotContain("\n").contains("tiny1x1.jpg").contains("1 x 20000 pixels");
    }

    /** Before: 33 confident boxes from the random RPN and head, exit 0, not a word. */
    @Test
    void backboneOnlyWeightsAreRefusedByDetectEvalAndTheApiSayingWhatTheFileHolds() throws IOException {
        Path sq = StateDictFiles.write(dir.resolve("squeezenet1_1.pth"), List.of("features.0.weight",
                "features.0.bias", "features.3.squeeze.weight", "features.3.squeeze.bias", "classifier.1.weight"));
        Path img = png("img.png", 64, 48);
        CliTest.Run r = run("detect", "--weights", sq.toString(), "--set", "backbone=squeezenet1_1",
                "--set", "caffe_pretrain=true", "--out", dir.resolve("det-sq").toString(), img.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip()).doesNotContain("\n").startsWith("frcnn: " + sq)
                .contains("squeezenet1_1 backbone's ImageNet weights only").contains("no RPN or RoI head")
                .contains("bin/frcnn train --set backbone=squeezenet1_1 --set load_path=" + sq);
        assertThat(dir.resolve("det-sq").resolve("img.json")).doesNotExist();

        Path data = new SyntheticVoc(6, 96, 128).write(dir.resolve("voc-sq"), 1, 2);
        CliTest.Run e = run("eval", "--weights", sq.toString(), "--data", data.toString());
        assertThat(e.code()).isEqualTo(2);
        assertThat(e.err()).contains("ImageNet weights only");

        assertThatThrownBy(() -> Detector.load(sq)).isInstanceOf(WeightsFormatException.class)
                .hasMessageContaining("no RPN or RoI head");
    }

    /** Before: --config was ignored for a .ckpt (while --set was honoured). */
    @Test
    void configWithACheckpointIsRefusedAndSetStillApplies() throws IOException {
        Path cfg = Files.writeString(dir.resolve("other.json"), "{\"min_size\": 600}");
        Path img = png("cfg.png", 64, 48);
        CliTest.Run r = run("detect", "--weights", ckpt.toString(), "--config", cfg.toString(),
                "--out", dir.resolve("det-cfg").toString(), img.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip()).doesNotContain("\n").contains("--config " + cfg).contains(ckpt.toString())
                .contains("--set key=value");
        Path data = new SyntheticVoc(7, 96, 128).write(dir.resolve("voc-cfg"), 1, 2);
        CliTest.Run e = run("eval", "--weights", ckpt.toString(), "--config", cfg.toString(), "--data", data.toString());
        assertThat(e.code()).isEqualTo(2);
        assertThat(e.err()).contains("--config");
        // --set keeps working on a checkpoint: a lowered pixel limit refuses the image, from its header
        CliTest.Run set = run("detect", "--weights", ckpt.toString(), "--set", "max_image_pixels=100",
                "--out", dir.resolve("det-set").toString(), img.toString());
        assertThat(set.code()).isEqualTo(2);
        assertThat(set.err()).contains("limit of 100 pixels");
    }

    /** Before: an empty class_names silently meant the 20 VOC classes; "lr=abc" did not name lr; no "not found". */
    @Test
    void configMistakesAreExitTwoWithMessagesNamingTheKeyOrFile() {
        CliTest.Run empty = run("bench", "--what", "infer", "--set", "class_names=[]");
        assertThat(empty.code()).isEqualTo(2);
        assertThat(empty.err().strip()).doesNotContain("\n").contains("class_names is empty")
                .contains("omit the key for VOC's 20 classes");

        CliTest.Run lr = run("train", "--data", dir.toString(), "--out", dir.resolve("run-lr").toString(),
                "--set", "lr=abc");
        assertThat(lr.code()).isEqualTo(2);
        assertThat(lr.err().strip()).isEqualTo("frcnn: bad config value for lr: expected a number, got \"abc\"");

        CliTest.Run missing = run("train", "--config", "no/such/config.json", "--data", dir.toString(),
                "--out", dir.resolve("run-missing").toString());
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err().strip()).isEqualTo("frcnn: config file not found: no/such/config.json");
    }

    /**
     * A damaged PNG chunk is our one line, and libpng prints nothing (it writes to the process's stderr, so a child
     * JVM runs the command). Before: "libpng error: IDAT: CRC error" came first, and a damaged tEXt chunk printed
     * "libpng warning: tEXt: CRC error" twice on an otherwise fine run.
     */
    @Test
    void aPngWithABadCrcGetsOurLineOnlyAndLibpngIsSilent() throws Exception {
        byte[] good = dev.frcnn.testing.DamagedPngs.png();
        Path idat = Files.write(dir.resolve("bad-idat.png"), dev.frcnn.testing.DamagedPngs.badIdatCrc(good));
        Path text = Files.write(dir.resolve("bad-text.png"), dev.frcnn.testing.DamagedPngs.badTextChunk(good));
        String[] bad = child("detect", "--weights", ckpt.toString(), "--out", dir.resolve("det-crc1").toString(),
                idat.toString());
        assertThat(bad[0]).isEqualTo("2");
        assertThat(bad[1].strip()).doesNotContain("libpng").doesNotContain("\n")
                .startsWith("frcnn: " + idat + ": not a decodable image (corrupt PNG: its critical IDAT chunk");
        String[] warn = child("detect", "--weights", ckpt.toString(), "--out", dir.resolve("det-crc2").toString(),
                text.toString());
        assertThat(warn[0]).as(warn[1]).isEqualTo("0");
        assertThat(warn[1]).doesNotContain("libpng");
    }

    /** Runs {@code Main} in a child JVM; returns {exit code, stderr}. */
    private static String[] child(String... args) throws Exception {
        List<String> cmd = ChildJvm.command("dev.frcnn.cli.Main", List.of(args));
        Path err = Files.createTempFile(dir, "child", ".err");
        Process p = new ProcessBuilder(cmd).redirectError(err.toFile())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertThat(p.waitFor(5, TimeUnit.MINUTES)).isTrue();
        String text = String.join("\n", Files.readAllLines(err));
        return new String[]{String.valueOf(p.exitValue()), text};
    }

    /**
     * A full disk is reported naming the file; before: the bare errno text. The output folder is a 64 KiB tmpfs
     * filled to the last byte (mounting needs root, as CI and these machines run; detect refuses a link to
     * {@code /dev/full} in place of an output, see {@code CliTest}).
     */
    @Test
    void aFullDiskDuringASaveNamesTheFile() throws Exception {
        Path img = png("full.png", 64, 48);
        Path out = Files.createDirectories(dir.resolve("det-full"));
        Process mount = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", out.toString())
                .redirectErrorStream(true).start();
        org.junit.jupiter.api.Assumptions.assumeTrue(mount.waitFor(30, TimeUnit.SECONDS) && mount.exitValue() == 0,
                "mounting a tmpfs needs root");
        try {
            try (var filler = Files.newOutputStream(out.resolve("filler"))) {
                byte[] block = new byte[4096];
                while (true) filler.write(block);
            } catch (IOException full) {
                // the tmpfs is full now
            }
            CliTest.Run r = run("detect", "--weights", ckpt.toString(), "--out", out.toString(), img.toString());
            assertThat(r.code()).isEqualTo(1);
            assertThat(r.err().strip()).doesNotContain("\n")
                    .isEqualTo("frcnn: " + out.resolve("full.png") + ": cannot write: No space left on device");
        } finally {
            new ProcessBuilder("umount", out.toString()).start().waitFor(30, TimeUnit.SECONDS);
        }
    }
}
