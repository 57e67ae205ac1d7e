package dev.frcnn.train;

import dev.frcnn.cli.Main;
import dev.frcnn.data.SyntheticVoc;
import dev.frcnn.io.Checkpoints;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.ChildJvm;
import dev.frcnn.testing.TinyModels;
import org.bytedeco.javacpp.PointerScope;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code num_workers}: reading the training images in the training thread (0) or on a loader thread that reads
 * ahead (1) feeds the same samples in the same order, so the loss log and the final weights are identical, bit for
 * bit.
 */
class LoaderThreadsTest {
    @TempDir
    Path dir;

    private Path train(Path data, int numWorkers) {
        Path out = dir.resolve("workers" + numWorkers);
        List<String> args = ChildJvm.trainArgs(data, out, TinyModels.settings(TinyModels.Size.MEDIUM, "epoch=1",
                "lr_decay_epoch=0", "lr=0.01", "threads=1", "num_workers=" + numWorkers, TinyModels.SHAPE_CLASSES), false);
        assertThat(Main.run(args.toArray(String[]::new))).isZero();
        return out;
    }

    @Test
    void inThreadLoadingTrainsExactlyAsALoaderThread() throws Exception {
        Path data = new SyntheticVoc(3, 96, 128).write(dir.resolve("data"), 12, 4);
        Path inThread = train(data, 0), loader = train(data, 1);

        List<String> rows = Files.readAllLines(inThread.resolve("losses.csv"));
        assertThat(rows).hasSize(13).isEqualTo(Files.readAllLines(loader.resolve("losses.csv")));
        try (PointerScope s = new PointerScope()) {
            var x = Checkpoints.load(loader.resolve("last.ckpt"));
            var y = Checkpoints.load(inThread.resolve("last.ckpt"));
            assertThat(y.tensors().keySet()).containsExactlyElementsOf(x.tensors().keySet());
            for (String k : x.tensors().keySet()) {
                float[] wa = Tensors.toFloatArray(x.tensors().get(k)), wb = Tensors.toFloatArray(y.tensors().get(k));
                assertThat(wb).as(k).isEqualTo(wa);
            }
        }
    }
}
