package dev.frcnn.train;

import dev.frcnn.testing.ChildProcesses;
import dev.frcnn.testing.ChildJvm;
import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.data.SyntheticVoc;
import dev.frcnn.io.Checkpoints;
import dev.frcnn.testing.TinyModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * SIGTERM and SIGINT stop {@code bin/frcnn train} gracefully: the step in progress finishes, {@code last.ckpt} is
 * saved at the position reached (with the best mAP and epoch of {@code best.ckpt}), one line says where, the exit
 * code is 143 or 130, and {@code --resume} continues from exactly there to the end, with one loss row per step and
 * one metrics row per epoch. Child JVMs as in {@link ResumeAfterKillTest}; the signals are sent once a line shows the
 * run is training, never after a fixed delay.
 */
class GracefulStopTest {
    @TempDir
    Path dir;

    private static final int TRAIN_IMAGES = 12, EPOCHS = 3;
    private static final Pattern STOPPED = Pattern.compile(
            "frcnn: stopped by (SIG[A-Z]+) at epoch (\\d+) iteration (\\d+) of (\\d+)[^;\\n]*; saved (\\S+last\\.ckpt); "
                    + "continue with --resume");

    private static final List<String> SETTINGS = TinyModels.settings(TinyModels.Size.MEDIUM, "epoch=" + EPOCHS,
            "lr_decay_epoch=1", "lr=0.01", "checkpoint_every=1000", "num_workers=1", "threads=1", TinyModels.SHAPE_CLASSES);

    private Process train(Path data, Path out, boolean resume, Path log) throws IOException {
        List<String> cmd = ChildJvm.train(data, out, SETTINGS, resume);
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private static String finish(Process p, Path log) throws Exception {
        assertThat(p.waitFor(3, TimeUnit.MINUTES)).as("the child ends").isTrue();
        return Files.readString(log);
    }

    /**
     * Checks the stop line against last.ckpt and best.ckpt.
     *
     * @return the 1-based epoch and the iteration of the line, and the checkpoint's global step
     */
    private static long[] assertStoppedAndSaved(String log, String signal, Path out) throws IOException {
        Matcher m = STOPPED.matcher(log);
        assertThat(m.find()).as("the stop line in: " + log).isTrue();
        assertThat(m.group(1)).isEqualTo(signal);
        assertThat(log.lines().filter(l -> l.startsWith("frcnn: stopped by")).count()).as("stop lines").isEqualTo(1);
        Path last = out.resolve("last.ckpt");
        assertThat(Path.of(m.group(5))).isEqualTo(last);
        JsonNode meta = Checkpoints.load(last).meta();
        int epoch = Integer.parseInt(m.group(2)), iteration = Integer.parseInt(m.group(3));
        assertThat(Integer.parseInt(m.group(4))).isEqualTo(TRAIN_IMAGES);
        assertThat(meta.path("epoch").asInt()).as("0-based epoch in last.ckpt").isEqualTo(epoch - 1);
        assertThat(meta.path("iteration").asInt()).isEqualTo(iteration);
        long step = meta.path("global_step").asLong();
        assertThat(step).as("global step = full epochs + iterations").isEqualTo((long) (epoch - 1) * TRAIN_IMAGES + iteration);
        // best.ckpt bookkeeping: last.ckpt names the epoch and mAP of the best.ckpt on disk.
        JsonNode best = Checkpoints.load(out.resolve("best.ckpt")).meta();
        assertThat(meta.path("best_epoch").asInt()).isEqualTo(best.path("epoch").asInt()).isEqualTo(best.path("best_epoch").asInt());
        assertThat(meta.path("best_map").asDouble()).isEqualTo(best.path("best_map").asDouble());
        // One loss row per step done, none lost or duplicated.
        assertThat(Files.readAllLines(out.resolve("losses.csv"))).hasSize(1 + (int) step);
        try (var files = Files.list(out)) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".tmp"));
        }
        return new long[]{epoch, iteration, step};
    }

    /** True if this process ignores SIGINT ({@code SigIgn} of {@code /proc/self/status}); its children inherit that. */
    private static boolean sigintIgnored() throws IOException {
        Path status = Path.of("/proc/self/status");
        if (!Files.isReadable(status)) return false;
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith("SigIgn:")) return (Long.parseUnsignedLong(line.substring(7).trim(), 16) & 0x2L) != 0;
        }
        return false;
    }

    @Test
    void sigtermAndSigintSaveTheStepReachedAndResumeFinishesFromThere() throws Exception {
        Path data = new SyntheticVoc(3, 96, 128).write(dir.resolve("data"), TRAIN_IMAGES, 4);
        Path out = dir.resolve("run");

        // SIGTERM (Process.destroy on Linux), twice: the second one must not disturb the save.
        Path log1 = dir.resolve("1.log");
        Process a = train(data, out, false, log1);
        ChildProcesses.awaitLine(a, log1, "epoch 1/" + EPOCHS + ": mAP");
        a.destroy();
        a.destroy();
        String first = finish(a, log1);
        assertThat(a.exitValue()).as(first).isEqualTo(143);
        long[] stop1 = assertStoppedAndSaved(first, "SIGTERM", out);
        assertThat(stop1[2]).as("stopped after the first epoch, before the end").isBetween((long) TRAIN_IMAGES, (long) EPOCHS * TRAIN_IMAGES - 1);

        // SIGINT (Ctrl-C) to the resumed run, once it has resumed. A process that inherited an ignored SIGINT (a job
        // started in the background by a non-interactive shell, e.g. under nohup) cannot handle it: the JVM installs
        // no handler for an ignored SIGINT, so the child would train on. There the second stop is a SIGTERM too.
        boolean sigint = !sigintIgnored();
        String signal2 = sigint ? "INT" : "TERM";
        Path log2 = dir.resolve("2.log");
        Process b = train(data, out, true, log2);
        ChildProcesses.awaitLine(b, log2, "resuming from");
        Process kill = new ProcessBuilder("kill", "-" + signal2, Long.toString(b.pid())).inheritIO().start();
        assertThat(kill.waitFor(1, TimeUnit.MINUTES) && kill.exitValue() == 0).as("kill -" + signal2).isTrue();
        String second = finish(b, log2);
        assertThat(second).contains(String.format("resuming from %s: epoch %d, step %d of the epoch",
                out.resolve("last.ckpt"), stop1[0], stop1[1]));
        assertThat(b.exitValue()).as(second).isEqualTo(sigint ? 130 : 143);
        long[] stop2 = assertStoppedAndSaved(second, "SIG" + signal2, out);
        assertThat(stop2[2]).isGreaterThanOrEqualTo(stop1[2]);

        // The last resume runs to the end.
        Path log3 = dir.resolve("3.log");
        Process c = train(data, out, true, log3);
        String third = finish(c, log3);
        assertThat(c.exitValue()).as(third).isZero();
        assertThat(third).contains(String.format("epoch %d, step %d of the epoch", stop2[0], stop2[1])).contains("mAP: ");
        JsonNode end = Checkpoints.load(out.resolve("last.ckpt")).meta();
        assertThat(end.path("global_step").asLong()).isEqualTo((long) EPOCHS * TRAIN_IMAGES);
        assertThat(end.path("epoch").asInt()).isEqualTo(EPOCHS);
        assertThat(Files.readAllLines(out.resolve("losses.csv"))).hasSize(1 + EPOCHS * TRAIN_IMAGES);
        assertThat(Files.readAllLines(out.resolve("metrics.csv"))).as("one row per epoch").hasSize(1 + EPOCHS);
    }
}
