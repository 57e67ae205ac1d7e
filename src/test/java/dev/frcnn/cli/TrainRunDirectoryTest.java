package dev.frcnn.cli;

import dev.frcnn.data.SyntheticVoc;
import dev.frcnn.testing.ChartImages;
import dev.frcnn.testing.ChildJvm;
import dev.frcnn.testing.TinyModels;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code bin/frcnn train} never overwrites a run it was not told to: a directory that holds a run needs
 * {@code --resume} or {@code --overwrite} (checked before the data is read), {@code --overwrite} replaces exactly the
 * run's files, and every start removes the temporary files of saves killed before their rename, and nothing else.
 */
class TrainRunDirectoryTest {
    @TempDir
    static Path dir;
    static Path data;

    @BeforeAll
    static void dataset() {
        data = new SyntheticVoc(3, 96, 128).write(dir.resolve("data"), 4, 2);
    }

    private static CliTest.Run train(Path out, int epochs, String... extra) {
        List<String> args = ChildJvm.trainArgs(data, out, TinyModels.settings(TinyModels.Size.SMALL, "epoch=" + epochs,
                "lr_decay_epoch=0", "lr=0.01", "num_workers=0", "threads=1", "seed=5", TinyModels.SHAPE_CLASSES), false);
        args.addAll(Arrays.asList(extra));
        return CliTest.run(args.toArray(String[]::new));
    }

    @Test
    void aFinishedRunIsRefusedWithoutResumeOrOverwriteAndReplacedWithOverwrite() throws Exception {
        Path out = dir.resolve("run");
        CliTest.Run first = train(out, 2);
        assertThat(first.code()).as(first.err()).isZero();
        List<String> files = List.of("last.ckpt", "best.ckpt", "metrics.csv", "losses.csv", "config.json", "loss_curve.png",
                "loss_curve.svg", "metrics.png", "metrics.svg");
        // the charts: PNGs that decode, SVGs that parse
        for (String chart : List.of("loss_curve", "metrics")) {
            assertThat(ChartImages.png(out.resolve(chart + ".png")).getWidth()).as(chart).isGreaterThan(100);
            ChartImages.svg(out.resolve(chart + ".svg"));
        }
        assertThat(first.err()).doesNotContain("warning");
        List<byte[]> before = new ArrayList<>();
        for (String f : files) before.add(Files.readAllBytes(out.resolve(f)));
        Path notes = Files.writeString(out.resolve("notes.txt"), "mine");

        CliTest.Run again = train(out, 2);
        assertThat(again.code()).as(again.out() + again.err()).isEqualTo(2);
        assertThat(again.err().strip()).doesNotContain("\n").startsWith("frcnn: " + out)
                .contains("last.ckpt").contains("metrics.csv").contains("losses.csv")
                .contains("--resume").contains("--overwrite");
        // Checked before the data is read: the same answer with a dataset that does not exist.
        CliTest.Run noData = CliTest.run("train", "--data", dir.resolve("nowhere").toString(), "--out", out.toString());
        assertThat(noData.code()).isEqualTo(2);
        assertThat(noData.err()).contains("--overwrite").doesNotContain("nowhere");
        for (int i = 0; i < files.size(); i++) {
            assertThat(Files.readAllBytes(out.resolve(files.get(i)))).as(files.get(i) + ", byte for byte").isEqualTo(before.get(i));
        }

        CliTest.Run both = train(out, 2, "--resume", "--overwrite");
        assertThat(both.code()).isEqualTo(2);
        assertThat(both.err()).contains("exclude each other");

        // --overwrite replaces the run (here with a one-epoch run: one metrics row, no best.ckpt of the old run left
        // over before the first evaluation) and leaves other files alone.
        CliTest.Run over = train(out, 1, "--overwrite");
        assertThat(over.code()).as(over.err()).isZero();
        assertThat(over.err()).contains("replaced the previous run in " + out + ": removed its last.ckpt, best.ckpt");
        assertThat(Files.readAllLines(out.resolve("metrics.csv"))).hasSize(2);
        assertThat(Files.readAllLines(out.resolve("losses.csv"))).hasSize(1 + 4);
        assertThat(Files.readString(notes)).isEqualTo("mine");
    }

    @Test
    void theDemoReplacesItsOwnPreviousRunButRefusesAnotherRun() throws IOException {
        Path out = dir.resolve("demo");
        String[] demo = {"demo", "--out", out.toString(), "--train-images", "2", "--test-images", "1", "--show", "1",
                "--set", "epoch=1", "--set", "min_size=96", "--set", "max_size=128", "--no-progress"};
        CliTest.Run first = CliTest.run(demo);
        assertThat(first.code()).as(first.err()).isZero();
        CliTest.Run second = CliTest.run(demo);
        assertThat(second.code()).as("the demo run twice: " + second.err()).isZero();
        assertThat(second.out()).containsPattern("mAP: \\d");
        for (String chart : List.of("run/loss_curve", "run/metrics")) {
            assertThat(out.resolve(chart + ".png")).isRegularFile();
            assertThat(out.resolve(chart + ".svg")).isRegularFile();
        }
        List<String> pr;
        try (var files = Files.list(out.resolve("pr_curves"))) {
            pr = files.map(p -> p.getFileName().toString()).sorted().toList();
        }
        assertThat(pr).as("PR charts of the classes in the test image").isNotEmpty();
        for (String n : pr) if (n.endsWith(".png")) assertThat(pr).contains(n.replace(".png", ".svg"));

        // A run in OUT/run that the demo did not make (other classes) is refused before anything is written.
        Path foreign = dir.resolve("not-a-demo");
        Files.createDirectories(foreign.resolve("run"));
        Files.writeString(foreign.resolve("run/config.json"), "{\"class_names\": [\"raccoon\"]}");
        Files.writeString(foreign.resolve("run/last.ckpt"), "a trained model");
        CliTest.Run refused = CliTest.run("demo", "--out", foreign.toString(), "--no-progress");
        assertThat(refused.code()).as(refused.err()).isEqualTo(2);
        assertThat(refused.err().strip()).doesNotContain("\n").contains(foreign.resolve("run").toString()).contains("last.ckpt");
        assertThat(Files.readString(foreign.resolve("run/last.ckpt"))).isEqualTo("a trained model");
        assertThat(foreign.resolve("data")).doesNotExist();
    }

    @Test
    void staleTemporaryFilesOfOurPatternAreRemovedAtTheNextStartAndNothingElse() throws IOException {
        Path out = dir.resolve("stale");
        CliTest.Run first = train(out, 1);
        assertThat(first.code()).as(first.err()).isZero();
        List<String> ours = List.of("last.ckpt8761234598712345.tmp", "best.ckpt18446744073709551615.tmp",
                "loss_curve.png42.tmp", "metrics.svg9.tmp");
        List<String> others = List.of("last.ckpt.tmp", "last.ckpt123.tmp.bak", "mylast.ckpt123.tmp", "last.ckpt12a.tmp",
                "other123.tmp", "last.ckpt123.TMP", "metrics.csv123.tmp", "loss_curve.png.tmp");
        for (String f : ours) Files.write(out.resolve(f), new byte[1000]);
        for (String f : others) Files.writeString(out.resolve(f), "keep");
        Files.createDirectory(out.resolve("last.ckpt999.tmp")); // a directory is not a file we wrote

        CliTest.Run resumed = train(out, 1, "--resume");
        assertThat(resumed.code()).as(resumed.err()).isZero();
        assertThat(resumed.err()).contains("removed 4 stale temporary files");
        for (String f : ours) assertThat(resumed.err()).contains(f);
        for (String f : ours) assertThat(out.resolve(f)).doesNotExist();
        for (String f : others) assertThat(Files.readString(out.resolve(f))).as(f).isEqualTo("keep");
        assertThat(out.resolve("last.ckpt999.tmp")).isDirectory();

        // The same at the start of an --overwrite.
        Files.write(out.resolve(ours.get(0)), new byte[10]);
        CliTest.Run over = train(out, 1, "--overwrite");
        assertThat(over.code()).as(over.err()).isZero();
        assertThat(over.err()).contains("removed 1 stale temporary file ");
        assertThat(out.resolve(ours.get(0))).doesNotExist();
        for (String f : others) assertThat(out.resolve(f)).exists();
    }
}
