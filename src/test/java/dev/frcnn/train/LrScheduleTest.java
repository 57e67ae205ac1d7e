package dev.frcnn.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.config.Config;
import dev.frcnn.data.SyntheticVoc;
import dev.frcnn.io.Checkpoints;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.TinyModels;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;
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
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The learning-rate schedule of {@link TrainLoop}, in process with the tiny backbone: the lr of every step, the
 * lr restored on resume (base and per group, before and across the decay epoch), and the decay itself (the best
 * model reloaded, every group's lr times {@code lr_decay}), as the reference's {@code train.py} does at
 * {@code epoch == lr_decay_epoch}.
 *
 * <p>The test split's only gt box is 2x2 px, which no detection can match: the mAP is 0 in every epoch, so the
 * best model stays the one of the first epoch and reloading it at the decay epoch visibly rewinds the weights.
 */
class LrScheduleTest {
    private static final double LR = 0.01, DECAY = 0.1;
    private static final int DECAY_EPOCH = 1;   // 0-based, as lr_decay_epoch

    @TempDir
    static Path dir;
    private static Path data;

    @BeforeAll
    static void writeData() throws IOException {
        data = new SyntheticVoc(5, 96, 128).write(dir.resolve("data"), 6, 1);
        // Replace the test image's objects with one 2x2 px circle that no detection can reach IoU 0.5 with.
        String id = Files.readAllLines(data.resolve("ImageSets/Main/test.txt")).get(0).trim();
        Path xml = data.resolve("Annotations/" + id + ".xml");
        String s = Files.readString(xml);
        String head = s.substring(0, s.indexOf("  <object>"));
        Files.writeString(xml, head + "  <object>\n    <name>circle</name>\n    <difficult>0</difficult>\n"
                + "    <bndbox><xmin>5</xmin><ymin>5</ymin><xmax>6</xmax><ymax>6</ymax></bndbox>\n  </object>\n</annotation>\n");
    }

    private static Config config(int epochs) {
        return TinyModels.config(TinyModels.Size.SMALL, "epoch=" + epochs, "lr_decay_epoch=" + DECAY_EPOCH,
                "lr=" + LR, "lr_decay=" + DECAY, "checkpoint_every=1000", "num_workers=1", "seed=3",
                TinyModels.SHAPE_CLASSES);
    }

    private static TrainLoop.Result train(Path out, int epochs, boolean resume) throws IOException {
        PrintStream log = new PrintStream(new ByteArrayOutputStream());
        return new TrainLoop(config(epochs), new TrainLoop.Options(data, out, resume, "train", "test",
                new org.bytedeco.pytorch.Device(org.bytedeco.pytorch.global.torch.DeviceType.CPU), log, false)).run();
    }

    /** The base lr the schedule gives in (0-based) epoch {@code e}. */
    private static double lrOfEpoch(int e) {
        return e <= DECAY_EPOCH ? LR : LR * DECAY;
    }

    /** Per group: weights the base lr, biases twice it, in trainable named_parameters order. */
    private static double[] groupLrs(org.bytedeco.pytorch.Module model, double base) {
        List<Double> out = new ArrayList<>();
        StringTensorDict np = model.named_parameters(true);
        for (long i = 0; i < np.size(); i++) {
            if (!np.get(i).value().requires_grad()) continue;
            out.add(np.get(i).key().getString().contains("bias") ? 2 * base : base);
        }
        return out.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static void assertLrs(double[] actual, double[] expected, String what) {
        assertThat(actual).as(what + " count").hasSameSizeAs(expected);
        for (int i = 0; i < expected.length; i++) {
            assertThat(actual[i]).as(what + " [" + i + "]").isCloseTo(expected[i], within(1e-12 * expected[i]));
        }
    }

    /** (1-based epoch, lr) of every row of losses.csv. */
    private static List<double[]> stepLrs(Path out) throws IOException {
        List<double[]> rows = new ArrayList<>();
        try (Stream<String> lines = Files.lines(out.resolve("losses.csv"))) {
            lines.skip(1).forEach(l -> {
                String[] c = l.split(",");
                rows.add(new double[]{Double.parseDouble(c[1]), Double.parseDouble(c[c.length - 1])});
            });
        }
        return rows;
    }

    private static void assertStepLrs(Path out, int expectedRows) throws IOException {
        List<double[]> rows = stepLrs(out);
        assertThat(rows).as("losses.csv rows").hasSize(expectedRows);
        for (double[] r : rows) {
            int epoch0 = (int) r[0] - 1;
            assertThat(r[1]).as("lr logged in epoch " + (int) r[0]).isCloseTo(lrOfEpoch(epoch0), within(1e-12));
        }
    }

    private static JsonNode meta(Path ckpt) throws IOException {
        return Checkpoints.load(ckpt).meta();
    }

    private static double[] metaGroupLrs(JsonNode m) {
        JsonNode a = m.get("group_lrs");
        assertThat(a).as("group_lrs in the checkpoint").isNotNull();
        double[] d = new double[a.size()];
        for (int i = 0; i < d.length; i++) d[i] = a.get(i).asDouble();
        return d;
    }

    /** Number of elements that differ (bitwise) between two checkpoints' tensors. */
    private static long differing(Path a, Path b) throws IOException {
        try (PointerScope s = new PointerScope()) {
            Map<String, Tensor> x = Checkpoints.load(a).tensors(), y = Checkpoints.load(b).tensors();
            assertThat(y.keySet()).containsExactlyElementsOf(x.keySet());
            long n = 0;
            for (String k : x.keySet()) {
                float[] u = Tensors.toFloatArray(x.get(k)), v = Tensors.toFloatArray(y.get(k));
                for (int i = 0; i < u.length; i++) if (Float.floatToIntBits(u[i]) != Float.floatToIntBits(v[i])) n++;
            }
            return n;
        }
    }

    @Test
    void decayReloadsTheBestModelAndScalesEveryGroupLr() throws IOException {
        // Two epochs; the decay happens at the end of the second (epoch index 1).
        Path out = dir.resolve("decay");
        TrainLoop.Result r = train(out, DECAY_EPOCH + 1, false);
        assertThat(r.bestMap()).as("mAP on the unreachable 2x2 box").isEqualTo(0.0);
        assertThat(r.bestEpoch()).as("best epoch (the first: no later epoch beats mAP 0)").isZero();
        assertThat(r.bestEvaluation()).as("the best epoch's evaluation, kept for the demo").isNotNull();
        assertThat(r.bestEvaluation().map()).isEqualTo(r.bestMap());
        JsonNode best = meta(out.resolve("best.ckpt"));
        assertThat(best.path("epoch").asInt()).isZero();

        // ...and after it, last.ckpt (written after the decay) holds exactly the best model again.
        assertThat(differing(out.resolve("best.ckpt"), out.resolve("last.ckpt")))
                .as("elements of last.ckpt (after the decay) that differ from best.ckpt").isZero();

        JsonNode last = meta(out.resolve("last.ckpt"));
        assertThat(last.path("lr").asDouble()).as("base lr after the decay").isCloseTo(LR * DECAY, within(1e-15));
        assertLrs(metaGroupLrs(last), groupLrs(r.model().module(), LR * DECAY), "group lrs after the decay");
        assertStepLrs(out, 12);
        // metrics.csv logs each epoch's lr before that epoch's decay.
        List<String> metrics = Files.readAllLines(out.resolve("metrics.csv"));
        assertThat(metrics).hasSize(3);
        assertThat(Double.parseDouble(metrics.get(2).split(",")[2])).isCloseTo(LR, within(1e-15));
    }

    @Test
    void weightsMoveDuringTheEpochBeforeTheDecay() throws IOException {
        // Guards the check above: without the reload, last.ckpt would differ from best.ckpt.
        Path out = dir.resolve("no-decay-yet");
        train(out, DECAY_EPOCH + 1, false);
        Path one = dir.resolve("one-epoch");
        train(one, 1, false);
        assertThat(differing(one.resolve("last.ckpt"), out.resolve("best.ckpt"))).as("best.ckpt is epoch 1's model").isZero();
        // A run with the decay epoch moved past its end keeps epoch 2's weights, which differ from the best.
        Path noDecay = dir.resolve("decay-later");
        new TrainLoop(config(DECAY_EPOCH + 1).withOverrides(List.of("lr_decay_epoch=5")), new TrainLoop.Options(data, noDecay,
                false, "train", "test", new org.bytedeco.pytorch.Device(org.bytedeco.pytorch.global.torch.DeviceType.CPU),
                new PrintStream(new ByteArrayOutputStream()), false)).run();
        assertThat(differing(noDecay.resolve("best.ckpt"), noDecay.resolve("last.ckpt")))
                .as("elements that moved in epoch 2").isPositive();
    }

    @Test
    void resumeRestoresTheScheduledLrBeforeAndAcrossTheDecay() throws IOException {
        int epochs = DECAY_EPOCH + 2;
        Path full = dir.resolve("full");
        TrainLoop.Result rf = train(full, epochs, false);
        assertStepLrs(full, 18);
        assertLrs(metaGroupLrs(meta(full.resolve("last.ckpt"))), groupLrs(rf.model().module(), LR * DECAY), "full run's group lrs");

        // Stopped before the decay epoch ended (after epoch 1): resuming must keep lr, then decay at the right epoch.
        Path early = dir.resolve("early");
        train(early, 1, false);
        JsonNode m = meta(early.resolve("last.ckpt"));
        assertThat(m.path("lr").asDouble()).isCloseTo(LR, within(1e-15));
        TrainLoop.Result re = train(early, epochs, true);
        assertStepLrs(early, 18);
        assertLrs(metaGroupLrs(meta(early.resolve("last.ckpt"))), groupLrs(re.model().module(), LR * DECAY), "resumed (early) group lrs");
        assertThat(differing(full.resolve("last.ckpt"), early.resolve("last.ckpt"))).as("resumed before the decay vs uninterrupted").isZero();

        // Stopped right after the decay (after epoch 2): resuming must restore the decayed lrs, not the config's.
        Path late = dir.resolve("late");
        train(late, DECAY_EPOCH + 1, false);
        JsonNode ml = meta(late.resolve("last.ckpt"));
        assertThat(ml.path("lr").asDouble()).isCloseTo(LR * DECAY, within(1e-15));
        TrainLoop.Result rl = train(late, epochs, true);
        assertThat(rl.bestEvaluation()).as("the best epoch was evaluated before the resume").isNull();
        assertStepLrs(late, 18);
        assertLrs(metaGroupLrs(meta(late.resolve("last.ckpt"))), groupLrs(rl.model().module(), LR * DECAY), "resumed (late) group lrs");
        assertThat(differing(full.resolve("last.ckpt"), late.resolve("last.ckpt"))).as("resumed after the decay vs uninterrupted").isZero();
    }
}
