package dev.frcnn.train;

import dev.frcnn.testing.CheckpointAssert;
import dev.frcnn.testing.ChildJvm;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A training run killed with SIGKILL in the middle of an epoch and restarted with {@code --resume} continues from
 * its last checkpoint and ends with exactly the weights of an uninterrupted run (epoch order, flips and sampling
 * are functions of the seed and the step, and the optimizer state is in the checkpoint).
 */
class ResumeAfterKillTest {
    @TempDir
    Path dir;

    private static final List<String> SETTINGS = TinyModels.settings(TinyModels.Size.MEDIUM, "epoch=2",
            "lr_decay_epoch=0", "lr=0.01", "checkpoint_every=3", "num_workers=1", "threads=1", TinyModels.SHAPE_CLASSES);

    private Process train(Path data, Path out, boolean resume) throws IOException {
        List<String> cmd = ChildJvm.train(data, out, SETTINGS, resume);
        return new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(out.resolveSibling(out.getFileName() + (resume ? "-resume" : "") + ".log").toFile()).start();
    }

    @Test
    void killedRunResumesAndEndsWithTheUninterruptedWeights() throws Exception {
        Path data = new SyntheticVoc(3, 96, 128).write(dir.resolve("data"), 16, 4);
        Path full = dir.resolve("full"), killed = dir.resolve("killed");
        Files.createDirectories(killed);

        Process a = train(data, full, false);
        assertThat(a.waitFor(5, TimeUnit.MINUTES)).isTrue();
        assertThat(a.exitValue()).as(Files.readString(dir.resolve("full.log"))).isZero();

        // Start the second run; kill it once a mid-epoch checkpoint (iteration > 0) of epoch 2 exists.
        Process b = train(data, killed, false);
        Path last = killed.resolve("last.ckpt");
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
        JsonNode meta = null;
        while (System.nanoTime() < deadline && b.isAlive()) {
            if (Files.isRegularFile(last)) {
                try {
                    JsonNode m = Checkpoints.load(last).meta();
                    if (m.path("epoch").asInt() == 1 && m.path("iteration").asInt() > 0) {
                        meta = m;
                        break;
                    }
                } catch (IOException e) {
                    // being replaced right now: try again
                }
            }
            Thread.sleep(20);
        }
        assertThat(meta).as("a mid-epoch checkpoint appeared before the run ended").isNotNull();
        b.destroyForcibly();
        b.waitFor(1, TimeUnit.MINUTES);
        long stepAtKill = Checkpoints.load(last).meta().path("global_step").asLong();
        assertThat(stepAtKill).isLessThan(32); // 16 images x 2 epochs: the run was cut short

        Process c = train(data, killed, true);
        assertThat(c.waitFor(5, TimeUnit.MINUTES)).isTrue();
        String log = Files.readString(dir.resolve("killed-resume.log"));
        assertThat(c.exitValue()).as(log).isZero();
        assertThat(log).contains("resuming from");

        assertThat(Checkpoints.load(killed.resolve("last.ckpt")).meta().path("global_step").asLong())
                .isEqualTo(Checkpoints.load(full.resolve("last.ckpt")).meta().path("global_step").asLong()).isEqualTo(32);
        CheckpointAssert.assertSameTensors(full.resolve("last.ckpt"), killed.resolve("last.ckpt"),
                "the resumed run against the uninterrupted one");
        // The loss log has one row per step, without duplicates from the killed attempt.
        List<String> rows = Files.readAllLines(killed.resolve("losses.csv"));
        assertThat(rows).hasSize(33);
        assertThat(new ObjectMapper().readTree("[" + rows.get(32).split(",")[0] + "]").get(0).asInt()).isEqualTo(32);
    }
}
