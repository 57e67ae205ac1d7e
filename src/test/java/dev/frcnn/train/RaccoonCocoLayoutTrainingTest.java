package dev.frcnn.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.frcnn.assembly.Checkpoint;
import dev.frcnn.config.Config;
import dev.frcnn.data.DatasetLayouts;
import dev.frcnn.testing.RaccoonData;
import dev.frcnn.testing.TinyModels;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The raccoon data converted to COCO JSON ({@code DatasetConverter}, what {@code bin/frcnn convert} runs) trains
 * exactly as its VOC layout: same seed, same image order, same targets, so the per-epoch losses, the mAPs, the best
 * checkpoint's weights are the same bit for bit. A short run of the tests' tiny detector on a subset (2 training and 2
 * test images, 2 epochs); {@link RaccoonCocoLayoutTrainingSlowTest} runs the whole splits under COCO's metric.
 */
class RaccoonCocoLayoutTrainingTest {
    @TempDir
    Path tmp;

    @Test
    void cocoLayoutTrainsBitForBitAsTheVocLayout() throws IOException {
        Config cfg = TinyModels.config(TinyModels.Size.SMALL,
                TinyModels.classNames(RaccoonData.CLASSES), "epoch=2", "checkpoint_every=100000");
        Runs r = trainBoth(tmp, cfg, 2, 2);
        assertThat(r.vocLosses()).hasSize(1 + 2 * 2);
        assertThat(r.vocMetrics()).hasSize(1 + 2);
        assertThat(r.vocMetrics().get(0)).isEqualTo("epoch,map,lr");
    }

    /** The two runs' files (each line of losses.csv and metrics.csv). */
    record Runs(List<String> vocLosses, List<String> vocMetrics) {}

    /**
     * Trains {@code cfg} on the first {@code trainval} and {@code test} raccoon images, once from the VOC layout and
     * once from its COCO conversion, and asserts that the runs are the same: {@code losses.csv} and
     * {@code metrics.csv} line for line, the best metric and epoch, and every tensor of {@code best.ckpt}; the COCO
     * run's checkpoint names the category (id 1, {@code raccoon}).
     */
    static Runs trainBoth(Path tmp, Config cfg, int trainval, int test) throws IOException {
        Path voc = RaccoonData.vocSubset(tmp.resolve("voc"), trainval, test);
        Path coco = RaccoonData.toCoco(voc, tmp.resolve("coco"), "trainval", "test");
        assertThat(DatasetLayouts.detect(voc, "trainval")).isEqualTo(DatasetLayouts.Format.VOC);
        assertThat(DatasetLayouts.detect(coco, "trainval")).isEqualTo(DatasetLayouts.Format.COCO);
        assertThat(DatasetLayouts.detect(coco, "test")).isEqualTo(DatasetLayouts.Format.COCO);

        ByteArrayOutputStream log = new ByteArrayOutputStream();
        PrintStream ps = new PrintStream(log, true, StandardCharsets.UTF_8);
        Path vocRun = tmp.resolve("run-voc"), cocoRun = tmp.resolve("run-coco");
        TrainLoop.Result a = new TrainLoop(cfg, new TrainLoop.Options(voc, vocRun, false, "trainval", "test",
                new Device("cpu"), ps, false)).run();
        TrainLoop.Result b = new TrainLoop(cfg, new TrainLoop.Options(coco, cocoRun, false, "trainval", "test",
                new Device("cpu"), ps, false)).run();
        a.model().close();
        b.model().close();

        List<String> lossesA = Files.readAllLines(vocRun.resolve("losses.csv"));
        List<String> metricsA = Files.readAllLines(vocRun.resolve("metrics.csv"));
        assertThat(Files.readAllLines(cocoRun.resolve("losses.csv"))).as(log.toString()).isEqualTo(lossesA);
        assertThat(Files.readAllLines(cocoRun.resolve("metrics.csv"))).isEqualTo(metricsA);
        assertThat(b.bestMap()).isEqualTo(a.bestMap());
        assertThat(b.bestEpoch()).isEqualTo(a.bestEpoch());
        // the losses are real numbers, not a run that did nothing
        assertThat(lossesA.get(1).split(",")[7]).isNotEqualTo("0.0");

        Checkpoint ca = Checkpoint.load(vocRun.resolve(RunDirectory.BEST));
        Checkpoint cb = Checkpoint.load(cocoRun.resolve(RunDirectory.BEST));
        try (PointerScope s = new PointerScope()) {
            assertThat(cb.tensors().keySet()).containsExactlyElementsOf(ca.tensors().keySet());
            for (Map.Entry<String, Tensor> e : ca.tensors().entrySet()) {
                assertThat(e.getValue().equal(cb.tensors().get(e.getKey()))).as(e.getKey()).isTrue();
            }
        }
        assertThat(new ObjectMapper().readTree(cb.meta().categories().toJson()))
                .isEqualTo(new ObjectMapper().readTree("[{\"id\": 1, \"name\": \"raccoon\"}]"));
        assertThat(cb.meta().categories()).isEqualTo(ca.meta().categories());
        return new Runs(lossesA, metricsA);
    }
}
