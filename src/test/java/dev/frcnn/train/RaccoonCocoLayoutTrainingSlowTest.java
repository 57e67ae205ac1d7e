package dev.frcnn.train;

import dev.frcnn.config.Config;
import dev.frcnn.testing.RaccoonData;
import dev.frcnn.testing.TinyModels;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link RaccoonCocoLayoutTrainingTest}'s comparison on a longer run: the first 64 raccoon training images and the
 * whole 40-image test split, 2 epochs of the tiny detector, evaluated and chosen by COCO's AP@[.5:.95]
 * ({@code eval_metric: coco}): the VOC layout and its COCO conversion give the same losses, the same per-epoch APs and
 * the same best checkpoint, bit for bit. Slow profile (625 s on 2 busy cores).
 */
@Tag("slow")
class RaccoonCocoLayoutTrainingSlowTest {
    @TempDir
    Path tmp;

    @Test
    void aLongerRunTrainsBitForBitUnderTheCocoMetric() throws IOException {
        Config cfg = TinyModels.config(TinyModels.Size.SMALL,
                TinyModels.classNames(RaccoonData.CLASSES), "epoch=2", "checkpoint_every=100000", "eval_metric=coco");
        RaccoonCocoLayoutTrainingTest.Runs r = RaccoonCocoLayoutTrainingTest.trainBoth(tmp, cfg, 64, 0);
        assertThat(r.vocLosses()).hasSize(1 + 2 * 64);
        assertThat(r.vocMetrics()).hasSize(1 + 2);
        assertThat(r.vocMetrics().get(0)).isEqualTo("epoch,coco_ap,lr");
    }
}
