package dev.frcnn.train;

import dev.frcnn.testing.CheckpointAssert;
import dev.frcnn.assembly.LoadedModel;
import dev.frcnn.config.Config;
import dev.frcnn.data.SyntheticVoc;
import dev.frcnn.io.Checkpoints;
import dev.frcnn.io.PthReader;
import dev.frcnn.model.TorchvisionFasterRCNN;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.TinyModels;
import dev.frcnn.testing.TvFpnModels;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.DeviceType;
import org.junit.jupiter.api.BeforeAll;
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
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * torchvision's Faster R-CNN ResNet-50 FPN through the training loop ({@code backbone: resnet50_fpn},
 * docs/torchvision.md, "Fine-tuning"): fine-tuned from a torchvision-layout {@code .pth} of the fixture's formula
 * weights (91 classes) to the 4 synthetic shapes at batch 2 over images of different sizes, with the lr decay's
 * reload of {@code best.ckpt}. The run logs torchvision's four losses, keeps {@code conv1} and {@code layer1} as the
 * file had them (torchvision's 3 trainable layers) while training the rest, replaces the box predictor (5 classes),
 * writes checkpoints that {@link LoadedModel} loads as this family, and a run stopped mid-epoch and resumed ends with
 * exactly the weights of an uninterrupted one.
 */
class TorchvisionTrainLoopTest {
    private static final int IMAGES = 3, EPOCHS = 2, STEPS = 2;

    @TempDir
    static Path dir;
    private static Path data;
    private static Path pth;

    @BeforeAll
    static void writeDataAndWeights() throws IOException {
        data = new SyntheticVoc(11, 96, 128).write(dir.resolve("data"), IMAGES, 2);
        pth = TvFpnModels.writeFormulaPth(dir.resolve("fasterrcnn_resnet50_fpn.pth"));
    }

    private static Config config() {
        return Config.defaults().withOverrides(List.of("backbone=resnet50_fpn", "min_size=96", "max_size=128",
                "epoch=" + EPOCHS, "lr_decay_epoch=0", "lr=0.005", "batch_size=2", "checkpoint_every=100",
                "num_workers=0", "seed=5", "load_path=" + pth, TinyModels.SHAPE_CLASSES));
    }

    private static final class StopAt extends HookBase {
        final StopRequest stop;
        final long step;

        StopAt(StopRequest stop, long step) {
            this.stop = stop;
            this.step = step;
        }

        @Override
        void afterStep(TrainState s) {
            if (s.globalStep() == step) stop.request(new StopRequest.Reason("test", 99));
        }
    }

    private static String train(Path out, boolean resume, long stopAt) throws IOException {
        StopRequest stop = new StopRequest();
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        TrainLoop loop = new TrainLoop(config(), new TrainLoop.Options(data, out, resume, false, "train", "test",
                new Device(DeviceType.CPU), new PrintStream(log, true, StandardCharsets.UTF_8), false, stop));
        if (stopAt < 0) {
            loop.run(List.of()).model().close();
        } else {
            assertThatThrownBy(() -> loop.run(List.of(new StopAt(stop, stopAt))))
                    .isInstanceOf(TrainingStoppedException.class);
        }
        return log.toString(StandardCharsets.UTF_8);
    }

    @Test
    void fineTunesFromATorchvisionPthAndResumesToTheSameWeights() throws IOException {
        Path full = dir.resolve("full");
        String log = train(full, false, -1);
        assertThat(log).contains("without its box predictor (another class count)");

        List<String> rows = Files.readAllLines(full.resolve("losses.csv"));
        assertThat(rows.get(0)).isEqualTo(
                "step,epoch,iteration,loss_classifier,loss_box_reg,loss_objectness,loss_rpn_box_reg,total_loss,lr");
        assertThat(rows).hasSize(1 + EPOCHS * STEPS);
        for (String row : rows.subList(1, rows.size())) {
            String[] c = row.split(",");
            double sum = 0;
            for (int k = 3; k < 7; k++) {
                assertThat(Double.parseDouble(c[k])).as(row).isFinite().isGreaterThanOrEqualTo(0);
                sum += Double.parseDouble(c[k]);
            }
            assertThat(Double.parseDouble(c[7])).as("total of " + row).isCloseTo(sum, org.assertj.core.data.Offset.offset(1e-5 * Math.max(1, sum)));
        }
        // the decay at the end of epoch 1 (lr_decay_epoch 0) scales every group's lr by 0.1 (one lr for all groups)
        assertThat(Double.parseDouble(rows.get(1).split(",")[8])).isEqualTo(0.005);
        assertThat(Double.parseDouble(rows.get(rows.size() - 1).split(",")[8])).isCloseTo(0.0005,
                org.assertj.core.data.Offset.offset(1e-12));

        try (PointerScope s = new PointerScope()) {
            Map<String, Tensor> file = PthReader.readStateDict(pth);
            var last = Checkpoints.load(full.resolve("last.ckpt"));
            Map<String, Tensor> trained = last.tensors();
            // every torchvision key, the predictor's for 4 shapes + background
            assertThat(trained.keySet()).containsExactlyInAnyOrderElementsOf(file.keySet().stream()
                    .filter(k -> !k.endsWith("num_batches_tracked")).toList());
            assertThat(Tensors.shape(trained.get("roi_heads.box_predictor.cls_score.weight"))).containsExactly(5, 1024);
            assertThat(Tensors.shape(trained.get("roi_heads.box_predictor.bbox_pred.weight"))).containsExactly(20, 1024);
            // torchvision's trainable_backbone_layers = 3: conv1 and layer1 keep the file's values, layer2-4 train
            for (String k : List.of("backbone.body.conv1.weight", "backbone.body.layer1.0.conv1.weight",
                    "backbone.body.layer1.2.conv3.weight", "backbone.body.bn1.running_var")) {
                assertThat(Tensors.toFloatArray(trained.get(k))).as(k).isEqualTo(Tensors.toFloatArray(file.get(k)));
            }
            for (String k : List.of("backbone.body.layer2.0.conv1.weight", "backbone.body.layer4.2.conv3.weight",
                    "backbone.fpn.inner_blocks.0.0.weight", "rpn.head.conv.0.0.weight", "roi_heads.box_head.fc6.weight")) {
                assertThat(Tensors.toFloatArray(trained.get(k))).as(k + " trains")
                        .isNotEqualTo(Tensors.toFloatArray(file.get(k)));
            }
            file.values().forEach(Tensor::close);
        }

        // best.ckpt loads as this family, with the run's classes and sizes
        LoadedModel m = LoadedModel.load(full.resolve("best.ckpt"), Config.defaults(), List.of(),
                new Device(DeviceType.CPU));
        try {
            assertThat(m.model()).isInstanceOf(TorchvisionFasterRCNN.class);
            assertThat(m.model().classNames()).isEqualTo(SyntheticVoc.CLASS_NAMES);
            assertThat(((TorchvisionFasterRCNN) m.model()).transform().minSize()).isEqualTo(96);
        } finally {
            m.model().close();
        }

        Path stopped = dir.resolve("stopped");
        train(stopped, false, 1);
        assertThat(Checkpoints.load(stopped.resolve("last.ckpt")).meta().path("iteration").asInt()).isEqualTo(1);
        train(stopped, true, -1);
        assertThat(Checkpoints.load(stopped.resolve("last.ckpt")).meta().path("global_step").asLong())
                .isEqualTo(EPOCHS * STEPS);
        CheckpointAssert.assertSameTensors(full.resolve("last.ckpt"), stopped.resolve("last.ckpt"),
                "the resumed run against the uninterrupted one");
    }

    @Test
    void theV2VariantIsRefusedBeforeAnythingIsRead() {
        Config v2 = config().withOverrides(List.of("backbone=resnet50_fpn_v2"));
        assertThatThrownBy(() -> new TrainLoop(v2, new TrainLoop.Options(data, dir.resolve("v2"), false, "train", "test",
                new Device(DeviceType.CPU), new PrintStream(new ByteArrayOutputStream()), false)))
                .isInstanceOf(dev.frcnn.error.UserInputException.class)
                .hasMessageContaining("resnet50_fpn_v2").hasMessageContaining("train resnet50_fpn instead");
        assertThat(dir.resolve("v2")).doesNotExist();
    }
}
