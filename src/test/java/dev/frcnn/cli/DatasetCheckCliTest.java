package dev.frcnn.cli;

import dev.frcnn.data.SyntheticVoc;
import dev.frcnn.testing.TinyModels;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.opencv.opencv_core.Mat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imencode;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imread;

/**
 * {@code bin/frcnn train} (in process, {@link Main#run}) on demo data with broken files: everything is checked before
 * the first step (missing images in both splits: exit 2 naming each, no run directory), truncated images follow
 * {@code truncated_images}, and ids listed twice and boxes beyond the image give one warning line each.
 */
@SuppressWarnings("try")
class DatasetCheckCliTest {
    @TempDir
    Path dir;

    private static final List<String> TINY = TinyModels.settings(TinyModels.Size.SMALL, "epoch=1", "num_workers=0",
            "seed=3", TinyModels.SHAPE_CLASSES);

    private Path data() {
        return new SyntheticVoc(5, 96, 128).write(dir.resolve("data"), 6, 2);   // train 000001-6, test 000007-8
    }

    private CliTest.Run train(Path data, Path out, String... sets) {
        List<String> args = new java.util.ArrayList<>(List.of("train", "--data", data.toString(), "--out", out.toString(),
                "--train-split", "train", "--no-progress"));
        args.addAll(TinyModels.setOptions(TINY));
        args.addAll(TinyModels.setOptions(List.of(sets)));
        return CliTest.run(args.toArray(String[]::new));
    }

    /** 000002 (train): the JPEG 20 bytes short; 000007 (test): the same picture as a PNG without IEND. */
    private static void truncate(Path data) throws Exception {
        Path jpg = data.resolve("JPEGImages/000002.jpg");
        byte[] b = Files.readAllBytes(jpg);
        Files.write(jpg, Arrays.copyOf(b, b.length - 20));
        Path png = data.resolve("JPEGImages/000007.jpg");
        try (PointerScope s = new PointerScope()) {
            Mat m = imread(png.toString());
            BytePointer out = new BytePointer();
            assertThat(imencode(".png", m, out)).isTrue();
            byte[] p = new byte[(int) out.limit()];
            out.get(p);
            Files.write(png, Arrays.copyOf(p, p.length - 12));
        }
    }

    @Test
    void missingImagesInEitherSplitStopTrainingBeforeAnythingIsWrittenNamingEachFile() throws Exception {
        Path data = data();
        Files.delete(data.resolve("JPEGImages/000005.jpg"));   // train
        Files.delete(data.resolve("JPEGImages/000008.jpg"));   // test: today found only at the first evaluation
        Path out = dir.resolve("run");
        CliTest.Run r = train(data, out);
        assertThat(r.code()).as(r.err()).isEqualTo(2);
        assertThat(r.err().strip()).doesNotContain("\n")
                .contains(data.resolve("JPEGImages/000005.jpg") + ": image file not found")
                .contains(data.resolve("JPEGImages/000008.jpg") + ": image file not found")
                .contains("2 problems");
        assertThat(out).as("no run directory, no checkpoint: nothing was trained").doesNotExist();
    }

    @Test
    void truncatedImagesLoadByDefaultWithOneWarningEachAndOtherDatasetWarnings() throws Exception {
        Path data = data();
        truncate(data);
        Files.writeString(data.resolve("ImageSets/Main/train.txt"), "000001\n000002\n000003\n000004\n000005\n000006\n000003\n");
        Path xml = data.resolve("Annotations/000004.xml");
        String s = Files.readString(xml);
        Files.writeString(xml, s.replace("</annotation>", "  <object><name>circle</name><difficult>0</difficult>"
                + "<bndbox><xmin>-5</xmin><ymin>3</ymin><xmax>20</xmax><ymax>400</ymax></bndbox></object>\n</annotation>"));
        CliTest.Run r = train(data, dir.resolve("run"));
        assertThat(r.code()).as(r.err()).isZero();
        List<String> warnings = r.err().lines().filter(l -> l.startsWith("frcnn: warning: ")).toList();
        assertThat(warnings).hasSize(4);
        assertThat(warnings).filteredOn(l -> l.contains("000002.jpg")).singleElement().asString()
                .contains("JPEG without its end marker (EOI)").contains("truncated_images: load");
        assertThat(warnings).filteredOn(l -> l.contains("000007.jpg")).singleElement().asString()
                .contains("PNG without its IEND chunk").contains("truncated_images: load");
        assertThat(warnings).filteredOn(l -> l.contains("train.txt lists 1 id more than once (000003 x2)")).hasSize(1);
        assertThat(warnings).filteredOn(l -> l.contains("split 'train': 1 box in 1 file of")
                && l.contains("(first: 000004.xml object ")).hasSize(1);
        assertThat(r.out()).contains("mAP: ");
    }

    @Test
    void truncatedImagesSkipLeavesThemOutAndErrorRefusesThemUpFront() throws Exception {
        Path data = data();
        truncate(data);
        CliTest.Run skip = train(data, dir.resolve("skip"), "truncated_images=skip");
        assertThat(skip.code()).as(skip.err()).isZero();
        assertThat(skip.err()).contains(data.resolve("JPEGImages/000002.jpg") + ": JPEG without its end marker (EOI): the "
                + "file is truncated; left out of split 'train' (truncated_images: skip)");
        assertThat(skip.err()).contains(data.resolve("JPEGImages/000007.jpg") + ": PNG without its IEND chunk: the file "
                + "is truncated; left out of split 'test' (truncated_images: skip)");

        Path out = dir.resolve("error");
        CliTest.Run error = train(data, out, "truncated_images=error");
        assertThat(error.code()).as(error.err()).isEqualTo(2);
        assertThat(error.err().strip()).doesNotContain("\n").contains("2 problems")
                .contains(data.resolve("JPEGImages/000002.jpg") + ": JPEG without its end marker (EOI): the file is "
                        + "truncated (truncated_images: error")
                .contains(data.resolve("JPEGImages/000007.jpg") + ": PNG without its IEND chunk");
        assertThat(out).doesNotExist();
    }
}
