package dev.frcnn.cli;

import dev.frcnn.config.ConfigException;
import dev.frcnn.data.DataException;
import dev.frcnn.data.DatasetProblemsException;
import dev.frcnn.error.UserInputException;
import dev.frcnn.io.WeightsDoNotFitException;
import dev.frcnn.io.WeightsFormatException;
import dev.frcnn.io.WeightsMismatchException;
import dev.frcnn.testing.ChildJvm;
import dev.frcnn.train.RunExistsException;
import dev.frcnn.train.TrainingDivergedException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link Main}'s exit codes and stderr: the user's errors ({@link UserInputException} and its subclasses, missing
 * files) give 2 and their message; an unexpected exception gives 1 and one line naming its type, without a stack
 * trace unless {@code FRCNN_DEBUG} is set.
 */
class MainTest {
    @TempDir
    Path dir;

    private record Reported(int code, String err) {}

    private static Reported report(Throwable ex, boolean debug) {
        StringWriter sw = new StringWriter();
        int code = Main.report(ex, new PrintWriter(sw), debug);
        return new Reported(code, sw.toString());
    }

    @Test
    void everyUserErrorTypeExitsWith2AndItsMessageOnOneLine() {
        Path f = Path.of("runs/x");
        List<RuntimeException> userErrors = List.of(
                new UserInputException("--device must be cpu or cuda, got 'tpu'"),
                new ConfigException("bad config value for lr: expected a number, got \"abc\""),
                new DataException(f, "not a decodable image"),
                new DatasetProblemsException(f, List.of(new DatasetProblemsException.Problem(f, "image file not found"))),
                new WeightsFormatException(f, "empty file, not a PyTorch weights file"),
                new WeightsDoNotFitException(f, "weights do not fit", null),
                new WeightsMismatchException("FasterRCNN", List.of("a.weight"), List.of(), List.of()),
                new RunExistsException(f, List.of("last.ckpt")),
                new BadInputException("--reps must be >= 1, got 0"));
        for (RuntimeException e : userErrors) {
            Reported r = report(e, false);
            assertThat(r.code()).as(e.getClass().getSimpleName()).isEqualTo(2);
            assertThat(r.err()).as(e.getClass().getSimpleName())
                    .isEqualTo("frcnn: " + e.getMessage().replace('\n', ' ') + System.lineSeparator());
        }
    }

    @Test
    void aUserErrorInsideAnotherExceptionAndAMissingFileExitWith2() {
        Reported wrapped = report(new IllegalStateException("dataset check failed",
                new DataException(Path.of("a.jpg"), "not a decodable image")), false);
        assertThat(wrapped.code()).isEqualTo(2);
        assertThat(wrapped.err()).isEqualTo("frcnn: dataset check failed" + System.lineSeparator());

        Reported missing = report(new NoSuchFileException("w.pth"), false);
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err()).isEqualTo("frcnn: file not found: w.pth" + System.lineSeparator());
    }

    @Test
    void anUnexpectedExceptionExitsWith1NamingItsTypeWithoutAStackTrace() {
        Reported iae = report(new IllegalArgumentException("expected a (3, H, W) image, got [1, 2]"), false);
        assertThat(iae.code()).isEqualTo(1);
        assertThat(iae.err()).isEqualTo("frcnn: internal error (IllegalArgumentException: expected a (3, H, W) image, "
                + "got [1, 2]); rerun with FRCNN_DEBUG=1 for the stack trace" + System.lineSeparator());

        Reported npe = report(new NullPointerException(), false);
        assertThat(npe.code()).isEqualTo(1);
        assertThat(npe.err()).isEqualTo("frcnn: internal error (NullPointerException); rerun with FRCNN_DEBUG=1 for "
                + "the stack trace" + System.lineSeparator());

        // LibTorch's errors carry the C++ backtrace after their first line: only the first line is shown
        Reported c10 = report(new RuntimeException("shape '[2, 3]' is invalid for input of size 7\n"
                + "Exception raised from infer_size_impl at aten/src/ATen/InferSize.h:95 (most recent call first):\n"
                + "frame #0: c10::Error::Error"), false);
        assertThat(c10.code()).isEqualTo(1);
        assertThat(c10.err()).isEqualTo("frcnn: internal error (RuntimeException: shape '[2, 3]' is invalid for input "
                + "of size 7); rerun with FRCNN_DEBUG=1 for the stack trace" + System.lineSeparator());
    }

    @Test
    void withDebugTheStackTraceFollowsTheLine() {
        IllegalArgumentException bug = new IllegalArgumentException("boom");
        Reported r = report(bug, true);
        assertThat(r.code()).isEqualTo(1);
        List<String> lines = r.err().lines().toList();
        assertThat(lines.get(0)).isEqualTo("frcnn: internal error (IllegalArgumentException: boom)");
        assertThat(lines.get(1)).isEqualTo("java.lang.IllegalArgumentException: boom");
        assertThat(lines.get(2)).startsWith("\tat dev.frcnn.cli.MainTest.withDebugTheStackTraceFollowsTheLine");

        Reported user = report(new ConfigException("lr must be > 0, got -1.0"), true);
        assertThat(user.code()).isEqualTo(2);
        assertThat(user.err().lines().toList().subList(0, 2)).containsExactly("frcnn: lr must be > 0, got -1.0",
                "dev.frcnn.config.ConfigException: lr must be > 0, got -1.0");
    }

    @Test
    void aFailureOfTheEnvironmentOrADivergedRunExitsWith1WithItsMessage() {
        Reported disk = report(new IOException("runs/x/last.ckpt: cannot write: No space left on device"), false);
        assertThat(disk.code()).isEqualTo(1);
        assertThat(disk.err()).isEqualTo("frcnn: runs/x/last.ckpt: cannot write: No space left on device"
                + System.lineSeparator());

        TrainingDivergedException diverged = new TrainingDivergedException(7, 1, List.of("roi_cls_loss"),
                "roi_cls_loss=NaN", null);
        Reported d = report(diverged, false);
        assertThat(d.code()).isEqualTo(1);
        assertThat(d.err()).isEqualTo("frcnn: " + diverged.getMessage() + System.lineSeparator());
    }

    /**
     * Option values that reached the library as {@code IllegalArgumentException}s before, through the command line:
     * still exit 2 and one line naming the option or file, now as user errors.
     */
    @Test
    void badOptionValuesAndInputFilesAreUserErrors() throws IOException {
        CliTest.Run device = CliTest.run("bench", "--what", "ops", "--device", "tpu");
        assertThat(device.code()).isEqualTo(2);
        assertThat(device.err().strip()).isEqualTo("frcnn: --device must be one of cpu, cuda, got 'tpu'");

        CliTest.Run threads = CliTest.run("bench", "--what", "ops", "--threads", "-1");
        assertThat(threads.code()).isEqualTo(2);
        assertThat(threads.err().strip()).isEqualTo("frcnn: --threads must be >= 0, got -1");

        Path input = Files.writeString(dir.resolve("ops.json"), "{\"params\": {}}");
        CliTest.Run ops = CliTest.run("bench", "--what", "ops", "--input", input.toString(), "--reps", "1");
        assertThat(ops.code()).isEqualTo(2);
        assertThat(ops.err().strip()).isEqualTo("frcnn: ops benchmark input lacks params.nms_iou_thresh");
    }

    /**
     * The whole path in a JVM of its own, where {@code FRCNN_DEBUG} can be set: {@code train --resume --overwrite}
     * (refused by {@code RunDirectory.checkStart} with a {@link UserInputException}, an
     * {@code IllegalArgumentException} before) exits with 2 and one line; with {@code FRCNN_DEBUG=1}, the stack trace
     * follows it.
     */
    @Test
    void theCommandLineReadsFrcnnDebugForTheStackTrace() throws Exception {
        List<String> args = List.of("train", "--data", dir.resolve("data").toString(), "--out",
                dir.resolve("run").toString(), "--resume", "--overwrite", "--no-progress");
        String line = "frcnn: --resume and --overwrite exclude each other: resume continues the run in "
                + dir.resolve("run") + ", overwrite replaces it";

        String[] plain = child(args, false);
        assertThat(plain[0]).as(plain[1]).isEqualTo("2");
        assertThat(plain[1].lines().filter(l -> l.startsWith("frcnn:"))).containsExactly(line);
        assertThat(plain[1]).doesNotContain("\tat ");

        String[] debug = child(args, true);
        assertThat(debug[0]).as(debug[1]).isEqualTo("2");
        List<String> lines = debug[1].lines().toList();
        int at = lines.indexOf(line);
        assertThat(at).as(debug[1]).isGreaterThanOrEqualTo(0);
        assertThat(lines.get(at + 1)).startsWith("dev.frcnn.error.UserInputException: --resume and --overwrite");
        assertThat(lines.get(at + 2)).startsWith("\tat dev.frcnn.train.RunDirectory.checkStart");
    }

    private String[] child(List<String> args, boolean debug) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(ChildJvm.command("dev.frcnn.cli.Main", args));
        pb.environment().remove("FRCNN_DEBUG");
        if (debug) pb.environment().put("FRCNN_DEBUG", "1");
        Path err = dir.resolve(debug ? "debug.err" : "plain.err");
        pb.redirectError(err.toFile()).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        Process p = pb.start();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("child JVM finished").isTrue();
        return new String[] {String.valueOf(p.exitValue()), Files.readString(err, StandardCharsets.UTF_8)};
    }
}
