package dev.frcnn.train;

import dev.frcnn.cli.Main;
import dev.frcnn.data.SyntheticVoc;
import dev.frcnn.io.Checkpoints;
import dev.frcnn.testing.ChildJvm;
import dev.frcnn.testing.TinyModels;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.bytedeco.pytorch.global.torch.isfinite;

/**
 * Training that diverges stops at the first non-finite loss with exit code 1 and one line naming the step, the
 * epoch and the non-finite losses; last.ckpt keeps a finite state, and --resume with a lower lr continues from it.
 * Warm-up multiplies the logged learning rate by detectron2's linear factor.
 */
class DivergenceTest {
    @TempDir
    Path dir;

    private static final List<String> SETTINGS = TinyModels.settings(TinyModels.Size.SMALL, "epoch=1",
            "lr_decay_epoch=5", "checkpoint_every=4", "num_workers=1", "threads=1", "seed=3", TinyModels.SHAPE_CLASSES);

    record Run(int code, String out, String err) {}

    private static Run train(Path data, Path out, boolean resume, String... extra) {
        List<String> settings = new ArrayList<>(SETTINGS);
        settings.addAll(List.of(extra));
        List<String> args = ChildJvm.trainArgs(data, out, settings, resume);
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream(), e = new ByteArrayOutputStream();
        System.setOut(new PrintStream(o, true));
        System.setErr(new PrintStream(e, true));
        try {
            int code = Main.run(args.toArray(String[]::new));
            return new Run(code, o.toString(), e.toString());
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void absurdLrStopsWithExit1TheMessageAndAFiniteLastCheckpointThatResumes() throws Exception {
        Path data = new SyntheticVoc(3, 96, 128).write(dir.resolve("data"), 12, 3);
        Path out = dir.resolve("run");
        Run r = train(data, out, false, "lr=1e8");

        assertThat(r.code()).as(r.err()).isEqualTo(1);
        List<String> lines = r.err().lines().filter(l -> l.startsWith("frcnn:")).toList();
        assertThat(lines).hasSize(1);
        assertThat(lines.get(0)).matches("frcnn: training diverged: non-finite "
                + "(rpn_loc_loss|rpn_cls_loss|roi_loc_loss|roi_cls_loss)(, \\w+_loss)* at step \\d+ \\(epoch 1\\): .*")
                .contains(out.resolve("last.ckpt") + " keeps the last finite state");
        long step = Long.parseLong(lines.get(0).replaceAll(".* at step (\\d+) .*", "$1"));
        assertThat(step).isGreaterThan(1);

        // losses.csv ends with the diverged step; last.ckpt loads and all its tensors are finite.
        List<String> csv = Files.readAllLines(out.resolve("losses.csv"));
        assertThat(csv.get(csv.size() - 1)).startsWith(step + ",1,").containsAnyOf("NaN", "Infinity");
        Checkpoints.Loaded c = Checkpoints.load(out.resolve("last.ckpt"));
        assertThat(c.meta().path("global_step").asLong()).isLessThan(step);
        try (PointerScope s = new PointerScope()) {
            for (Tensor t : c.tensors().values()) assertThat(isfinite(t).all().item_bool()).isTrue();
        }

        // Resuming with a sane lr continues from last.ckpt and finishes the epoch.
        Run resumed = train(data, out, true, "lr=0.01");
        assertThat(resumed.code()).as(resumed.err()).isZero();
        assertThat(resumed.err()).contains("lr changed from 1.0E8 to 0.01");
        assertThat(resumed.out()).containsPattern("mAP: \\d\\.\\d{4}");
    }

    @Test
    void warmupScalesTheLoggedLearningRateLinearly() throws Exception {
        Path data = new SyntheticVoc(3, 96, 128).write(dir.resolve("data"), 6, 2);
        Path out = dir.resolve("warm");
        Run r = train(data, out, false, "lr=0.01", "warmup_iters=4", "warmup_factor=0.1");
        assertThat(r.code()).as(r.err()).isZero();
        List<String> csv = Files.readAllLines(out.resolve("losses.csv"));
        double[] expected = {0.01 * 0.1, 0.01 * 0.325, 0.01 * 0.55, 0.01 * 0.775, 0.01, 0.01};
        for (int i = 0; i < expected.length; i++) {
            String[] c = csv.get(i + 1).split(",");
            assertThat(Double.parseDouble(c[c.length - 1])).as("lr at step %d", i + 1).isCloseTo(expected[i],
                    org.assertj.core.api.Assertions.within(1e-12));
        }
    }
}
