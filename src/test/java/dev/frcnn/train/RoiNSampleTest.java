package dev.frcnn.train;

import dev.frcnn.assembly.Detectors;
import dev.frcnn.config.Config;
import dev.frcnn.model.FasterRCNN;
import dev.frcnn.tensor.Tensors;
import dev.frcnn.testing.TinyModels;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code roi_n_sample} sets how many RoIs the trainer samples per image for the head ({@code ProposalTargetCreator}'s
 * {@code n_sample}): with thousands of proposals and few objects the sample is full, so it has exactly that many
 * rows, of which at most {@code round(0.25 n)} are positives; the default is the reference's 128.
 */
class RoiNSampleTest {

    private static long[] sampled(Config cfg, int roiNSample) {
        try (PointerScope s = new PointerScope()) {
            torch.manual_seed(3);
            FasterRCNN model = Detectors.create(cfg, List.of("a", "b"));
            model.train(true);
            FasterRCNNTrainer trainer = new FasterRCNNTrainer(model, cfg.rpnSigma(), cfg.roiSigma(), cfg.lr(),
                    cfg.weightDecay(), false, Sampler.seeded(5), roiNSample);
            Tensor img = torch.randn(1, 3, 192, 256);
            Tensor bbox = Tensors.fromFloats(new float[]{20f, 30f, 90f, 120f, 100f, 140f, 180f, 250f}, 1, 2, 4);
            Tensor label = Tensors.fromLongs(new long[]{0, 1}, 1, 2);
            FasterRCNNTrainer.Trace t = trainer.trace(img, bbox, label, 1.0);
            Tensor gtLabel = t.roiTargets().gtRoiLabel();
            long positives = gtLabel.gt(new org.bytedeco.pytorch.Scalar(0L)).sum().item_long();
            assertThat(t.head().roiScores().size(0)).as("head rows").isEqualTo(gtLabel.size(0));
            return new long[]{gtLabel.size(0), positives};
        }
    }

    @Test
    void theTrainerSamplesRoiNSampleRois() {
        Config cfg = TinyModels.configWithDefaultAnchors(TinyModels.Size.DEMO);
        assertThat(cfg.roiNSample()).isEqualTo(128);
        long[] reference = sampled(cfg, cfg.roiNSample());
        assertThat(reference[0]).isEqualTo(128);
        assertThat(reference[1]).isBetween(1L, 32L);
        long[] few = sampled(cfg, 16);
        assertThat(few[0]).isEqualTo(16);
        assertThat(few[1]).isBetween(1L, 4L);
    }

    @Test
    void aNonPositiveCountIsRefused() {
        Config cfg = TinyModels.config();
        assertThatThrownBy(() -> new FasterRCNNTrainer(Detectors.create(cfg, List.of("a")), 3, 1, 1e-3, 5e-4, false,
                Sampler.seeded(1), 0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("nSample must be > 0");
    }
}
