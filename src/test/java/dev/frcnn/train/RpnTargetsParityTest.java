package dev.frcnn.train;

import dev.frcnn.model.utils.BoxOps;
import dev.frcnn.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import static dev.frcnn.testing.TensorAssert.assertAllClose;
import static dev.frcnn.testing.TensorAssert.assertExact;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * torchvision's RPN training targets against {@code tv_fpn_train_step.json}: the matched gt of every anchor of the
 * padded batch (exact, low-quality ties included), the label counts, the sampled anchors replayed through
 * {@link BalancedPositiveNegativeSampler} (exact), and the regression targets of the sampled positives (atol 1e-5,
 * README).
 */
class RpnTargetsParityTest {
    @Test
    void matchesLabelsSamplesAndTargetsOfEveryImage() {
        TvFpnTrainFixture f = new TvFpnTrainFixture();
        RecordedSampler replay = f.replay("rpn");
        BalancedPositiveNegativeSampler sampler = f.rpnSampler(replay);
        double fg = f.rpnMatcher().highThreshold();
        try (PointerScope s = new PointerScope()) {
            Tensor anchors = f.anchors();
            for (int i = 0; i < f.images; i++) {
                Tensor gt = f.g.tensor("gt_boxes_resized_" + i);
                RpnTargets.ImageTargets t = f.rpnTargets().assign(anchors, gt);
                assertExact(t.matchedIdxs(), f.g.longs("rpn_matched_idxs_" + i), "rpn_matched_idxs_" + i);

                long[] labels = Tensors.toLongArray(t.labels());
                long pos = 0, neg = 0, between = 0;
                for (long l : labels) if (l == 1) pos++; else if (l == 0) neg++; else if (l == -1) between++;
                assertThat(new long[]{pos, neg, between}).as("positive/negative/ignored anchors of image " + i)
                        .containsExactly(f.count("rpn_counts", i, "positive"), f.count("rpn_counts", i, "negative"),
                                f.count("rpn_counts", i, "between"));

                // Positives below the high threshold come only from the low-quality rule.
                Tensor maxIou = BoxOps.boxIou(gt, anchors).max(0, false).get0();
                long lowQuality = t.matchedIdxs().ge(new Scalar(0)).logical_and(maxIou.lt(new Scalar(fg)))
                        .sum().item_long();
                assertThat(lowQuality).as("low-quality positives of image " + i)
                        .isEqualTo(f.g.params().path("rpn_low_quality_positives").path(i).asLong());

                BalancedPositiveNegativeSampler.Sample sample = sampler.sample(t.labels());
                assertExact(sample.positive(), f.g.longs("rpn_sampled_pos_" + i), "rpn_sampled_pos_" + i);
                assertExact(sample.negative(), f.g.longs("rpn_sampled_neg_" + i), "rpn_sampled_neg_" + i);

                Tensor targets = t.regressionTargets().index_select(0, sample.positive());
                assertAllClose(targets, f.g.floats("rpn_pos_regression_targets_" + i), 1e-5, 0,
                        "rpn_pos_regression_targets_" + i);
            }
        }
        assertThat(replay.exhausted()).as("every recorded RPN sample replayed").isTrue();
    }
}
