package dev.frcnn.train;

import dev.frcnn.testing.CheckpointAssert;
import dev.frcnn.config.Config;
import dev.frcnn.config.ConfigException;
import dev.frcnn.data.SyntheticVoc;
import dev.frcnn.io.Checkpoints;
import dev.frcnn.testing.TinyModels;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.global.torch.DeviceType;
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
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The training loop with {@code batch_size} 2 on 5 synthetic images of different sizes (in process, tiny backbone):
 * an epoch is ceil(5 / 2) = 3 steps, the last one of a single image; positions and the global step count steps; a run
 * stopped mid-epoch and resumed ends with exactly the weights of an uninterrupted one (also when one reads its images
 * on a loader thread and the other in the training thread); a mid-epoch resume with another {@code batch_size} is
 * refused.
 */
class BatchTrainLoopTest {
    private static final int IMAGES = 5, BATCH = 2, STEPS = 3, EPOCHS = 2;

    @TempDir
    static Path dir;
    private static Path data;

    @BeforeAll
    static void writeData() {
        data = new SyntheticVoc(7, 96, 128).write(dir.resolve("data"), IMAGES, 2);
    }

    private static Config config(int batchSize, int numWorkers) {
        return TinyModels.config(TinyModels.Size.SMALL, "epoch=" + EPOCHS, "lr_decay_epoch=0", "lr=0.01",
                "checkpoint_every=100", "num_workers=" + numWorkers, "seed=3", "batch_size=" + batchSize,
                TinyModels.SHAPE_CLASSES);
    }

    /** Records (epoch, iteration, global step) after each step and the epoch lengths; stops after step {@code stopAt}. */
    private static final class Recorder extends HookBase {
        final List<String> steps = new ArrayList<>();
        final List<Integer> epochLengths = new ArrayList<>();
        final StopRequest stop;
        final long stopAt;

        Recorder(StopRequest stop, long stopAt) {
            this.stop = stop;
            this.stopAt = stopAt;
        }

        @Override void beforeEpoch(TrainState s) { epochLengths.add(s.epochLength()); }

        @Override
        void afterStep(TrainState s) {
            steps.add(s.epoch() + ":" + s.iteration() + ":" + s.globalStep());
            if (s.globalStep() == stopAt) stop.request(new StopRequest.Reason("test", 99));
        }
    }

    private static Recorder train(Config cfg, Path out, boolean resume, long stopAt) throws IOException {
        StopRequest stop = new StopRequest();
        Recorder r = new Recorder(stop, stopAt);
        TrainLoop loop = new TrainLoop(cfg, new TrainLoop.Options(data, out, resume, false, "train", "test",
                new Device(DeviceType.CPU), new PrintStream(new ByteArrayOutputStream()), false, stop));
        if (stopAt < 0) {
            loop.run(List.of(r));
        } else {
            assertThatThrownBy(() -> loop.run(List.of(r))).isInstanceOf(TrainingStoppedException.class);
        }
        return r;
    }

    @Test
    void stepsCountBatchesAndAStoppedRunResumesToTheSameWeights() throws IOException {
        Path full = dir.resolve("full");
        Recorder r = train(config(BATCH, 0), full, false, -1);
        assertThat(r.epochLengths).containsExactly(STEPS, STEPS);
        assertThat(r.steps).containsExactly("0:1:1", "0:2:2", "0:3:3", "1:1:4", "1:2:5", "1:3:6");
        assertThat(Files.readAllLines(full.resolve("losses.csv"))).hasSize(1 + EPOCHS * STEPS);

        Path stopped = dir.resolve("stopped");
        train(config(BATCH, 1), stopped, false, 2);
        assertThat(Checkpoints.load(stopped.resolve("last.ckpt")).meta().path("iteration").asInt()).isEqualTo(2);
        // mid-epoch, the position counts steps of 2 images: another batch size is refused before anything is written
        assertThatThrownBy(() -> train(config(3, 1), stopped, true, -1))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("stopped within epoch 1 (position 2) with batch_size 2")
                .hasMessageContaining("resuming within an epoch needs the same batch_size, got 3 (set batch_size=2)");
        Recorder resumed = train(config(BATCH, 1), stopped, true, -1);
        assertThat(resumed.steps).containsExactly("0:3:3", "1:1:4", "1:2:5", "1:3:6");

        assertThat(Checkpoints.load(stopped.resolve("last.ckpt")).meta().path("global_step").asLong())
                .isEqualTo(Checkpoints.load(full.resolve("last.ckpt")).meta().path("global_step").asLong())
                .isEqualTo(EPOCHS * STEPS);
        CheckpointAssert.assertSameTensors(full.resolve("last.ckpt"), stopped.resolve("last.ckpt"),
                "the resumed run against the uninterrupted one");
    }
}
