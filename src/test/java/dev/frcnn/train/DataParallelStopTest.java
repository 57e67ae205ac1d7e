package dev.frcnn.train;

import dev.frcnn.testing.ChildProcesses;
import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.data.SyntheticVoc;
import dev.frcnn.io.Checkpoints;
import dev.frcnn.testing.CheckpointAssert;
import dev.frcnn.testing.ChildJvm;
import dev.frcnn.testing.TinyModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A graceful stop of a whole data-parallel job ({@link DistributedStop}, {@code cli.WorkerLauncher}): two workers
 * started by {@code bin/frcnn train --nproc-per-node 2} (Gloo on loopback, one thread each, the tiny backbone on the
 * demo's synthetic shapes). SIGTERM to one worker, rank 1, stops both after the same step: rank 0 saves
 * {@code last.ckpt} there and prints the job's one line, and the launcher exits with 143. A resume, then SIGTERM to
 * the launcher, which passes it on, stops the job again the same way. A last resume runs to the end and ends with the
 * tensors of an uninterrupted run, bit for bit, and its loss log row for row: the stops lost and repeated nothing.
 * The signals are sent once a line shows that the job is training, never after a fixed delay. A second test stops a
 * job during rank 0's evaluation, where the other rank learns of the stop from {@link EvalBarrier}'s broadcast.
 */
class DataParallelStopTest {
    private static final int TRAIN_IMAGES = 8, EPOCHS = 4, WORLD = 2;
    /** Steps per epoch of each rank: the epoch's images split over the ranks, one image per step. */
    private static final int STEPS = TRAIN_IMAGES / WORLD;
    private static final Pattern STOPPED = Pattern.compile("frcnn: stopped by (SIG[A-Z]+(?: to rank \\d+)?) at epoch "
            + "(\\d+) iteration (\\d+) of (\\d+)[^;\\n]*; saved (\\S+last\\.ckpt); continue with --resume");
    private static final List<String> SETTINGS = TinyModels.settings(TinyModels.Size.SMALL, "epoch=" + EPOCHS,
            "lr_decay_epoch=2", "lr=0.02", "threads=1", "num_workers=0", "checkpoint_every=1000",
            TinyModels.SHAPE_CLASSES);

    @TempDir
    Path dir;

    private static Process launch(Path data, Path out, boolean resume, Path log) throws IOException {
        return launch(data, out, SETTINGS, resume, log);
    }

    private static Process launch(Path data, Path out, List<String> settings, boolean resume, Path log)
            throws IOException {
        List<String> cmd = new ArrayList<>(ChildJvm.train(data, out, settings, resume));
        cmd.addAll(List.of("--nproc-per-node", String.valueOf(WORLD), "--master-port", String.valueOf(ChildProcesses.freePort()),
                "--dist-timeout", "60"));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    /** Waits for the launcher; then {@code workers} (its children, taken while it ran) have ended too. */
    private static String finish(Process p, Path log, List<ProcessHandle> workers) throws Exception {
        assertThat(p.waitFor(3, TimeUnit.MINUTES)).as("the launcher ends").isTrue();
        for (ProcessHandle w : workers) assertThat(w.isAlive()).as("worker %d ended", w.pid()).isFalse();
        return Files.readString(log);
    }

    /**
     * Checks the job's one stop line against {@code last.ckpt} and the loss log.
     *
     * @return the checkpoint's global step, in samples over both ranks
     */
    private static long assertStoppedAndSaved(String log, String cause, Path out) throws IOException {
        assertThat(log.lines().filter(l -> l.startsWith("frcnn: stopped by")).toList()).as(log).hasSize(1);
        Matcher m = STOPPED.matcher(log);
        assertThat(m.find()).as("the stop line in: %s", log).isTrue();
        assertThat(m.group(1)).as(log).isEqualTo(cause);
        assertThat(Path.of(m.group(5))).isEqualTo(out.resolve("last.ckpt"));
        int epoch = Integer.parseInt(m.group(2)), iteration = Integer.parseInt(m.group(3));
        assertThat(Integer.parseInt(m.group(4))).as("steps per epoch of a rank").isEqualTo(STEPS);
        JsonNode meta = Checkpoints.load(out.resolve("last.ckpt")).meta();
        // the position counts samples over both ranks: each rank's steps times the world size
        assertThat(meta.path("epoch").asInt()).as("0-based epoch in last.ckpt").isEqualTo(epoch - 1);
        assertThat(meta.path("iteration").asInt()).isEqualTo(iteration * WORLD);
        long step = meta.path("global_step").asLong();
        assertThat(step).isEqualTo((long) ((epoch - 1) * STEPS + iteration) * WORLD);
        assertThat(step).as("stopped before the end").isLessThan((long) EPOCHS * TRAIN_IMAGES);
        assertThat(Files.readAllLines(out.resolve("losses.csv"))).as("one loss row per step of the job")
                .hasSize(1 + (int) (step / WORLD));
        try (var files = Files.list(out)) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".tmp"));
        }
        return step;
    }

    @Test
    void sigtermToOneWorkerOrToTheLauncherStopsEveryRankAtOneStepAndTheResumeEndsAsAnUninterruptedRun()
            throws Exception {
        Path data = new SyntheticVoc(3, 96, 128).write(dir.resolve("data"), TRAIN_IMAGES, 2);
        Path full = dir.resolve("full"), out = dir.resolve("run");

        Path logFull = dir.resolve("full.log");
        Process a = launch(data, full, false, logFull);
        String uninterrupted = finish(a, logFull, List.of());
        assertThat(a.exitValue()).as(uninterrupted).isZero();

        // SIGTERM to rank 1 only: both ranks stop after the same step, rank 0 saves and reports it
        Path log1 = dir.resolve("1.log");
        Process b = launch(data, out, false, log1);
        ChildProcesses.awaitLine(b, log1, "epoch 1/" + EPOCHS + ": mAP");
        List<ProcessHandle> workersB = b.toHandle().children().toList();
        ChildProcesses.workerOfRank(b, 1, WORLD).destroy();
        String first = finish(b, log1, workersB);
        assertThat(b.exitValue()).as(first).isEqualTo(143);
        long step1 = assertStoppedAndSaved(first, "SIGTERM to rank 1", out);
        assertThat(first.lines().filter(l -> l.startsWith("frcnn: "))).as(first).hasSize(1);
        assertThat(step1).as("stopped after the first epoch").isGreaterThanOrEqualTo(TRAIN_IMAGES);

        // SIGTERM to the launcher, once the resumed job trains: it passes the signal on to both workers
        Path log2 = dir.resolve("2.log");
        Process c = launch(data, out, true, log2);
        ChildProcesses.awaitLine(c, log2, "data parallel: ");
        List<ProcessHandle> workersC = c.toHandle().children().toList();
        c.destroy();
        String second = finish(c, log2, workersC);
        assertThat(c.exitValue()).as(second).isEqualTo(143);
        assertThat(second).contains("resuming from " + out.resolve("last.ckpt"));
        assertThat(second.lines().filter(l -> l.startsWith("frcnn: ")).toList()).as(second).containsExactlyInAnyOrder(
                "frcnn: SIGTERM: stopping the workers of this machine at their next step (rank 0 saves last.ckpt)",
                second.lines().filter(l -> l.startsWith("frcnn: stopped by")).findFirst().orElse("(no stop line)"));
        long step2 = assertStoppedAndSaved(second, "SIGTERM", out);
        System.out.printf("stopped by SIGTERM to rank 1 at global step %d, by SIGTERM to the launcher at %d (samples)"
                + "%n%s%n%s%n", step1, step2, first, second);
        assertThat(step2).isGreaterThanOrEqualTo(step1);

        // the last resume runs to the end: the weights and loss rows of the uninterrupted job
        Path log3 = dir.resolve("3.log");
        Process d = launch(data, out, true, log3);
        String third = finish(d, log3, List.of());
        assertThat(d.exitValue()).as(third).isZero();
        assertThat(Checkpoints.load(out.resolve("last.ckpt")).meta().path("global_step").asLong())
                .isEqualTo((long) EPOCHS * TRAIN_IMAGES);
        CheckpointAssert.assertSameTensors(full.resolve("last.ckpt"), out.resolve("last.ckpt"),
                "the twice stopped and resumed job against the uninterrupted one");
        assertThat(Files.readAllLines(out.resolve("losses.csv"))).isEqualTo(Files.readAllLines(full.resolve("losses.csv")));
        assertThat(Files.readAllLines(out.resolve("metrics.csv"))).as("one row per epoch").hasSize(1 + EPOCHS);
    }

    /**
     * A stop during rank 0's evaluation, which the other rank waits out at {@link EvalBarrier}'s barrier: it learns
     * of the stop from the broadcast after the barrier, not from a poll. The signal goes to rank 0 only, once the
     * loss log has the epoch's last row and then 0.5 s later, inside an evaluation of 30 test images (2-3
     * seconds). That rank 0 reached the barrier is in the log: its line of the epoch's all-reduce time, printed just
     * before the barrier, which a stop at the poll after the last step would not reach.
     */
    @Test
    void sigtermToRank0DuringItsEvaluationStopsEveryRankAtTheEndOfTheEpochAndTheResumeEvaluatesTheEpoch()
            throws Exception {
        int epochs = 1, testImages = 30;
        Path data = new SyntheticVoc(3, 96, 128).write(dir.resolve("data"), TRAIN_IMAGES, testImages);
        Path out = dir.resolve("run");
        List<String> settings = TinyModels.settings(TinyModels.Size.SMALL, "epoch=" + epochs, "lr=0.02",
                "threads=1", "num_workers=0", "checkpoint_every=1000", TinyModels.SHAPE_CLASSES);

        Path log1 = dir.resolve("1.log");
        Process b = launch(data, out, settings, false, log1);
        ChildProcesses.awaitLine(b, out.resolve("losses.csv"), "\n" + STEPS + ",1," + (STEPS - 1) + ",");
        Thread.sleep(500); // past the poll after the last step, into the evaluation
        List<ProcessHandle> workers = b.toHandle().children().toList();
        ChildProcesses.workerOfRank(b, 0, WORLD).destroy();
        String first = finish(b, log1, workers);
        assertThat(b.exitValue()).as(first).isEqualTo(143);
        assertThat(first).as("rank 0 reached the evaluation's barrier").contains("epoch 1/" + epochs
                + ": gradient all-reduce");
        assertThat(first.lines().filter(l -> l.startsWith("frcnn: ")).toList()).as(first).containsExactly(
                "frcnn: stopped by SIGTERM at epoch 1 iteration " + STEPS + " of " + STEPS
                        + " (its evaluation runs on resume); saved " + out.resolve("last.ckpt")
                        + "; continue with --resume");
        assertThat(first).as("the evaluation did not finish").doesNotContain("epoch 1/" + epochs + ": mAP");
        assertThat(assertStoppedAndSaved(first, "SIGTERM", out)).as("the end of epoch 1's steps, in samples")
                .isEqualTo(TRAIN_IMAGES);
        assertThat(Files.readAllLines(out.resolve("metrics.csv"))).as("no metrics row for epoch 1 yet").hasSize(1);

        // the resume evaluates the epoch (the last one: the steps are all done) and ends
        Path log2 = dir.resolve("2.log");
        Process c = launch(data, out, settings, true, log2);
        String second = finish(c, log2, List.of());
        assertThat(c.exitValue()).as(second).isZero();
        System.out.printf("stopped during the evaluation:%n%s%nresumed:%n%s%n", first, second);
        assertThat(second).contains("epoch 1/" + epochs + ": mAP", "best mAP ");
        assertThat(Files.readAllLines(out.resolve("metrics.csv"))).as("one row per epoch").hasSize(1 + epochs);
        assertThat(Files.readAllLines(out.resolve("losses.csv"))).as("one loss row per step of the job")
                .hasSize(1 + epochs * STEPS);
    }
}
