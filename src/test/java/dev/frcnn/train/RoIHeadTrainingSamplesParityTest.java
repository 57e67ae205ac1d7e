package dev.frcnn.train;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import static dev.frcnn.testing.TensorAssert.assertAllClose;
import static dev.frcnn.testing.TensorAssert.assertExact;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * torchvision's box-head training samples against {@code tv_fpn_train_step.json}, from the stored RPN proposals and
 * gt: gt appended (exact), matched gt and labels of every proposal (exact), the sampled RoIs replayed (exact, in
 * ascending order), their labels and clamped matches (exact), their regression targets (atol 1e-5, README).
 */
class RoIHeadTrainingSamplesParityTest {
    @Test
    void samplesOfEveryImage() {
        TvFpnTrainFixture f = new TvFpnTrainFixture();
        RecordedSampler replay = f.replay("roi");
        RoIHeadTrainingSamples roi = f.roiSamples(replay);
        try (PointerScope s = new PointerScope()) {
            for (int i = 0; i < f.images; i++) {
                Tensor gt = f.g.tensor("gt_boxes_resized_" + i);
                RoIHeadTrainingSamples.ImageSamples r = roi.select(f.g.tensor("rpn_proposals_" + i), gt,
                        f.g.tensor("gt_labels_" + i));
                assertExact(r.proposalsWithGt(), f.g.floats("roi_proposals_" + i), "roi_proposals_" + i);
                assertExact(r.assignment().matchedIdxs(), f.g.longs("roi_matched_idxs_" + i), "roi_matched_idxs_" + i);
                assertExact(r.assignment().labels(), f.g.longs("roi_labels_all_" + i), "roi_labels_all_" + i);
                long[] labels = dev.frcnn.tensor.Tensors.toLongArray(r.assignment().labels());
                long pos = 0, neg = 0, between = 0;
                for (long l : labels) if (l > 0) pos++; else if (l == 0) neg++; else between++;
                assertThat(new long[]{pos, neg, between}).as("positive/negative/ignored proposals of image " + i)
                        .containsExactly(f.count("roi_counts", i, "positive"), f.count("roi_counts", i, "negative"),
                                f.count("roi_counts", i, "between"));
                assertExact(r.sample().positive(), f.g.longs("roi_sampled_pos_" + i), "roi_sampled_pos_" + i);
                assertExact(r.sample().negative(), f.g.longs("roi_sampled_neg_" + i), "roi_sampled_neg_" + i);
                assertExact(r.sampledIndices(), f.g.longs("roi_sampled_" + i), "roi_sampled_" + i);
                assertExact(r.labels(), f.g.longs("roi_sampled_labels_" + i), "roi_sampled_labels_" + i);
                assertExact(r.matchedIdxs(), f.g.longs("roi_sampled_matched_idxs_" + i), "roi_sampled_matched_idxs_" + i);
                assertAllClose(r.regressionTargets(), f.g.floats("roi_regression_targets_" + i), 1e-5, 0,
                        "roi_regression_targets_" + i);
            }
        }
        assertThat(replay.exhausted()).as("every recorded RoI sample replayed").isTrue();
    }
}
