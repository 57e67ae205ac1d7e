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
}
