package dev.frcnn.testing;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.model.rpn.AnchorGenerator;
import dev.frcnn.model.utils.BoxCoder;

/**
 * Settings of the torchvision FPN fixtures ({@code tv_fpn_forward.json}, {@code tv_fpn_train_step.json}) read from
 * their {@code params.model}, so that a held-out twin with other settings runs through the same tests. The training
 * fixture does not repeat the anchor settings; they are read from {@code tv_fpn_forward.json} (the same model).
 */
public final class TvFpnParams {
    private TvFpnParams() {}

    /** The fixture's {@code params.model}. */
    public static JsonNode model(Golden g) {
        JsonNode m = g.params().path("model");
        if (m.isMissingNode()) throw new IllegalStateException(g.name() + ": no params.model");
        return m;
    }

    /** A required number of {@code params.model}. */
    public static double number(Golden g, String key) {
        JsonNode v = model(g).get(key);
        if (v == null || !v.isNumber()) throw new IllegalStateException(g.name() + ": params.model." + key + " is not a number");
        return v.asDouble();
    }

    /** A required int of {@code params.model}. */
    public static int integer(Golden g, String key) {
        return (int) number(g, key);
    }

    /** A required array of numbers of {@code params.model}. */
    public static double[] numbers(Golden g, String key) {
        JsonNode v = model(g).get(key);
        if (v == null || !v.isArray()) throw new IllegalStateException(g.name() + ": params.model." + key + " is not an array");
        double[] out = new double[v.size()];
        for (int i = 0; i < out.length; i++) out[i] = v.get(i).asDouble();
        return out;
    }

    /**
     * The anchor generator of {@code tv_fpn_forward.json}'s {@code anchor_sizes} (per level) and {@code aspect_ratios}
     * (one list for every level, or one list per level).
     */
    public static AnchorGenerator anchorGenerator() {
        return anchorGenerator(Golden.load("tv_fpn_forward.json"));
    }

    /** As {@link #anchorGenerator()}, from an already loaded {@code tv_fpn_forward.json}. */
    public static AnchorGenerator anchorGenerator(Golden fwd) {
        JsonNode sizesNode = model(fwd).get("anchor_sizes");
        JsonNode ratiosNode = model(fwd).get("aspect_ratios");
        int levels = sizesNode.size();
        double[][] sizes = new double[levels][];
        double[][] ratios = new double[levels][];
        for (int l = 0; l < levels; l++) {
            JsonNode s = sizesNode.get(l);
            sizes[l] = new double[s.size()];
            for (int i = 0; i < s.size(); i++) sizes[l][i] = s.get(i).asDouble();
            JsonNode r = ratiosNode.get(0).isArray() ? ratiosNode.get(l) : ratiosNode;
            ratios[l] = new double[r.size()];
            for (int i = 0; i < r.size(); i++) ratios[l][i] = r.get(i).asDouble();
        }
        return new AnchorGenerator(sizes, ratios);
    }

    /** The RPN's box coder: {@code rpn_box_coder_weights} and torchvision's clamp ({@code bbox_xform_clip} if given). */
    public static BoxCoder rpnBoxCoder(Golden g) {
        return new BoxCoder(numbers(g, "rpn_box_coder_weights"), clip(g));
    }

    /** The box head's coder: {@code box_coder_weights} and the clamp. */
    public static BoxCoder boxHeadCoder(Golden g) {
        return new BoxCoder(numbers(g, "box_coder_weights"), clip(g));
    }

    private static double clip(Golden g) {
        JsonNode v = model(g).get("bbox_xform_clip");
        return v != null && v.isNumber() ? v.asDouble() : BoxCoder.DEFAULT_BBOX_XFORM_CLIP;
    }
}
