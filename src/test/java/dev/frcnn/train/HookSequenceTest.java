package dev.frcnn.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.config.Config;
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
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A hook added after the run's own hooks ({@link TrainLoop#run(List)}) sees every point of {@link SimpleTrainer}'s
 * loop in order, with the epoch, the step within it and the global step of that point; the run's own hooks have
 * done their part before it (the periodic and end-of-epoch {@code last.ckpt}, the epoch's {@code metrics.csv} row). A
 * run stopped mid-epoch, or after an epoch's last step but before its evaluation, resumes at the point it stopped.
 * In process, with the tiny backbone on 4 synthetic training images.
 */
class HookSequenceTest {
    private static final int IMAGES = 4, EPOCHS = 2, EVERY = 3;

    @TempDir
    static Path dir;
    private static Path data;

    @BeforeAll
    static void writeData() throws IOException {
        data = new SyntheticVoc(5, 96, 128).write(dir.resolve("data"), IMAGES, 1);
    }

    private static Config config() {
        return TinyModels.config(TinyModels.Size.SMALL, "epoch=" + EPOCHS, "lr_decay_epoch=0", "lr=0.01",
                "checkpoint_every=" + EVERY, "num_workers=1", "seed=3", TinyModels.SHAPE_CLASSES);
    }

    /** A point of the loop and the state there. */
    record Event(String point, int epoch, int iteration, long globalStep) {
        @Override
        public String toString() {
            return point + "(" + epoch + "," + iteration + "," + globalStep + ")";
        }
    }

    /** Records every point; at {@code stopAt}'s afterStep, requests a stop. */
    private static final class Recorder extends HookBase {
        final List<Event> events = new ArrayList<>();
        final List<String> problems = new ArrayList<>();
        final Path out;
        final StopRequest stop;
        final long stopAt;

        Recorder(Path out, StopRequest stop, long stopAt) {
            this.out = out;
            this.stop = stop;
            this.stopAt = stopAt;
        }

        private void add(String point, TrainState s) {
            events.add(new Event(point, s.epoch(), s.iteration(), s.globalStep()));
        }

        @Override void beforeTrain(TrainState s) { add("beforeTrain", s); }
        @Override void afterTrain(TrainState s) { add("afterTrain", s); }
        @Override void beforeEpoch(TrainState s) {
            add("beforeEpoch", s);
            if (s.epochLength() != IMAGES) problems.add("epoch length " + s.epochLength());
        }
        @Override void beforeStep(TrainState s) { add("beforeStep", s); }
        @Override void afterDivergedStep(TrainState s) { add("afterDivergedStep", s); }

        @Override
        void afterStep(TrainState s) {
            add("afterStep", s);
            double[] v = s.lastLosses();
            if (v == null || v.length != 5 || !Double.isFinite(v[4])) problems.add("losses at " + s.globalStep());
            if (s.globalStep() % EVERY == 0 && s.iteration() < IMAGES) {
                // the periodic checkpoint ran before this hook
                JsonNode m = meta(out.resolve("last.ckpt"));
                if (m.path("global_step").asLong() != s.globalStep()) {
                    problems.add("last.ckpt at step " + m.path("global_step") + " in afterStep " + s.globalStep());
                }
            }
            if (s.globalStep() == stopAt) stop.request(new StopRequest.Reason("test", 99));
        }

        @Override
        void afterEpoch(TrainState s) {
            add("afterEpoch", s);
            JsonNode m = meta(out.resolve("last.ckpt"));
            if (m.path("epoch").asInt() != s.epoch() + 1 || m.path("iteration").asInt() != 0) {
                problems.add("last.ckpt at epoch " + m.path("epoch") + " in afterEpoch " + s.epoch());
            }
            try {
                List<String> metrics = Files.readAllLines(out.resolve("metrics.csv"));
                if (!metrics.get(metrics.size() - 1).startsWith((s.epoch() + 1) + ",")) {
                    problems.add("metrics.csv ends with " + metrics.get(metrics.size() - 1) + " in afterEpoch " + s.epoch());
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            if (!(s.lastMap() >= 0)) problems.add("no mAP in afterEpoch " + s.epoch());
        }
    }

    private static JsonNode meta(Path ckpt) {
        try {
            return Checkpoints.load(ckpt).meta();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Recorder train(Path out, boolean resume, long stopAt) throws IOException {
        StopRequest stop = new StopRequest();
        Recorder r = new Recorder(out, stop, stopAt);
        TrainLoop loop = new TrainLoop(config(), new TrainLoop.Options(data, out, resume, false, "train", "test",
                new Device(DeviceType.CPU), new PrintStream(new ByteArrayOutputStream()), false, stop));
        if (stopAt < 0) {
            loop.run(List.of(r));
        } else {
            assertThatThrownBy(() -> loop.run(List.of(r))).isInstanceOf(TrainingStoppedException.class);
        }
        assertThat(r.problems).isEmpty();
        return r;
    }

    /** The events of steps {@code from..to-1} of {@code epoch}. */
    private static List<Event> steps(int epoch, int from, int to) {
        List<Event> e = new ArrayList<>();
        for (int k = from; k < to; k++) {
            long g = (long) epoch * IMAGES + k;
            e.add(new Event("beforeStep", epoch, k, g));
            e.add(new Event("afterStep", epoch, k + 1, g + 1));
        }
        return e;
    }

    @Test
    void aHookSeesEveryPointInOrderAfterTheRunsOwnHooks() throws IOException {
        Recorder r = train(dir.resolve("fresh"), false, -1);
        List<Event> expected = new ArrayList<>();
        expected.add(new Event("beforeTrain", 0, 0, 0));
        for (int e = 0; e < EPOCHS; e++) {
            expected.add(new Event("beforeEpoch", e, 0, (long) e * IMAGES));
            expected.addAll(steps(e, 0, IMAGES));
            expected.add(new Event("afterEpoch", e, IMAGES, (long) (e + 1) * IMAGES));
        }
        expected.add(new Event("afterTrain", EPOCHS, 0, (long) EPOCHS * IMAGES));
        assertThat(r.events).containsExactlyElementsOf(expected);
    }

    @Test
    void resumedRunsStartAtThePointWhereTheyStopped() throws IOException {
        Path out = dir.resolve("stopped");
        // Stopped after the last step of epoch 0, before its evaluation.
        Recorder first = train(out, false, IMAGES);
        List<Event> expected = new ArrayList<>();
        expected.add(new Event("beforeTrain", 0, 0, 0));
        expected.add(new Event("beforeEpoch", 0, 0, 0));
        expected.addAll(steps(0, 0, IMAGES));
        expected.add(new Event("afterTrain", 0, IMAGES, IMAGES));
        assertThat(first.events).containsExactlyElementsOf(expected);

        // The resume evaluates epoch 0 without a step, then stops mid-epoch 1.
        Recorder second = train(out, true, IMAGES + 2);
        expected.clear();
        expected.add(new Event("beforeTrain", 0, IMAGES, IMAGES));
        expected.add(new Event("beforeEpoch", 0, IMAGES, IMAGES));
        expected.add(new Event("afterEpoch", 0, IMAGES, IMAGES));
        expected.add(new Event("beforeEpoch", 1, 0, IMAGES));
        expected.addAll(steps(1, 0, 2));
        expected.add(new Event("afterTrain", 1, 2, IMAGES + 2));
        assertThat(second.events).containsExactlyElementsOf(expected);

        // The last resume finishes epoch 1 from its third step.
        Recorder third = train(out, true, -1);
        expected.clear();
        expected.add(new Event("beforeTrain", 1, 2, IMAGES + 2));
        expected.add(new Event("beforeEpoch", 1, 2, IMAGES + 2));
        expected.addAll(steps(1, 2, IMAGES));
        expected.add(new Event("afterEpoch", 1, IMAGES, 2L * IMAGES));
        expected.add(new Event("afterTrain", EPOCHS, 0, 2L * IMAGES));
        assertThat(third.events).containsExactlyElementsOf(expected);
        assertThat(meta(out.resolve("last.ckpt")).path("global_step").asLong()).isEqualTo(2L * IMAGES);
    }
}
