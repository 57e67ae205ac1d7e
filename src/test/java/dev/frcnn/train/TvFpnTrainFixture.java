package dev.frcnn.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.testing.FpnGridSizes;
import dev.frcnn.testing.Golden;
import dev.frcnn.testing.TvFpnParams;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;

import java.util.List;

/**
 * {@code tv_fpn_train_step.json} and the torchvision training pieces built from its {@code params.model}: the RPN and
 * RoI matchers, samplers replaying the recorded choices, the box coders, the anchors of the padded batch.
 */
final class TvFpnTrainFixture {
    static final String FILE = "tv_fpn_train_step.json";

    final Golden g = Golden.load(FILE);
    final int images;

    TvFpnTrainFixture() {
        images = (int) g.longs("image_sizes").length / 2;
    }

    boolean bool(String key) {
        JsonNode v = TvFpnParams.model(g).get(key);
        if (v == null || !v.isBoolean()) throw new IllegalStateException(FILE + ": params.model." + key + " is not a boolean");
        return v.asBoolean();
    }

    double beta() {
        return TvFpnParams.number(g, "smooth_l1_beta");
    }

    Matcher rpnMatcher() {
        return new Matcher(TvFpnParams.number(g, "rpn_fg_iou_thresh"), TvFpnParams.number(g, "rpn_bg_iou_thresh"),
                bool("rpn_allow_low_quality_matches"));
    }

    Matcher roiMatcher() {
        return new Matcher(TvFpnParams.number(g, "box_fg_iou_thresh"), TvFpnParams.number(g, "box_bg_iou_thresh"),
                bool("box_allow_low_quality_matches"));
    }

    RpnTargets rpnTargets() {
        return new RpnTargets(rpnMatcher(), TvFpnParams.rpnBoxCoder(g));
    }

    /** The RPN sampler replaying {@code rpn_sampled_pos_<i>}, {@code rpn_sampled_neg_<i>} for every image in turn. */
    BalancedPositiveNegativeSampler rpnSampler(RecordedSampler replay) {
        return new BalancedPositiveNegativeSampler(TvFpnParams.integer(g, "rpn_batch_size_per_image"),
                TvFpnParams.number(g, "rpn_positive_fraction"), replay);
    }

    BalancedPositiveNegativeSampler roiSampler(RecordedSampler replay) {
        return new BalancedPositiveNegativeSampler(TvFpnParams.integer(g, "box_batch_size_per_image"),
                TvFpnParams.number(g, "box_positive_fraction"), replay);
    }

    /** A sampler replaying {@code <prefix>_sampled_pos_<i>} then {@code _neg_<i>} for each image. */
    RecordedSampler replay(String prefix) {
        List<long[]> choices = new java.util.ArrayList<>();
        for (int i = 0; i < images; i++) {
            choices.add(g.longs(prefix + "_sampled_pos_" + i));
            choices.add(g.longs(prefix + "_sampled_neg_" + i));
        }
        return new RecordedSampler(prefix + " sampler", choices);
    }

    RoIHeadTrainingSamples roiSamples(RecordedSampler replay) {
        return new RoIHeadTrainingSamples(roiMatcher(), roiSampler(replay), TvFpnParams.boxHeadCoder(g));
    }

    /** The anchors of the padded batch (the same for every image). */
    Tensor anchors() {
        long[] batched = g.longs("batched_shape");
        return TvFpnParams.anchorGenerator().anchors(batched[2], batched[3], FpnGridSizes.of(batched[2], batched[3]),
                new Device("cpu"));
    }

    /** {@code params.<group>[i].<key>} as a long, e.g. {@code rpn_counts[0].positive}. */
    long count(String group, int i, String key) {
        JsonNode v = g.params().path(group).path(i).get(key);
        if (v == null || !v.isNumber()) throw new IllegalStateException(FILE + ": params." + group + "[" + i + "]." + key);
        return v.asLong();
    }
}
