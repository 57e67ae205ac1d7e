package dev.frcnn.train;

import dev.frcnn.config.Config;
import org.bytedeco.pytorch.Device;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Real photographs, real pretrained features: {@code configs/raccoon-squeezenet.json} trained from the ImageNet
 * SqueezeNet 1.1 weights of {@code ../shared/weights} on the first 64 images of the raccoon trainval split for
 * 3 epochs (192 steps, a few minutes on 2 cores), evaluated on the whole 40-image test split. The files are read
 * from {@code ../shared} and never copied; when they are missing the test fails, it does not skip.
 *
 * <p>Floor: VOC07 mAP of at least {@value #MAP_FLOOR}. An untrained RPN and head find nothing (mAP near 0); the
 * reference (the same recipe in PyTorch) is at 0.649 after its first 160-step epoch and at 0.89 after 12 epochs,
 * and this project's two full runs are in {@code docs/real-data.md}. 0.4 is far above chance and leaves room for
 * the 0.1 that one epoch can move the mAP of a 40-image test set. The loss: the mean total loss of the last 32
 * steps is below 80% of that of the first 32.
 */
@Tag("slow")
class RaccoonSqueezeNetTrainingTest {
    static final double MAP_FLOOR = 0.4;
    private static final Path DATA = Path.of("../shared/data/raccoon");
    private static final Path WEIGHTS = Path.of("../shared/weights/squeezenet1_1-caffe.pth");

    @TempDir Path tmp;

    @Test
    void trainsFromImageNetFeaturesAndFindsRaccoons() throws IOException {
        assertThat(DATA.resolve("ImageSets/Main/trainval.txt")).as("the raccoon dataset (see ../shared/data/README.md)").isRegularFile();
        assertThat(DATA.resolve("ImageSets/Main/test.txt")).isRegularFile();
        assertThat(WEIGHTS).as("the SqueezeNet 1.1 weights (see ../shared/weights/README.md)").isRegularFile();

        Path data = tmp.resolve("raccoon-subset");
        Files.createDirectories(data.resolve("ImageSets/Main"));
        Files.createSymbolicLink(data.resolve("Annotations"), DATA.resolve("Annotations").toAbsolutePath());
        Files.createSymbolicLink(data.resolve("JPEGImages"), DATA.resolve("JPEGImages").toAbsolutePath());
        List<String> trainval = Files.readAllLines(DATA.resolve("ImageSets/Main/trainval.txt")).stream()
                .filter(s -> !s.isBlank()).limit(64).toList();
        assertThat(trainval).hasSize(64);
        Files.write(data.resolve("ImageSets/Main/trainval.txt"), trainval);
        Files.copy(DATA.resolve("ImageSets/Main/test.txt"), data.resolve("ImageSets/Main/test.txt"));

        Config cfg = Config.load(Path.of("configs/raccoon-squeezenet.json")).withOverrides(List.of(
                "load_path=" + WEIGHTS, "epoch=3", "checkpoint_every=100000"));
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        Path out = tmp.resolve("run");
        TrainLoop.Result r = new TrainLoop(cfg, new TrainLoop.Options(data, out, false, "trainval", "test",
                new Device("cpu"), new PrintStream(log, true, StandardCharsets.UTF_8), false)).run();

        List<Double> total = new ArrayList<>();
        List<String> lines = Files.readAllLines(out.resolve("losses.csv"));
        int col = List.of(lines.get(0).split(",")).indexOf("total_loss");
        assertThat(col).as("total_loss column in " + lines.get(0)).isPositive();
        for (String line : lines.subList(1, lines.size())) total.add(Double.parseDouble(line.split(",")[col]));
        assertThat(total).hasSize(3 * 64);
        double first = total.subList(0, 32).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        double last = total.subList(total.size() - 32, total.size()).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        assertThat(last).as("mean total loss of the last 32 steps vs the first 32 (" + first + ")\n" + log).isLessThan(0.8 * first);
        assertThat(r.bestMap()).as("best test mAP\n" + log).isGreaterThanOrEqualTo(MAP_FLOOR);
    }
}
