package dev.frcnn.testing;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.model.GeneralizedRCNNTransform;
import org.bytedeco.pytorch.Module;
import org.bytedeco.pytorch.StringTensorDict;
import org.bytedeco.pytorch.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads {@code tv_fpn_forward.json} (README, "torchvision Faster R-CNN ResNet-50 FPN"): the input image, the
 * transform's settings from {@code params.model}, and the formula weights' targets of a module. Every setting comes
 * from the fixture, so the same tests run on the held-out twin.
 */
public final class TvFpnFixture {
    /** The forward fixture's file name. */
    public static final String FORWARD = "tv_fpn_forward.json";
    /** The key layout fixture's file name. */
    public static final String KEYS = "tv_fpn_keys.json";

    private TvFpnFixture() {}

    /** The forward fixture (cached per JVM by {@link Golden}). */
    public static Golden forward() { return Golden.load(FORWARD); }

    /** {@code params.model}. */
    public static JsonNode model(Golden g) { return g.params().path("model"); }

    /** The input image as torchvision's {@code to_tensor} gives it: (3, H, W) float32 in [0, 1]. */
    public static Tensor image(Golden g) {
        return GeneralizedRCNNTransform.toTensor(g.tensor("input_image_rgb_hwc"));
    }

    /** The transform with the fixture's min/max size, mean, std and size divisor. */
    public static GeneralizedRCNNTransform transform(Golden g) {
        JsonNode m = model(g);
        return new GeneralizedRCNNTransform(m.get("min_size").asInt(), m.get("max_size").asInt(),
                doubles(m.get("image_mean")), doubles(m.get("image_std")), m.get("size_divisible").asInt());
    }

    /** A JSON array of numbers as doubles. */
    public static double[] doubles(JsonNode arr) {
        double[] out = new double[arr.size()];
        for (int i = 0; i < out.length; i++) out[i] = arr.get(i).asDouble();
        return out;
    }

    /**
     * Every parameter and buffer of {@code m} under its state_dict key with {@code prefix} in front (owning handles:
     * the dict's entries die with the dict).
     */
    public static Map<String, Tensor> targets(Module m, String prefix) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        StringTensorDict p = m.named_parameters(true);
        for (long i = 0; i < p.size(); i++) out.put(prefix + p.get(i).key().getString(), new Tensor(p.get(i).value()));
        StringTensorDict b = m.named_buffers(true);
        for (long i = 0; i < b.size(); i++) out.put(prefix + b.get(i).key().getString(), new Tensor(b.get(i).value()));
        return out;
    }

    /**
     * The README's end-to-end rule for detections: the same number, and every reference detection has its own
     * detection of the same label with every box coordinate within {@code boxAtol} pixels and the score within
     * {@code scoreAtol} (order free: near-equal scores may swap).
     *
     * @param boxes (D, 4) float32 boxes (x1, y1, x2, y2)
     * @param scores (D,) float32 scores
     * @param labels (D,) int64 labels
     * @param wantBoxes the reference boxes, flat
     * @param wantScores the reference scores
     * @param wantLabels the reference labels
     */
    public static void assertDetectionsMatch(Tensor boxes, Tensor scores, Tensor labels, float[] wantBoxes,
                                             float[] wantScores, long[] wantLabels, double boxAtol, double scoreAtol) {
        float[] b = dev.frcnn.tensor.Tensors.toFloatArray(boxes);
        float[] s = dev.frcnn.tensor.Tensors.toFloatArray(scores);
        long[] l = dev.frcnn.tensor.Tensors.toLongArray(labels);
        org.assertj.core.api.Assertions.assertThat(l.length).as("detections").isEqualTo(wantLabels.length);
        boolean[] used = new boolean[l.length];
        for (int j = 0; j < wantLabels.length; j++) {
            int found = -1;
            for (int i = 0; i < l.length && found < 0; i++) {
                if (used[i] || l[i] != wantLabels[j] || Math.abs(s[i] - wantScores[j]) > scoreAtol) continue;
                boolean close = true;
                for (int c = 0; c < 4; c++) close &= Math.abs(b[4 * i + c] - wantBoxes[4 * j + c]) <= boxAtol;
                if (close) found = i;
            }
            org.assertj.core.api.Assertions.assertThat(found)
                    .as("reference detection %d (label %d, score %s) has no match", j, wantLabels[j], wantScores[j])
                    .isGreaterThanOrEqualTo(0);
            used[found] = true;
        }
    }
}
