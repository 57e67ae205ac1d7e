package dev.frcnn.model.utils;

import com.fasterxml.jackson.databind.JsonNode;
import dev.frcnn.testing.Golden;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import static dev.frcnn.testing.TensorAssert.assertExact;
import static dev.frcnn.testing.TensorAssert.assertShape;

/** Parity of {@link BboxTools#generateAnchorBase} and {@link BboxTools#enumerateShiftedAnchor} with anchors.json. */
class AnchorsParityTest {
    private static final String FILE = "anchors.json";

    static double[] doubles(JsonNode arr) {
        double[] out = new double[arr.size()];
        for (int i = 0; i < out.length; i++) out[i] = arr.get(i).asDouble();
        return out;
    }

    private static void check(Golden g, JsonNode p, String prefix) {
        Tensor base = BboxTools.generateAnchorBase(p.get("base_size").asDouble(), doubles(p.get("ratios")),
                doubles(p.get("anchor_scales")));
        assertShape(base, g.shape(prefix + "anchor_base"), prefix + "anchor_base");
        assertExact(base, g.floats(prefix + "anchor_base"), prefix + "anchor_base");
        Tensor anchors = BboxTools.enumerateShiftedAnchor(base, p.get("feat_stride").asInt(),
                p.get("feat_height").asInt(), p.get("feat_width").asInt());
        assertShape(anchors, g.shape(prefix + "anchors"), prefix + "anchors");
        assertExact(anchors, g.floats(prefix + "anchors"), prefix + "anchors");
    }

    @Test
    void defaultAnchorsMatch() {
        Golden g = Golden.load(FILE);
        try (PointerScope s = new PointerScope()) {
            check(g, g.params(), "");
        }
    }

    @Test
    void altAnchorsMatch() {
        Golden g = Golden.load(FILE);
        try (PointerScope s = new PointerScope()) {
            check(g, g.params().get("alt"), "alt_");
        }
    }

    @Test
    void shiftedAnchorsFromStoredBaseMatch() {
        Golden g = Golden.load(FILE);
        JsonNode p = g.params();
        try (PointerScope s = new PointerScope()) {
            Tensor anchors = BboxTools.enumerateShiftedAnchor(g.tensor("anchor_base"), p.get("feat_stride").asInt(),
                    p.get("feat_height").asInt(), p.get("feat_width").asInt());
            assertExact(anchors, g.floats("anchors"), "anchors");
        }
    }
}
