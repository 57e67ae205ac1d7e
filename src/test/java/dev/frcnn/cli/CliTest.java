package dev.frcnn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.frcnn.data.SyntheticVoc;
import dev.frcnn.eval.PrCurves;
import dev.frcnn.tensor.PrimitiveCache;
import dev.frcnn.testing.ChartImages;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TinyModels;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imread;

/** The command-line contracts of shared/design.md: detect output files, eval's last line, exit codes and messages. */
class CliTest {
    @TempDir
    static Path dir;
    static Path ckpt;

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true));
        System.setErr(new PrintStream(err, true));
        try {
            int code = Main.run(args);
            return new Run(code, out.toString(), err.toString());
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    /** A randomly initialised demo-size model saved as a checkpoint with its config and class names. */
    @BeforeAll
    static void writeCheckpoint() throws IOException {
        ckpt = TinyModels.checkpoint(dir.resolve("tiny.ckpt"), TinyModels.configWithDefaultAnchors(TinyModels.Size.DEMO),
                SyntheticVoc.CLASS_NAMES);
    }

    @Test
    void detectWritesAPngAndTheContractJsonPerImage() throws IOException {
        Path out = dir.resolve("det");
        Run r = run("detect", "--weights", ckpt.toString(), "--preset", "evaluate", "--out", out.toString(),
                Golden.file("demo.jpg").toString());
        assertThat(r.code()).as(r.err()).isZero();
        Path png = out.resolve("demo.png"), json = out.resolve("demo.json");
        assertThat(png).exists();
        var img = imread(png.toString());
        JsonNode j = new ObjectMapper().readTree(json.toFile());
        assertThat(j.get("width").asInt()).isEqualTo(img.cols());
        assertThat(j.get("height").asInt()).isEqualTo(img.rows());
        assertThat(j.get("image").asText()).endsWith("demo.jpg");
        assertThat(j.get("detections").isArray()).isTrue();
        // The checks below must run: this model gives detections on demo.jpg (scores above the 0.05 threshold).
        assertThat(j.get("detections").size()).as("detections on demo.jpg").isPositive();
        for (JsonNode d : j.get("detections")) {
            assertThat(d.fieldNames()).toIterable().containsExactlyInAnyOrder("label", "class_index", "score", "xmin", "ymin", "xmax", "ymax");
            assertThat(SyntheticVoc.CLASS_NAMES.get(d.get("class_index").asInt())).isEqualTo(d.get("label").asText());
            assertThat(d.get("xmin").asDouble()).isBetween(0.0, d.get("xmax").asDouble());
            assertThat(d.get("ymax").asDouble()).isBetween(d.get("ymin").asDouble(), (double) img.rows());
            assertThat(d.get("score").asDouble()).isBetween(0.05, 1.0);
        }
    }

    @Test
    void detectRefusesAnImageBombFromItsHeaderWithExitTwoAndOneLine() throws IOException {
        Path bomb = dev.frcnn.testing.PngHeaders.write(dir.resolve("bomb.png"), 30000, 30000);
        Path out = dir.resolve("det-bomb");
        Run r = run("detect", "--weights", ckpt.toString(), "--out", out.toString(), bomb.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err().strip()).doesNotContain("\n").startsWith("frcnn: " + bomb)
                .contains("30000 x 30000 = 900000000 pixels").contains("limit of 178956970 pixels");
        // the limit is a config key: a normal image above a lowered limit is refused the same way
        Run low = run("detect", "--weights", ckpt.toString(), "--out", out.toString(), "--set", "max_image_pixels=1000",
                Golden.file("demo.jpg").toString());
        assertThat(low.code()).isEqualTo(2);
        assertThat(low.err().strip()).contains("demo.jpg").contains("limit of 1000 pixels");
        assertThat(out.resolve("demo.png")).doesNotExist();
    }

    /** Copies the fixture demo.jpg to {@code target} (any name: decoders go by content) and returns target. */
    private static Path photo(Path target) throws IOException {
        Files.createDirectories(target.getParent());
        return Files.copy(Golden.file("demo.jpg"), target);
    }

    @Test
    void detectRefusesAnOutputDirectoryHoldingAnInputAndLeavesItUntouched() throws IOException {
        Path photos = dir.resolve("photos");
        Path x = photo(photos.resolve("x.png"));
        byte[] before = Files.readAllBytes(x);
        Run r = run("detect", "--weights", ckpt.toString(), "--out", photos.toString(), x.toString());
        assertThat(r.code()).as(r.out() + r.err()).isEqualTo(2);
        assertThat(r.err().strip()).doesNotContain("\n").startsWith("frcnn: ").contains(x.toString())
                .contains("would overwrite the input");
        // The same file reached another way: through a link to the directory, and as a relative path.
        Path link = Files.createSymbolicLink(dir.resolve("photos-link"), photos);
        Path relative = Path.of("").toAbsolutePath().relativize(x);
        Run viaLink = run("detect", "--weights", ckpt.toString(), "--out", link.toString(), relative.toString());
        assertThat(viaLink.code()).as(viaLink.err()).isEqualTo(2);
        assertThat(viaLink.err().strip()).doesNotContain("\n").contains("x.png").contains("would overwrite the input");
        assertThat(Files.readAllBytes(x)).as("the input, byte for byte").isEqualTo(before);
        try (var files = Files.list(photos)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("x.png");
        }
    }

    @Test
    void detectRefusesTwoInputsWithOneStemBeforeWritingAnything() throws IOException {
        Path a = photo(dir.resolve("same-stem/a.png")), b = photo(dir.resolve("same-stem/a.jpg"));
        Path out = dir.resolve("same-stem-out");
        Run r = run("detect", "--weights", ckpt.toString(), "--out", out.toString(), a.toString(), b.toString());
        assertThat(r.code()).as(r.out() + r.err()).isEqualTo(2);
        assertThat(r.err().strip()).doesNotContain("\n").contains(a.toString()).contains(b.toString())
                .contains(out.resolve("a.png").toString());
        assertThat(out).doesNotExist();
        assertThat(Files.readAllBytes(a)).isEqualTo(Files.readAllBytes(Golden.file("demo.jpg")));
        assertThat(Files.readAllBytes(b)).isEqualTo(Files.readAllBytes(Golden.file("demo.jpg")));
        // The same file twice is no collision.
        Run twice = run("detect", "--weights", ckpt.toString(), "--out", out.toString(), b.toString(),
                dir.resolve("same-stem/../same-stem/a.jpg").toString());
        assertThat(twice.code()).as(twice.err()).isZero();
        assertThat(out.resolve("a.png")).exists();
    }

    @Test
    void detectReplacesItsOwnEarlierOutputsButNoOtherFile() throws IOException {
        Path photos = dir.resolve("own");
        Path a = photo(photos.resolve("a.jpg"));
        Run first = run("detect", "--weights", ckpt.toString(), "--out", photos.toString(), a.toString());
        assertThat(first.code()).as(first.err()).isZero();
        Run again = run("detect", "--weights", ckpt.toString(), "--out", photos.toString(), a.toString());
        assertThat(again.code()).as("a second detect into the same directory: " + again.err()).isZero();

        // A user's own b.png beside the input b.jpg, with no detect JSON: refused, untouched.
        Path b = photo(photos.resolve("b.jpg"));
        Path userPng = photos.resolve("b.png");
        Files.write(userPng, new byte[]{1, 2, 3});
        Run r = run("detect", "--weights", ckpt.toString(), "--out", photos.toString(), b.toString());
        assertThat(r.code()).as(r.err()).isEqualTo(2);
        assertThat(r.err().strip()).doesNotContain("\n").contains(userPng.toString()).contains("not the output of an earlier detect");
        assertThat(Files.readAllBytes(userPng)).containsExactly(1, 2, 3);
        assertThat(photos.resolve("b.json")).doesNotExist();
        // ...and a JSON of the user's under the output's name.
        Files.delete(userPng);
        Files.writeString(photos.resolve("b.json"), "{\"camera\": \"x\"}");
        Run json = run("detect", "--weights", ckpt.toString(), "--out", photos.toString(), b.toString());
        assertThat(json.code()).isEqualTo(2);
        assertThat(json.err()).contains(photos.resolve("b.json").toString());
        assertThat(Files.readString(photos.resolve("b.json"))).isEqualTo("{\"camera\": \"x\"}");
    }

    @Test
    void evalEndsWithTheMapLine() throws IOException {
        Path data = new SyntheticVoc(5, 96, 128).write(dir.resolve("voc"), 2, 3);
        Path pr = dir.resolve("pr");
        Run r = run("eval", "--weights", ckpt.toString(), "--data", data.toString(), "--pr-curves", pr.toString());
        assertThat(r.code()).as(r.err()).isZero();
        String[] lines = r.out().strip().split("\n");
        assertThat(lines[lines.length - 1]).matches("mAP: \\d+\\.\\d+");
        double map = Double.parseDouble(lines[lines.length - 1].substring("mAP: ".length()));
        assertThat(map).as("mAP (the test split has non-difficult objects, so it is defined)").isBetween(0.0, 1.0);
        assertThat(r.out()).contains("AP circle");
        // --pr-curves: a chart per class with ground truth, PNG and SVG
        List<String> charts;
        try (var files = Files.list(pr)) {
            charts = files.map(p -> p.getFileName().toString()).sorted().toList();
        }
        assertThat(charts).isNotEmpty().allMatch(n -> n.matches("pr_0[0-3]_(circle|square|triangle|cross)\\.(png|svg)"));
        for (String n : charts) {
            if (!n.endsWith(".png")) continue;
            assertThat(charts).contains(n.replace(".png", ".svg"));
            assertThat(ChartImages.png(pr.resolve(n)).getWidth()).isEqualTo(PrCurves.WIDTH);
        }
    }

    @Test
    void badInputExitsWithTwoAndOneLineNamingTheProblem() throws IOException {
        Run missing = run("detect", "--weights", dir.resolve("nope.ckpt").toString(), "--out", dir.toString(), "x.jpg");
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err().strip()).contains("nope.ckpt").doesNotContain("\n").doesNotContain("Exception");

        Path notImage = dir.resolve("notes.jpg");
        Files.writeString(notImage, "not an image");
        Run bad = run("detect", "--weights", ckpt.toString(), "--out", dir.resolve("o").toString(), notImage.toString());
        assertThat(bad.code()).isEqualTo(2);
        assertThat(bad.err().strip()).contains("notes.jpg").doesNotContain("\n");

        Run key = run("bench", "--what", "infer", "--set", "learning_rate=1");
        assertThat(key.code()).isEqualTo(2);
        assertThat(key.err()).contains("unknown config key 'learning_rate'");

        Run what = run("bench", "--what", "everything");
        assertThat(what.code()).isEqualTo(2);
        assertThat(what.err()).contains("--what");

        if (!org.bytedeco.pytorch.global.torch.cuda_is_available()) {
            Run cuda = run("bench", "--what", "ops", "--device", "cuda");
            assertThat(cuda.code()).isEqualTo(2);
            assertThat(cuda.err().strip()).contains("--device cuda").doesNotContain("\n");
        }

        Run usage = run("train", "--data");
        assertThat(usage.code()).isEqualTo(2);

        Path garbage = dir.resolve("garbage.pth");
        Files.writeString(garbage, "garbage");
        // a good image: every image's header is checked before the weights are read
        Run weights = run("detect", "--weights", garbage.toString(), "--out", dir.resolve("o").toString(),
                Golden.file("demo.jpg").toString());
        assertThat(weights.code()).isEqualTo(2);
        assertThat(weights.err().strip()).contains("garbage.pth").doesNotContain("\n");
    }

    @Test
    void benchJsonIsOneObjectOnTheLastLineWithTheContractKeys() throws IOException {
        Run ops = run("bench", "--what", "ops", "--reps", "1", "--warmup", "0", "--json");
        assertThat(ops.code()).as(ops.err()).isZero();
        String[] lines = ops.out().strip().split("\n");
        JsonNode j = new ObjectMapper().readTree(lines[lines.length - 1]);
        assertThat(j.fieldNames()).toIterable().contains("what", "device", "threads", "reps", "nms_ms", "nms_kept", "roi_pool_fwd_bwd_ms");
        assertThat(j.get("what").asText()).isEqualTo("ops");
        assertThat(j.get("nms_kept").asInt()).isEqualTo(2000);
        assertThat(j.get("nms_ms").asDouble()).isPositive();

        List<String> inferArgs = new ArrayList<>(List.of("bench", "--what", "infer"));
        inferArgs.addAll(TinyModels.setOptions(TinyModels.settingsWithDefaultAnchors(TinyModels.Size.DEMO)));
        inferArgs.addAll(List.of("--reps", "1", "--warmup", "0", "--json"));
        Run infer = run(inferArgs.toArray(String[]::new));
        assertThat(infer.code()).as(infer.err()).isZero();
        lines = infer.out().strip().split("\n");
        j = new ObjectMapper().readTree(lines[lines.length - 1]);
        assertThat(j.fieldNames()).toIterable().contains("what", "device", "threads", "reps", "input_hw", "infer_ms");
        assertThat(j.get("input_hw").get(0).asInt()).isEqualTo(192);
        // The malloc settings in force are reported as given (Surefire sets the ones bin/frcnn exports).
        assertThat(j.get("malloc_env").get("MALLOC_ARENA_MAX").asText()).isEqualTo(System.getenv("MALLOC_ARENA_MAX"));
        assertThat(j.get("malloc_env").get("MALLOC_MMAP_MAX_").asText()).isEqualTo("0");
        // So is oneDNN's cache capacity, as the bootstrap set it in this JVM.
        assertThat(j.get("primitive_cache_env").get("ONEDNN_PRIMITIVE_CACHE_CAPACITY").asText())
                .isEqualTo(PrimitiveCache.getenv(PrimitiveCache.VARIABLE)).isNotEmpty();
    }

    @Test
    void helpExitsWithZero() {
        Run r = run("--help");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("demo").contains("train").contains("eval").contains("detect").contains("bench");
    }
}
